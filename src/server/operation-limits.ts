// What one GraphQL operation may ask for, checked before it runs, over HTTP
// (http-server.ts, before Apollo sees the request) and graphql-ws
// (subscription-documents.ts) alike:
// - tokens of the query text, counted by graphql's own lexer before anything is
//   parsed, so a 4 MB query costs a few milliseconds instead of seconds;
// - aliases and directives, counted by graphql-armor's rules;
// - depth and cost, from Pothos's complexity rule: every field costs 1 and a list
//   multiplies what it selects by its page size (`first`/`last`, variables
//   included) or by UNPAGED_LIST_SIZE (src/schema/builder.ts).
// These run before graphql's own validation, whose overlapping-fields rule grows
// with the square of a selection's size. Going over gives one typed error
// (OPERATION_LIMIT_EXCEEDED) naming the limit, its value and the operation's measure.
import type { ApolloServerPlugin } from '@apollo/server';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { createComplexityRule } from '@pothos/plugin-complexity';
import {
  GraphQLError, Kind, Lexer, parse, Source, TokenKind, validate, visit, type DocumentNode, type GraphQLSchema, type ValidationRule,
} from 'graphql';
import type { OperationLimits } from '../config.js';
import { dateTimeLiteralsRule } from '../schema/scalars.js';

export type { OperationLimits };

type LimitName = 'tokens' | 'aliases' | 'directives' | 'depth' | 'cost';

const LIMITS: Record<LimitName, { key: keyof OperationLimits; variable: string; measure: (n: number) => string }> = {
  tokens: { key: 'maxTokens', variable: 'MAX_QUERY_TOKENS', measure: (n) => `more than ${n - 1} tokens` },
  aliases: { key: 'maxAliases', variable: 'MAX_QUERY_ALIASES', measure: (n) => `${n} aliases` },
  directives: { key: 'maxDirectives', variable: 'MAX_QUERY_DIRECTIVES', measure: (n) => `${n} directives` },
  depth: { key: 'maxDepth', variable: 'MAX_QUERY_DEPTH', measure: (n) => `a depth of ${n}` },
  cost: { key: 'maxCost', variable: 'MAX_QUERY_COST', measure: (n) => `a cost of ${n}` },
};

export const LIMIT_EXCEEDED = 'OPERATION_LIMIT_EXCEEDED';

function limitExceeded(limit: LimitName, limits: OperationLimits, actual: number): GraphQLError {
  const { key, variable, measure } = LIMITS[limit];
  const max = limits[key];
  return new GraphQLError(`The operation has ${measure(actual)}; the ${limit} limit is ${max} (${variable}).`, {
    extensions: { code: LIMIT_EXCEEDED, limit, max, actual },
  });
}

/**
 * Refuses a query text of more than `maxTokens` tokens, stopping at the first one
 * over (`actual` is then max + 1). A text that does not lex is left to the parser,
 * which reports it.
 */
export function tokenLimitError(query: string, limits: OperationLimits): GraphQLError | null {
  const lexer = new Lexer(new Source(query));
  try {
    for (let tokens = 0; lexer.advance().kind !== TokenKind.EOF;) {
      if (++tokens > limits.maxTokens) return limitExceeded('tokens', limits, tokens);
    }
  } catch {
    return null;
  }
  return null;
}

export interface OperationRequest {
  operationName?: string | null;
  variables?: Readonly<Record<string, unknown>> | null;
}

/** The limits but tokens, as validation rules; cost depends on the request's variables. */
export function operationLimitRules(limits: OperationLimits, request: OperationRequest): ValidationRule[] {
  // The armor rules only measure here (their own limit set out of reach): the
  // typed error with the measure is made below.
  const count = (limit: 'aliases' | 'directives') => (context: Parameters<ValidationRule>[0], details: { n: number }) => {
    if (details.n > limits[LIMITS[limit].key]) context?.reportError(limitExceeded(limit, limits, details.n));
  };
  const measureOnly = Number.MAX_SAFE_INTEGER;
  return [
    maxAliasesRule({ n: measureOnly, allowList: [], onAccept: [count('aliases') as never] }),
    maxDirectivesRule({ n: measureOnly, onAccept: [count('directives') as never] }),
    createComplexityRule({
      context: {},
      variableValues: { ...request.variables },
      operationName: request.operationName ?? undefined,
      validate: ({ depth, complexity }, report) => {
        if (depth > limits.maxDepth) report(limitExceeded('depth', limits, depth));
        else if (complexity > limits.maxCost) report(limitExceeded('cost', limits, complexity));
      },
    }),
  ];
}

/** The first error these rules report that is theirs (it has a code), or null. */
function firstTypedError(schema: GraphQLSchema, document: DocumentNode, rules: ValidationRule[]): GraphQLError | null {
  return validate(schema, document, rules).find((e) => typeof e.extensions.code === 'string') ?? null;
}

