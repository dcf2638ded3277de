// History: the key's jobs newest first, as a gallery of server-made thumbnails,
// filtered and paged over the Relay connection, kept live by jobsUpdated (the
// client resumes it with `since` after a dropped connection).
import { memo } from 'preact/compat';
import { useEffect, useState } from 'preact/hooks';
import type { JobFilter, JobModel, JobStatus, JobSummaryFragment, Provider } from '../../src/client/index.js';
import { api } from './api.js';
import { MODEL_LABELS, STATUSES, usd, when } from './format.js';
import { INPUT_THUMBNAIL_SIZE } from '../../src/models/thumbnail-sizes.js';
import { Thumb } from './thumb.js';

const PAGE_SIZES = [24, 48, 100] as const;
/**
 * Cards rendered per frame when a page arrives: a page of 100 in one go was one
 * main-thread task of 40-100 ms (docs/PERFORMANCE.md §7); in frames of 20 the
 * first screen paints at once and the rest follow in the next four frames.
 */
const CARDS_PER_FRAME = 20;

interface Filters { model: string; status: string; provider: string; from: string; to: string; seed: string; deleted: string }
const NO_FILTERS: Filters = { model: '', status: '', provider: '', from: '', to: '', seed: '', deleted: '' };

function apiFilter(f: Filters): JobFilter {
  const filter: JobFilter = {};
  if (f.model) filter.model = [f.model as JobModel];
  if (f.status) filter.status = [f.status as JobStatus];
  if (f.provider) filter.provider = [f.provider as Provider];
  if (f.from) filter.createdAfter = new Date(`${f.from}T00:00:00Z`).toISOString();
  if (f.to) filter.createdBefore = new Date(Date.parse(`${f.to}T00:00:00Z`) + 86_400_000).toISOString();
  if (f.seed && /^\d+$/.test(f.seed)) filter.seed = Number(f.seed);
  if (f.deleted) filter.deleted = f.deleted === 'only';
  return filter;
}

/** Whether a job pushed live belongs on the filtered page (the pages themselves are filtered by the API). */
function matches(job: JobSummaryFragment, f: Filters): boolean {
  if (f.provider && job.provider !== (f.provider as Provider)) return false;
  if (f.model && job.model !== f.model) return false;
  if (f.status && job.status !== f.status) return false;
  if (f.seed && String(job.seed) !== f.seed) return false;
  if (f.deleted && (f.deleted === 'only') !== !!job.deletedAt) return false;
  return true;
}

/** The job's two main inputs, with the signed thumbnail link of those stored here (a URL input has none). */
function inputsOf(job: JobSummaryFragment): { field: string; url: string | null }[] {
  if (job.deletedAt) return [];
  const j = job as unknown as Record<string, { thumbnailUrl: string | null } | null | undefined>;
  const fields = job.__typename === 'BodySwapJob' ? ['characterImage', 'referenceCharacterImage'] : ['sourceImage', 'targetImage'];
  return fields.map((field) => ({ field, url: j[field]?.thumbnailUrl ?? null }));
}

function Card({ job }: { job: JobSummaryFragment }) {
  const gone = !!job.deletedAt;
  return (
    <li class={gone ? 'card deleted' : 'card'}>
      <a href={`#/jobs/${encodeURIComponent(job.id)}`} aria-label={`${MODEL_LABELS[job.model]} job, ${job.status}${gone ? ', deleted' : ''}, ${when(job.createdAt)}`}>
        <div class="pair">
          <Thumb url={job.output && !gone ? job.output.thumbnailUrl : null} alt="output"
            empty={gone ? 'deleted: images erased' : job.status === 'COMPLETED' ? 'no output' : job.status.toLowerCase()} />
          <div class="inputs">
            {inputsOf(job).map((i) => <Thumb url={i.url} alt={i.field} size={INPUT_THUMBNAIL_SIZE} empty={i.url ? undefined : 'URL input'} />)}
          </div>
        </div>
        <div class="meta">
          <span class={`status s-${job.status}`}>{job.status}</span>
          {gone && <span class="status s-DELETED">deleted</span>}
          <span>{MODEL_LABELS[job.model]}</span>
          <span>{job.provider}</span>
          <span>{usd(job.cost.charged ?? job.cost.estimated)}</span>
          <time dateTime={job.createdAt}>{when(job.createdAt)}</time>
        </div>
      </a>
    </li>
  );
}

/**
 * A card renders again only when its job does: a live event replaces one job in
 * the list (the others keep their identity), so it re-renders one card of 100,
 * not 100 cards and their 300 thumbnails; nor does the live flag's flip.
 */
export const JobCard = memo(Card);

