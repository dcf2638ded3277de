// Assembles the schema: shared types, then one module per model from the registry.
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
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
import { defineModelSchema } from './model-types.js';
import { defineRerunSchema } from './reruns.js';

defineRerunSchema(MODELS.map((spec) => defineModelSchema(spec)));

export const schema: GraphQLSchema = builder.toSchema();

/** The SDL checked in as schema.graphql. */
export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
