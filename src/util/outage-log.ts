// One log line when something starts failing and one when it works again,
// instead of one per attempt: a database restart made the claim loop log the
// same error once a second for minutes, burying everything else.

export class OutageLog {
  private since: number | null = null;

  constructor(
    private readonly log: (line: string) => void,
    /** What fails, as the subject of the log lines ("claims", "listener"). */
    private readonly what: string,
  ) {}

  /** Whether the last attempt failed. */
  get failing(): boolean {
    return this.since !== null;
  }

  failed(err: unknown): void {
    if (this.since !== null) return;
    this.since = Date.now();
    this.log(`${this.what} failing: ${(err as Error)?.message ?? err}`);
  }

  ok(): void {
    if (this.since === null) return;
    const seconds = ((Date.now() - this.since) / 1000).toFixed(1);
    this.since = null;
    this.log(`${this.what} working again after ${seconds} s`);
  }
}
