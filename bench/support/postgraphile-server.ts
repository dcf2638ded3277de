// The PostGraphile peer of bench/submissions.ts: PostGraphile v5 (graphql 16,
// the project's own graphql) serving its generated CRUD schema, including the
// `createJob` insert mutation, over the same database and table. Run by the
// bench as a separate process; prints its URL when ready.
import './node22-polyfills.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { postgraphile } from 'postgraphile';
import { makePgService } from 'postgraphile/adaptors/pg';
import { grafserv } from 'postgraphile/grafserv/node';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';

const connectionString = process.env.DATABASE_URL;
if (!connectionString) throw new Error('DATABASE_URL is required');

const pgl = postgraphile({
  extends: [PostGraphileAmberPreset],
  // Same pool size as the Swapyard API's (src/db/client.ts: 10).
  pgServices: [makePgService({ connectionString, schemas: ['public'], poolConfig: { max: 10 } })],
  grafserv: { graphqlPath: '/graphql', websockets: false },
  grafast: { explain: false },
});
const serv = pgl.createServ(grafserv);
const server = createServer();
server.on('error', (e) => console.error(e));
await serv.addTo(server);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;
console.log(`PostGraphile listening on http://127.0.0.1:${port}/graphql`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.close();
    void Promise.resolve(pgl.release()).then(() => process.exit(0));
  });
}