export function Gallery() {
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [size, setSize] = useState<number>(PAGE_SIZES[0]);
  const [page, setPage] = useState<{ after?: string; before?: string }>({});
  const [jobs, setJobs] = useState<JobSummaryFragment[] | null>(null);
  const [info, setInfo] = useState<{ hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [live, setLive] = useState(false);
  const [shown, setShown] = useState(CARDS_PER_FRAME);

  // A new page starts over at one frame's worth of cards; each frame adds as many.
  useEffect(() => setShown(CARDS_PER_FRAME), [filters, page, size]);
  useEffect(() => {
    if (!jobs || shown >= jobs.length) return;
    const frame = requestAnimationFrame(() => setShown((n) => n + CARDS_PER_FRAME));
    return () => cancelAnimationFrame(frame);
  }, [jobs, shown]);

  useEffect(() => {
    let current = true;
    const filter = apiFilter(filters);
    const args = page.before ? { last: size, before: page.before, filter } : { first: size, after: page.after, filter };
    void api().jobs(args).then((r) => {
      if (!current) return;
      if (!r.ok) return setError(r.error.message);
      setError(null);
      setJobs(r.value.edges.map((e) => e.node));
      setInfo(r.value.pageInfo);
    });
    return () => {
      current = false;
    };
  }, [filters, page, size]);

  // Live: a status change replaces its card; a new job appears on the first page.
  useEffect(() => {
    const firstPage = !page.after && !page.before;
    const stop = api().subscribe({
      onEvent: (event) => {
        setLive(true);
        const job = event.job;
        setJobs((list) => {
          if (!list) return list;
          const at = list.findIndex((j) => j.id === job.id);
          if (at >= 0) return list.map((j, i) => (i === at ? { ...j, ...job } : j));
          if (!firstPage || !matches(job, filters)) return list;
          return [job, ...list].slice(0, size);
        });
      },
      onError: () => setLive(false),
    });
    setLive(true);
    return stop;
  }, [filters, page, size]);

  const set = (name: keyof Filters) => (e: Event) => {
    const value = (e.target as HTMLInputElement).value;
    setFilters((prev) => ({ ...prev, [name]: value }));
    setPage({});
  };
  return (
    <section aria-labelledby="history-title">
      <div class="title-row">
        <h1 id="history-title">History</h1>
        <span class={live ? 'live on' : 'live'} role="status">{live ? '● Live' : '○ Reconnecting'}</span>
        <a class="button" href="#/new">New swap</a>
      </div>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <label>Model
          <select id="filter-model" value={filters.model} onChange={set('model')}>
            <option value="">Any</option>
            {Object.entries(MODEL_LABELS).map(([k, v]) => <option value={k}>{v}</option>)}
          </select>
        </label>
        <label>Status
          <select id="filter-status" value={filters.status} onChange={set('status')}>
            <option value="">Any</option>
            {STATUSES.map((s) => <option value={s}>{s}</option>)}
          </select>
        </label>
        <label>Provider
          <select id="filter-provider" value={filters.provider} onChange={set('provider')}>
            <option value="">Any</option>
            <option value="LOCAL">LOCAL</option>
            <option value="SEGMIND">SEGMIND</option>
          </select>
        </label>
        <label>From <input type="date" value={filters.from} onChange={set('from')} /></label>
        <label>To <input type="date" value={filters.to} onChange={set('to')} /></label>
        <label>Deleted
          <select id="filter-deleted" value={filters.deleted} onChange={set('deleted')}>
            <option value="">Shown, marked</option>
            <option value="hide">Hidden</option>
            <option value="only">Only deleted</option>
          </select>
        </label>
        <label>Seed <input type="text" inputMode="numeric" size={10} value={filters.seed} onChange={set('seed')} /></label>
        <label>Per page
          <select id="filter-per-page" value={String(size)} onChange={(e) => { setSize(Number((e.target as HTMLSelectElement).value)); setPage({}); }}>
            {PAGE_SIZES.map((n) => <option value={String(n)}>{n}</option>)}
          </select>
        </label>
      </form>
      {error && <p class="error" role="alert">{error}</p>}
      {jobs === null ? <p>Loading…</p> : jobs.length === 0 ? <p class="empty">No jobs yet. <a href="#/new">Make a swap</a>.</p> : (
        <ul class="gallery" aria-label="Jobs">{jobs.slice(0, shown).map((j) => <JobCard job={j} key={j.id} />)}</ul>
      )}
      <nav class="pager" aria-label="Pages">
        <button type="button" disabled={!info?.hasPreviousPage && !page.after} onClick={() => setPage(info?.startCursor ? { before: info.startCursor } : {})}>← Newer</button>
        <button type="button" disabled={!info?.hasNextPage} onClick={() => setPage({ after: info?.endCursor ?? undefined })}>Older →</button>
      </nav>
    </section>
  );
}
