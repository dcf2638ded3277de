// One worker serves jobs of every provider: each job names its own (recorded
// at creation), and the router hands each call to that provider.
import { admitNow, UNLIMITED, type Admission, type Admitted, type PollOutcome, type ProviderJob, type SubmitOutcome, type UpstreamProvider } from './types.js';

function unknownProvider(job: ProviderJob): { kind: 'failed'; code: 'UPSTREAM_ERROR'; message: string } {
  return { kind: 'failed', code: 'UPSTREAM_ERROR', message: `no provider named "${job.provider}" runs in this worker` };
}

/** Routes by `job.provider`; account calls (readCredits) go to `accountProvider`. */
export function routeByProvider(providers: Record<string, UpstreamProvider>, accountProvider: string): UpstreamProvider {
  const account = providers[accountProvider];
  return {
    name: 'router',
    account: account?.account,
    async admit(job, signal): Promise<Admission> {
      const admit = providers[job.provider]?.admit;
      return admit ? admit.call(providers[job.provider], job, signal) : UNLIMITED;
    },
    tryAdmit(job): Admitted | null {
      const provider = providers[job.provider];
      return provider ? admitNow(provider, job) : null;
    },
    runsSynchronously: (job) => providers[job.provider]?.runsSynchronously?.(job),
    async submit(job, signal): Promise<SubmitOutcome> {
      const provider = providers[job.provider];
      return provider ? provider.submit(job, signal) : unknownProvider(job);
    },
    async poll(job, signal): Promise<PollOutcome> {
      const provider = providers[job.provider];
      return provider ? provider.poll(job, signal) : unknownProvider(job);
    },
    readCredits: account?.readCredits ? (signal) => account.readCredits!(signal) : undefined,
  };
}
