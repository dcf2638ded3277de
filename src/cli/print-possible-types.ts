// npm run schema:possible-types: rewrites possible-types.json (Apollo Client's
// possibleTypes) from the code-first schema.
import { writeFileSync } from 'node:fs';
import { printedPossibleTypes } from '../schema/index.js';

writeFileSync(new URL('../../possible-types.json', import.meta.url), printedPossibleTypes());
console.log('possible-types.json written');
