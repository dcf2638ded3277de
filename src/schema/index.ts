// Assembles the schema: shared types, then one module per model from the registry.
import { isAbstractType, lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { MODELS } from '../models/registry.js';
import { builder } from './builder.js';
import './scalars.js';
import './errors.js';
import './job-interface.js';
import './jobs.js';
import './webhooks.js';
import './usage.js';
import './api-keys.js';
import './spend.js';
import './upstream-credits.js';
import { defineModelSchema } from './model-types.js';
import { defineRerunSchema } from './reruns.js';

defineRerunSchema(MODELS.map((spec) => defineModelSchema(spec)));

export const schema: GraphQLSchema = builder.toSchema();

/** The SDL checked in as schema.graphql. */
export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}

/**
 * Apollo Client's `possibleTypes` (every interface and union with the object types
 * that implement it), checked in as possible-types.json: without it the client
 * cannot match `... on SwapJob` fragments against the concrete job types.
 */
export function printedPossibleTypes(): string {
  const possibleTypes: Record<string, string[]> = {};
  for (const type of Object.values(schema.getTypeMap()).sort((a, b) => a.name.localeCompare(b.name))) {
    if (isAbstractType(type) && !type.name.startsWith('__')) {
      possibleTypes[type.name] = schema.getPossibleTypes(type).map((t) => t.name).sort();
    }
  }
  return `${JSON.stringify(possibleTypes, null, 2)}\n`;
}
