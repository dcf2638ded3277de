// npm run schema:print: rewrites schema.graphql from the code-first schema.
import { writeFileSync } from 'node:fs';
import { printedSchema } from '../schema/index.js';

writeFileSync(new URL('../../schema.graphql', import.meta.url), printedSchema());
console.log('schema.graphql written');
