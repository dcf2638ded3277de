// One parsed and validated document per distinct subscription text. graphql-ws
// parses and validates every subscribe message on its own, so N clients sending
// the same subscription kept N copies of one DocumentNode alive for as long as
// they stayed subscribed: ~7 KB each with its tokens and locations, the largest
// part of an idle connection's heap. Documents are never mutated by execution,
// so one copy can serve every subscription that sent the same text.
// Every operation first passes the operation limits (operation-limits.ts), as over HTTP.
import { GraphQLError, validate, type DocumentNode, type GraphQLSchema } from 'graphql';
import { operationError, parseWithinLimits, type OperationLimits, type OperationRequest } from './operation-limits.js';

/** Enough for every distinct subscription a deployment's clients send; a text past it is parsed again, as before. */
const MAX_DOCUMENTS = 500;
/** Longer texts are not kept: a few of them could hold more memory than the sharing saves. */
const MAX_CACHED_LENGTH = 16 * 1024;

/**
 * Returns the document for `query`, or why it cannot run: the limit it goes over, its
 * syntax error or its validation errors. graphql-ws's own parse throws on a syntax
 * error, which closes the whole socket (4500) and ends every other subscription on it;
 * returned, the error goes to that subscription alone. Only valid documents are kept,
 * so a refused text holds nothing; the limits are checked on every request, since an
 * operation's cost depends on its variables.
 */
export function subscriptionDocuments(schema: GraphQLSchema, limits: OperationLimits, max = MAX_DOCUMENTS) {
  const cache = new Map<string, DocumentNode>();
  return (query: string, request: OperationRequest = {}): DocumentNode | readonly GraphQLError[] => {
    const hit = cache.get(query);
    if (hit) {
      // Most recently used last, so the oldest unused text is the one evicted.
      cache.delete(query);
      cache.set(query, hit);
      const exceeded = operationError(schema, hit, request, limits);
      return exceeded ? [exceeded] : hit;
    }
    let document: DocumentNode | GraphQLError;
    try {
      document = parseWithinLimits(schema, query, request, limits);
    } catch (err) {
      if (err instanceof GraphQLError) return [err];
      throw err;
    }
    if (document instanceof GraphQLError) return [document];
    const errors = validate(schema, document);
    if (errors.length > 0) return errors;
    if (query.length <= MAX_CACHED_LENGTH) {
      cache.set(query, document);
      if (cache.size > max) cache.delete(cache.keys().next().value!);
    }
    return document;
  };
}
