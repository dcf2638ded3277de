// A driver adapter factory for the wasm schema engine (src/db/migrations.ts),
// built on @prisma/adapter-pg 7.10.1 with its migration-path bugs worked around.
// The runtime PrismaClient (src/db/client.ts) never reaches these code paths.
import { randomUUID } from 'node:crypto';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import pg from 'pg';

const CHAR_OID = 18;
const TEXT_OID = 25;

interface RowDescriptionMessage {
  fields: { dataTypeID: number }[];
}
type RowDescriptionHandler = (this: pg.Client, msg: RowDescriptionMessage) => void;
const baseHandleRowDescription = (pg.Client.prototype as unknown as { _handleRowDescription: RowDescriptionHandler })
  ._handleRowDescription;

// Bug 3: adapter-pg cannot decode the catalog type "char" (OID 18) that the engine's introspection selects; its text form is a plain string.
export class CharAsTextClient extends pg.Client {
  _handleRowDescription(msg: RowDescriptionMessage): void {
    for (const field of msg.fields) if (field.dataTypeID === CHAR_OID) field.dataTypeID = TEXT_OID;
    baseHandleRowDescription.call(this, msg);
  }
}

/** The same server and credentials, another database. */
export function withDatabase(databaseUrl: string, database: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

async function onMaintenanceDb<T>(databaseUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: withDatabase(databaseUrl, 'postgres') });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Hands the engine adapter-pg adapters and owns every pool and shadow database
 * behind them, so close() can release what the engine leaves open (it does not
 * always dispose, e.g. after an error).
 */
export class MigrationAdapterFactory implements SqlMigrationAwareDriverAdapterFactory {
  readonly provider = 'postgres' as const;
  readonly adapterName = '@prisma/adapter-pg';
  private readonly cleanups = new Set<() => Promise<void>>();

  constructor(private readonly databaseUrl: string) {}

  async connect(): Promise<SqlDriverAdapter> {
    const pool = this.pool(this.databaseUrl);
    const adapter = await new PrismaPg(pool).connect();
    fixExecuteScript(adapter, pool);
    const cleanup = once(() => pool.end());
    this.cleanups.add(cleanup);
    adapter.dispose = async () => {
      this.cleanups.delete(cleanup);
      await cleanup();
    };
    return adapter;
  }

  async connectToShadowDb(): Promise<SqlDriverAdapter> {
    const database = `prisma_migrate_shadow_db_${randomUUID()}`;
    await onMaintenanceDb(this.databaseUrl, (c) => c.query(`CREATE DATABASE ${quoteIdent(database)}`));
    // Bug 1: adapter-pg spreads {database} over a config whose connectionString pg lets win, so its shadow "database" is the main one.
    const pool = this.pool(withDatabase(this.databaseUrl, database));
    // Bug 2: adapter-pg drops the shadow database while its own pool still holds connections; end the pool first, then force the drop.
    const cleanup = once(async () => {
      await pool.end().catch(() => undefined);
      await onMaintenanceDb(this.databaseUrl, (c) =>
        c.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`),
      );
    });
    this.cleanups.add(cleanup);
    try {
      const adapter = await new PrismaPg(pool).connect();
      fixExecuteScript(adapter, pool);
      adapter.dispose = async () => {
        this.cleanups.delete(cleanup);
        await cleanup();
      };
      return adapter;
    } catch (err) {
      this.cleanups.delete(cleanup);
      await cleanup();
      throw err;
    }
  }

  /** Ends every pool and drops every shadow database still open. */
  async close(): Promise<void> {
    const pending = [...this.cleanups];
    this.cleanups.clear();
    const results = await Promise.allSettled(pending.map((c) => c()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private pool(connectionString: string): pg.Pool {
    const pool = new pg.Pool({ connectionString, Client: CharAsTextClient, max: 4 });
    // An idle connection dying must not crash a process that is only migrating.
    pool.on('error', () => undefined);
    return pool;
  }
}

// Bug 4: adapter-pg's executeScript splits the script on every ";" (breaking $$ bodies and string literals) and runs the
// pieces one by one; the native engine sends a migration as one simple query, which Postgres runs as one implicit transaction.
function fixExecuteScript(adapter: SqlDriverAdapter, pool: pg.Pool): void {
  const onError = (adapter as unknown as { onError(err: unknown): never }).onError.bind(adapter);
  adapter.executeScript = async (script: string) => {
    try {
      await pool.query(script);
    } catch (err) {
      onError(err);
    }
  };
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let result: Promise<void> | undefined;
  return () => (result ??= fn());
}