/**
 * The first error of an operation's checks before graphql's own validation: DateTime
 * literals (scalars.ts), then the limits. Null when it passes, or when what is wrong is
 * for graphql's validation to report: unknown fields, operations or variables, an
 * argument of the wrong type (the cost rule throws on those).
 */
export function operationError(
  schema: GraphQLSchema,
  document: DocumentNode,
  request: OperationRequest,
  limits: OperationLimits,
): GraphQLError | null {
  const literal = firstTypedError(schema, document, [dateTimeLiteralsRule]);
  if (literal) return literal;
  try {
    return firstTypedError(schema, document, operationLimitRules(limits, request));
  } catch (err) {
    if (err instanceof GraphQLError) return null;
    throw err;
  }
}

/**
 * `query` parsed, or the first limit it goes over (tokens before parsing, then the
 * rules). A text that does not parse throws parse()'s GraphQLError.
 */
export function parseWithinLimits(
  schema: GraphQLSchema,
  query: string,
  request: OperationRequest,
  limits: OperationLimits,
): DocumentNode | GraphQLError {
  const tooLong = tokenLimitError(query, limits);
  if (tooLong) return tooLong;
  const document = parse(query);
  return operationError(schema, document, request, limits) ?? document;
}

/**
 * Over HTTP, before Apollo parses and validates anything: the first limit the
 * operation in a POST body or a GET query string goes over, or null (within the
 * limits, or nothing to check: Apollo reports a missing query or a syntax error).
 */
export function httpRequestLimitError(
  schema: GraphQLSchema,
  limits: OperationLimits,
  body: unknown,
  search: URLSearchParams,
): GraphQLError | null {
  const posted = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : null;
  const query = posted ? posted.query : search.get('query');
  if (typeof query !== 'string') return null;
  const operationName = posted ? posted.operationName : search.get('operationName');
  let variables = posted ? posted.variables : search.get('variables');
  try {
    if (typeof variables === 'string') variables = JSON.parse(variables);
    const request = {
      operationName: typeof operationName === 'string' ? operationName : null,
      variables: variables && typeof variables === 'object' ? (variables as Record<string, unknown>) : null,
    };
    const passed = passedTexts(limits);
    if (passed.has(query)) {
      // Most recently used last, so the oldest unused text is the one dropped.
      passed.delete(query);
      passed.add(query);
      return null;
    }
    const checked = parseWithinLimits(schema, query, request, limits);
    if (checked instanceof GraphQLError) return checked;
    if (query.length <= MAX_PASSED_LENGTH && !limitsReadVariables(checked)) {
      if (passed.size >= MAX_PASSED_TEXTS) passed.delete(passed.values().next().value!);
      passed.add(query);
    }
    return null;
  } catch {
    return null;
  }
}

/**
 * Query texts that passed, per set of limits. Clients send the same few texts again
 * and again (a create mutation with new variables each time), and checking lexed,
 * parsed and walked each one twice before Apollo's own cached parse: about a sixth
 * of the API's CPU in bench:submissions. A text's pass holds for every request
 * unless its variables can change a measure: only `first`/`last` (a list's size in
 * the cost) and directives (@include/@skip) read them, so such texts are checked
 * each time. (graphql-ws keeps its own documents: subscription-documents.ts.)
 */
const PASSED_TEXTS = new WeakMap<OperationLimits, Set<string>>();
const MAX_PASSED_TEXTS = 500;
const MAX_PASSED_LENGTH = 16 * 1024;

function passedTexts(limits: OperationLimits): Set<string> {
  let texts = PASSED_TEXTS.get(limits);
  if (!texts) PASSED_TEXTS.set(limits, (texts = new Set()));
  return texts;
}

function limitsReadVariables(document: DocumentNode): boolean {
  let reads = false;
  visit(document, {
    Argument(node) {
      if ((node.name.value === 'first' || node.name.value === 'last') && node.value.kind === Kind.VARIABLE) reads = true;
    },
    Directive(node) {
      if (node.arguments?.some((a) => a.value.kind === Kind.VARIABLE)) reads = true;
    },
  });
  return reads;
}

/**
 * For operations Apollo finds by hash (automatic persisted queries), whose text the
 * HTTP handler did not see: their rules, once Apollo has the document. (Apollo turns
 * an error thrown by its earlier hooks into a bare 500.)
 */
export function persistedOperationLimitsPlugin(limits: OperationLimits): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, request }) {
          if (request.query !== undefined) return;
          const error = operationError(schema, document, request, limits);
          if (error) throw new GraphQLError(error.message, { extensions: { ...error.extensions, http: { status: 400 } } });
        },
      };
    },
  };
}
