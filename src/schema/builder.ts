// The one schema builder every schema module adds to.
import SchemaBuilder from '@pothos/core';
import ComplexityPlugin from '@pothos/plugin-complexity';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import type PrismaTypes from '../generated/pothos-types.js';
import { getDatamodel } from '../generated/pothos-types.js';
import type { Context } from '../resolvers/context.js';
import { DEFAULT_PAGE_SIZE } from '../resolvers/page-size.js';
import { decodeJobId } from '../models/job-ids.js';
import { decodeWebhookNodeId } from './webhook-ids.js';

/** What a list without paging counts as in an operation's cost. */
export const UNPAGED_LIST_SIZE = 10;

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
    ID: { Input: string; Output: string };
  };
}>({
  plugins: [ComplexityPlugin, PrismaPlugin, RelayPlugin],
  defaultFieldNullability: false,
  // Each field's cost, for the operation limits (src/server/operation-limits.ts, which
  // enforces them before execution, so the plugin's own check at resolve time is off):
  // 1 per field, and what a list selects counted once per item it may hold. A
  // connection's items are its page (below); other lists are short (a job's events, a
  // key's budgets) and count as UNPAGED_LIST_SIZE.
  complexity: { defaultComplexity: 1, defaultListMultiplier: UNPAGED_LIST_SIZE, disabled: true },
  prisma: {
    client: (ctx) => ctx.db.prisma,
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    onUnusedQuery: null,
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    // node(id) answers null for ids of other keys, exactly as for unknown ones.
    nodeQueryOptions: { nullable: true },
    // Nodes are jobs and webhook endpoints: anything else is a malformed id, said so, not an internal error.
    decodeGlobalID: (raw) => decodeWebhookNodeId(raw) ?? decodeJobId(raw, 'id'),
    nodesQueryOptions: false,
    // A page holds `first` (or `last`) items, DEFAULT_PAGE_SIZE when neither is given.
    defaultConnectionFieldOptions: {
      complexity: (args) => ({ field: 1, multiplier: Math.max(0, args.first ?? args.last ?? DEFAULT_PAGE_SIZE) }),
    },
    // The connection field multiplies already: its edges list counts once.
    edgesFieldOptions: { complexity: { field: 1, multiplier: 1 } },
  },
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
