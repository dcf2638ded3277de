// Whether this process can do its work now, for /readyz: the database answers,
// and every LISTEN connection the process owns (the event hub's, each claim
// loop's) is up. Each LISTEN owner reports its state here by name; the
// database is asked at each check, with a short deadline, so a check never
// waits on a database that does not answer. /healthz (liveness) does not look
// here: a process waiting for its database to come back is alive, and
// restarting it would not help.
import type pg from 'pg';

const PROBE_TIMEOUT_MS = 2_000;

export type CheckState = 'up' | 'down';

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, CheckState>;
}

export class Readiness {
  private readonly listeners = new Map<string, boolean>();

  constructor(private readonly pool: pg.Pool) {}

  /** A LISTEN connection named `name` is up or down (ReconnectingListener's onState). */
  report(name: string, up: boolean): void {
    this.listeners.set(name, up);
  }

  /** The owner stopped: its connection no longer counts. */
  forget(name: string): void {
    this.listeners.delete(name);
  }

  async check(): Promise<ReadinessReport> {
    const checks: Record<string, CheckState> = { database: (await this.databaseAnswers()) ? 'up' : 'down' };
    for (const [name, up] of this.listeners) checks[name] = up ? 'up' : 'down';
    return { ready: Object.values(checks).every((s) => s === 'up'), checks };
  }

  private async databaseAnswers(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS);
    });
    try {
      return await Promise.race([this.pool.query('SELECT 1').then(() => true, () => false), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
