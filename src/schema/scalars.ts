import { GraphQLError, Kind, getNamedType, type ASTNode, type ValidationRule } from 'graphql';
import { builder } from './builder.js';
import { badInput } from '../util/request-errors.js';

const DATE_TIME_EXAMPLE = '2026-11-23T08:43:00Z';
// RFC 3339: a date, a time and a zone (Z or ±hh:mm). Without a zone the instant
// would depend on the server's time zone.
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;
// PostgreSQL refuses year 0 as text; years past 9999 do not print as ISO 8601.
const FIRST_INSTANT = new Date('0001-01-01T00:00:00Z').getTime();
const LAST_INSTANT = new Date('9999-12-31T23:59:59.999Z').getTime();

/** The instant `text` names, or why it names none (with the rule it breaks). */
export function parseDateTime(text: string): Date | { rule: string; problem: string } {
  const m = DATE_TIME.exec(text);
  if (!m) return { rule: 'iso-8601', problem: `must be an ISO 8601 date-time with a time zone, such as ${DATE_TIME_EXAMPLE}` };
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map((part) => Number(part ?? 0)) as [number, number, number, number, number, number];
  // Date rolls 2026-02-30 over to March 2; a real date and time keeps its fields.
  const fields = new Date(0);
  fields.setUTCFullYear(y, mo - 1, d);
  fields.setUTCHours(h, mi, s);
  if (fields.getUTCMonth() !== mo - 1 || fields.getUTCDate() !== d || fields.getUTCHours() !== h || fields.getUTCMinutes() !== mi || s > 59) {
    return { rule: 'iso-8601', problem: `is not a real date and time (as in ${DATE_TIME_EXAMPLE})` };
  }
  const date = new Date(text);
  if (Number.isNaN(date.getTime()) || date.getTime() < FIRST_INSTANT || date.getTime() > LAST_INSTANT) {
    return { rule: 'date-range', problem: 'must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z' };
  }
  return date;
}

function dateTimeError(text: unknown): GraphQLError {
  const parsed = typeof text === 'string' ? parseDateTime(text) : null;
  const { rule, problem } = parsed && !(parsed instanceof Date) ? parsed : { rule: 'iso-8601', problem: 'must be a string' };
  return new GraphQLError(`DateTime ${problem}; got ${JSON.stringify(text)}`, { extensions: { code: 'BAD_USER_INPUT', rule } });
}

function toDate(value: unknown): Date {
  const date = typeof value === 'string' ? parseDateTime(value) : null;
  if (!(date instanceof Date)) throw dateTimeError(value);
  return date;
}

builder.scalarType('DateTime', {
  description: `An ISO 8601 date-time with a time zone, e.g. ${DATE_TIME_EXAMPLE}, between the years 0001 and 9999.`,
  serialize: (value) => (value as Date).toISOString(),
  parseValue: toDate,
  parseLiteral: (ast) => toDate(ast.kind === Kind.STRING ? ast.value : undefined),
});

/**
 * DateTime literals that name no instant, refused naming their argument
 * (`filter.createdAfter`), which parseLiteral cannot know. Variables need no rule:
 * graphql's coercion error names the variable's path. Runs before graphql's own
 * rules (src/server/operation-limits.ts), so a bad literal gets this one error.
 */
export const dateTimeLiteralsRule: ValidationRule = (context) => ({
  StringValue(node, _key, parent, _path, ancestors) {
    const type = context.getInputType();
    if (!type || getNamedType(type).name !== 'DateTime' || parseDateTime(node.value) instanceof Date) return;
    const names = [...ancestors, parent].flatMap((a) => {
      const n = a as ASTNode;
      if (n?.kind === Kind.ARGUMENT || n?.kind === Kind.OBJECT_FIELD) return [n.name.value];
      if (n?.kind === Kind.VARIABLE_DEFINITION) return [`$${n.variable.name.value}`];
      return [];
    });
    const field = names.join('.') || 'DateTime';
    const { rule, problem } = parseDateTime(node.value) as { rule: string; problem: string };
    const error = badInput(field, rule, `DateTime ${problem}; got ${JSON.stringify(node.value)}`);
    context.reportError(new GraphQLError(error.message, { nodes: node, extensions: error.extensions }));
  },
});

builder.scalarType('JSON', {
  description: 'Any JSON value.',
  serialize: (value) => value,
  parseValue: (value) => value,
});
