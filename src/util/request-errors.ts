// Errors of a malformed request (bad id, bad cursor): GraphQL errors whose
// extensions name the field and the rule. Kept apart from errors.ts so the
// builder's own options can use them without an import cycle.
import { GraphQLError } from 'graphql';

export function badInput(field: string, rule: string, message: string): GraphQLError {
  return new GraphQLError(`${field}: ${message}`, { extensions: { code: 'BAD_USER_INPUT', field, rule } });
}

export function notFoundError(field: string, id: string): GraphQLError {
  return new GraphQLError(`${field}: no job with id "${id}" exists for this API key`, {
    extensions: { code: 'NOT_FOUND', field, rule: 'exists' },
  });
}
