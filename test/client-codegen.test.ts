// The client's and dashboard's operation types are generated from schema.graphql
// and checked in; this fails when either changed without `npm run client:codegen`.
import { readFileSync } from 'node:fs';
import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';
import { codegenConfig, GENERATED_FILE } from '../src/client/codegen-config.js';

describe('generated client types', () => {
  it('match schema.graphql and src/client/operations.graphql (run `npm run client:codegen` when this fails)', async () => {
    const outputs = (await generate(codegenConfig, false)) as { filename: string; content: string }[];
    const fresh = outputs.find((o) => o.filename === GENERATED_FILE);
    expect(fresh, 'codegen made no client file').toBeDefined();
    expect(readFileSync(GENERATED_FILE, 'utf8')).toBe(fresh!.content);
  });
});
