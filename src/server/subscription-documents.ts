// One parsed and validated document per distinct subscription text. graphql-ws
// parses and validates every subscribe message on its own, so N clients sending
// the same subscription kept N copies of one DocumentNode alive for as long as
// they stayed subscribed: ~7 KB each with its tokens and locations, the largest
// part of an idle connection's heap. Documents are never mutated by execution,
// so one copy can serve every subscription that sent the same text.
import { GraphQLError, parse, validate, type DocumentNode, type GraphQLSchema } from 'graphql';

/** Enough for every distinct subscription a deployment's clients send; a text past it is parsed again, as before. */
const MAX_DOCUMENTS = 500;
/** Longer texts are not kept: a few of them could hold more memory than the sharing saves. */
const MAX_CACHED_LENGTH = 16 * 1024;

/**
 * Returns the document for `query`, or its syntax or validation errors. graphql-ws's
 * own parse throws on a syntax error, which closes the whole socket (4500) and ends
 * every other subscription on it; returned, the error goes to that subscription alone.
 * Only valid documents are kept, so a refused text holds nothing.
 */
export function subscriptionDocuments(schema: GraphQLSchema, max = MAX_DOCUMENTS) {
  const cache = new Map<string, DocumentNode>();
  return (query: string): DocumentNode | readonly GraphQLError[] => {
    const hit = cache.get(query);
    if (hit) {
      // Most recently used last, so the oldest unused text is the one evicted.
      cache.delete(query);
      cache.set(query, hit);
      return hit;
    }
    let document: DocumentNode;
    try {
      document = parse(query);
    } catch (err) {
      if (err instanceof GraphQLError) return [err];
      throw err;
    }
    const errors = validate(schema, document);
    if (errors.length > 0) return errors;
    if (query.length <= MAX_CACHED_LENGTH) {
      cache.set(query, document);
      if (cache.size > max) cache.delete(cache.keys().next().value!);
    }
    return document;
  };
}
