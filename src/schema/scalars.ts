import { GraphQLError, Kind } from 'graphql';
import { builder } from './builder.js';

builder.scalarType('DateTime', {
  description: 'An ISO 8601 date-time with time zone, e.g. 2026-11-23T08:43:00.000Z.',
  serialize: (value) => (value as Date).toISOString(),
  parseValue: (value) => {
    const date = typeof value === 'string' ? new Date(value) : null;
    if (!date || Number.isNaN(date.getTime()) || !/^\d{4}-\d{2}-\d{2}T/.test(value as string)) {
      throw new GraphQLError('DateTime must be an ISO 8601 string such as 2026-11-23T08:43:00Z', {
        extensions: { code: 'BAD_USER_INPUT', rule: 'iso-8601' },
      });
    }
    return date;
  },
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING) {
      throw new GraphQLError('DateTime must be a string', { extensions: { code: 'BAD_USER_INPUT', rule: 'iso-8601' } });
    }
    const date = new Date(ast.value);
    if (Number.isNaN(date.getTime()) || !/^\d{4}-\d{2}-\d{2}T/.test(ast.value)) {
      throw new GraphQLError('DateTime must be an ISO 8601 string such as 2026-11-23T08:43:00Z', {
        extensions: { code: 'BAD_USER_INPUT', rule: 'iso-8601' },
      });
    }
    return date;
  },
});

builder.scalarType('JSON', {
  description: 'Any JSON value.',
  serialize: (value) => value,
  parseValue: (value) => value,
});
