// Writes src/client/generated/graphql.ts from schema.graphql and the client's operations.
import { generate } from '@graphql-codegen/cli';
import { codegenConfig } from '../src/client/codegen-config.js';

await generate(codegenConfig, true);
console.log('wrote', Object.keys(codegenConfig.generates).join(', '));
