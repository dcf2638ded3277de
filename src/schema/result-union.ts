// Every mutation's result union is made here, one way: each member is a class
// (a result or an error of src/resolvers/results.ts, or a success wrapper)
// paired with its GraphQL type, and a value resolves to the type of its class.
// Job types, which are rows rather than classes, come in through `others`.
import type { ObjectRef, UnionRef } from '@pothos/core';
import { builder } from './builder.js';

type AnyObjectRef = ObjectRef<any, any>;
type Class = abstract new (...args: never[]) => object;
type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

export function resultUnion(name: string, opts: {
  description?: string;
  members: ReadonlyArray<readonly [Class, AnyObjectRef]>;
  /** Members that are not instances of a class (job rows), and which of them a value is. */
  others?: { types: readonly AnyObjectRef[]; resolve: (value: unknown) => AnyObjectRef };
}): UnionRef<Types, object, object> {
  return builder.unionType(name, {
    description: opts.description,
    types: [...opts.members.map(([, ref]) => ref), ...(opts.others?.types ?? [])],
    resolveType: (value) => {
      for (const [cls, ref] of opts.members) if (value instanceof cls) return ref;
      if (opts.others) return opts.others.resolve(value);
      throw new Error(`${name}: the resolver returned a value of no member type`);
    },
  }) as UnionRef<Types, object, object>;
}
