// One job: its images side by side, every parameter by its wire name, costs, the
// event timeline, failure, webhook deliveries, lineage with the reproducibility
// badge, and the actions. Live over jobUpdated.
import { useEffect, useState } from 'preact/hooks';
import { JobDeliveriesDocument, type JobDeliveriesQuery, type JobDetailFragment } from '../../src/client/index.js';
import { api, authorizedImage, forgetImages, useImage } from './api.js';
import { go, MODEL_LABELS, usd, when } from './format.js';

type Img = { source: string; url: string; width: number | null; height: number | null; bytes: number | null } | null;

function imagesOf(job: JobDetailFragment): [string, Img][] {
  const j = job as unknown as Record<string, Img>;
  return ['sourceImage', 'targetImage', 'maskImage', 'characterImage', 'referenceCharacterImage']
    .filter((f) => f in j && j[f])
    .map((f) => [f, j[f]!]);
}

function FullImage({ url, alt, id }: { url: string; alt: string; id?: string }) {
  const { src, error } = useImage(url);
  if (error) return <p class="error">The image could not be loaded.</p>;
  if (!src) return <div class="img-wait" aria-busy="true">Loading image…</div>;
  return (
    <a href={src} target="_blank" rel="noopener" title="Full size">
      <img id={id} src={src} alt={alt} />
    </a>
  );
}

function Badge({ value }: { value: string | null }) {
  if (!value) return null;
  return <span class={`badge r-${value}`} title="Reproducibility of this rerun">{value}</span>;
}

function paramValue(v: unknown): string {
  if (v && typeof v === 'object' && 'artifact' in (v as object)) {
    const a = (v as { artifact: { sha256: string; bytes: number; width?: number; height?: number } }).artifact;
    return `stored image ${a.sha256.slice(0, 12)}… (${a.bytes} bytes${a.width ? `, ${a.width}×${a.height}` : ''})`;
  }
  return typeof v === 'string' ? v : JSON.stringify(v);
}

type Delivery = JobDeliveriesQuery['webhookEndpoints'][number]['deliveries']['edges'][number]['node'];

export function JobPage({ id }: { id: string }) {
  const [job, setJob] = useState<JobDetailFragment | null | undefined>(undefined);
  const [message, setMessage] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [deliveriesError, setDeliveriesError] = useState<string | null>(null);
  const [moreDeliveries, setMoreDeliveries] = useState(false);
  const [deliveries, setDeliveries] = useState<(Delivery & { url: string })[]>([]);

  const loadDeliveries = async () => {
    const r = await api().request(JobDeliveriesDocument, { job: id });
    if (!r.ok) return setDeliveriesError(r.error.message);
    setDeliveriesError(null);
    setDeliveries(r.value.webhookEndpoints.flatMap((e) => e.deliveries.edges.map((d) => ({ ...d.node, url: e.url }))));
    setMoreDeliveries(r.value.webhookEndpoints.some((e) => e.deliveries.pageInfo.hasNextPage));
  };
  const load = async () => {
    const r = await api().job(id);
    if (r.ok) setJob(r.value);
    else if (r.error.__typename === 'NotFoundError') setJob(null);
    else setMessage(r.error.message);
    void loadDeliveries();
  };
  useEffect(() => {
    void load();
    const stop = api().subscribe({ jobId: id, onEvent: () => void load() });
    return stop;
  }, [id]);

  if (job === undefined) return <p>{message ?? 'Loading…'}</p>;
  if (job === null) return <p role="alert">No such job for this key.</p>;

  const final = ['COMPLETED', 'FAILED', 'CANCELED'].includes(job.status);
  const failedEvent = [...job.events].reverse().find((e) => e.status === 'FAILED');
  const rerun = async () => {
    const r = await api().rerun(job.id);
    if (r.ok) go(`#/jobs/${encodeURIComponent(r.value.id)}`);
    else setMessage(r.error.message);
  };
  const cancel = async () => {
    const r = await api().cancel(job.id);
    setMessage(r.ok ? 'Canceled.' : r.error.message);
    void load();
  };
  const remove = async () => {
    const r = await api().deleteJob(job.id);
    setConfirming(false);
    if (!r.ok) return setMessage(r.error.message);
    forgetImages(encodeURIComponent(job.id));
    forgetImages(job.id);
    setMessage('Deleted: its images are erased; this tombstone stays for the ledger.');
    void load();
  };
  const download = async () => {
    if (!job.output) return;
    const a = document.createElement('a');
    a.href = await authorizedImage(job.output.url);
    a.download = `swapyard-${job.id}.${job.output.mimeType.split('/')[1] ?? 'img'}`;
    a.click();
  };

  return (
    <article aria-labelledby="job-title">
      <div class="title-row">
        <h1 id="job-title">{MODEL_LABELS[job.model]} <span class="mono small">{job.id}</span></h1>
        <span class={`status s-${job.status}`} id="job-status" role="status">{job.status}</span>
        {job.deletedAt && <span class="status s-DELETED" id="job-deleted">deleted</span>}
        <Badge value={job.reproducibility} />
      </div>
      <div class="actions">
        {!final && <button type="button" onClick={cancel}>Cancel</button>}
        {!job.imagesErasedAt && <button type="button" onClick={rerun}>Rerun</button>}
        {!job.imagesErasedAt && <a class="button" href={`#/rerun/${encodeURIComponent(job.id)}`}>Rerun with changes</a>}
        {job.output && <button type="button" onClick={download}>Download</button>}
        {final && !job.deletedAt && !confirming && <button type="button" class="danger" onClick={() => setConfirming(true)}>Delete</button>}
      </div>
      {confirming && (
        <div class="confirm" role="alertdialog" aria-labelledby="delete-q" aria-describedby="delete-what">
          <p id="delete-q"><strong>Delete this job for good?</strong></p>
          <p id="delete-what">Its input and output images are erased everywhere they are kept; a tombstone (model, status, seed, times, cost) stays.</p>
          <button type="button" class="danger" onClick={remove} autoFocus>Delete for good</button>{' '}
          <button type="button" class="secondary" onClick={() => setConfirming(false)}>Keep it</button>
        </div>
      )}
      {job.deletedAt && (
        <p class="notice" id="tombstone">Deleted {when(job.deletedAt)}. Its images were erased{job.imagesErasedAt ? ` at ${when(job.imagesErasedAt)}` : ''}; what is left is the tombstone below.</p>
      )}
      {message && <p role="alert" class="notice">{message}</p>}
      <div class="images">
        {imagesOf(job).map(([field, img]) => (
          <figure>
            {img!.source === 'INLINE' || img!.url.startsWith('http') ? <FullImage url={img!.url} alt={field} /> : null}
            <figcaption>{field} ({img!.source}{img!.width ? `, ${img!.width}×${img!.height}` : ''})</figcaption>
          </figure>
        ))}
        <figure>
          {job.output ? <FullImage url={job.output.url} alt="output" id="output-image" /> : <div class="img-wait">{job.imagesErasedAt ? 'Image erased' : final ? 'No output' : 'Working…'}</div>}
          <figcaption>output{job.output ? ` (${job.output.width}×${job.output.height}, ${job.output.mimeType})` : ''}</figcaption>
        </figure>
      </div>
      <div class="columns">
        <section aria-labelledby="facts">
          <h2 id="facts">Job</h2>
          <dl class="facts">
            <dt>Provider</dt><dd>{job.provider}</dd>
            <dt>Seed</dt><dd>{job.seed ?? '—'}</dd>
            <dt>Estimated cost</dt><dd>{usd(job.cost.estimated)}</dd>
            <dt>Charged</dt><dd id="job-charged">{usd(job.cost.charged)}</dd>
            <dt>Upstream credits after</dt><dd>{usd(job.cost.upstreamCreditsRemaining)}</dd>
            <dt>Created</dt><dd>{when(job.createdAt)}</dd>
            <dt>Finished</dt><dd>{when(job.finishedAt)}</dd>
            <dt>Upstream request</dt><dd class="mono">{job.upstreamRequestId ?? '—'}</dd>
          </dl>
          {job.failure && (
            <div class="failure" role="alert">
              <h3>Failed: {job.failure.code}</h3>
              <p>{job.failure.message}</p>
              {failedEvent?.detail != null && <pre>{JSON.stringify(failedEvent.detail, null, 2)}</pre>}
            </div>
          )}
          {job.notApplied.length > 0 && (
            <>
              <h3>Not applied by {job.provider}</h3>
              <ul>{job.notApplied.map((n) => <li><code>{n.option}</code> = {n.value}: {n.note}</li>)}</ul>
            </>
          )}
          <h2>Lineage</h2>
          <p>{job.rerunOf ? <>Rerun of <a href={`#/jobs/${encodeURIComponent(job.rerunOf.id)}`}>{job.rerunOf.id}</a> <Badge value={job.reproducibility} /></> : 'An original job.'}</p>
          {job.reruns.length > 0 && (
            <ul aria-label="Reruns">
              {job.reruns.map((r) => <li><a href={`#/jobs/${encodeURIComponent(r.id)}`}>{r.id}</a> {r.status} <Badge value={r.reproducibility} /></li>)}
            </ul>
          )}
        </section>
        <section aria-labelledby="params">
          <h2 id="params">Parameters (wire names)</h2>
          <table class="params">
            <thead><tr><th scope="col">Wire name</th><th scope="col">Value</th></tr></thead>
            <tbody>
              {Object.entries((job.parameters ?? {}) as Record<string, unknown>).map(([k, v]) => (
                <tr><th scope="row"><code>{k}</code></th><td>{paramValue(v)}</td></tr>
              ))}
            </tbody>
          </table>
        </section>
      </div>
      <section aria-labelledby="timeline">
        <h2 id="timeline">Events</h2>
        <ol class="timeline">
          {job.events.map((e) => (
            <li><time dateTime={e.createdAt}>{when(e.createdAt)}</time> <span class={`status s-${e.status}`}>{e.status}</span>{e.detail != null && JSON.stringify(e.detail) !== '{}' && <code class="small"> {JSON.stringify(e.detail)}</code>}</li>
          ))}
        </ol>
      </section>
      <section aria-labelledby="hooks">
        <h2 id="hooks">Webhook deliveries</h2>
        <p class="hint">Each of this job's events at each of your endpoints; retry one on the <a href="#/webhooks">Webhooks</a> page.</p>
        {deliveriesError && <p class="error" role="alert">{deliveriesError}</p>}
        {moreDeliveries && <p class="hint">More than 10 at one endpoint: the rest are in its log on the Webhooks page.</p>}
        {deliveries.length === 0 ? <p id="job-deliveries-none">None.</p> : (
          <div class="scroll"><table id="job-deliveries">
            <thead><tr><th scope="col">Endpoint</th><th scope="col">Event</th><th scope="col">Delivery</th><th scope="col">Tries</th><th scope="col">Last answer</th><th scope="col">Last try</th><th scope="col">Next try</th></tr></thead>
            <tbody>
              {deliveries.map((d) => {
                const last = d.attempts.at(-1);
                return (
                  <tr data-delivery={d.id}><td class="mono">{d.url}</td><td>{d.event.status}</td><td class="delivery-status">{d.status}</td><td>{d.attemptCount}</td>
                    <td class="response">{last ? (last.responseStatus ?? last.error ?? '—') : '—'}</td>
                    <td>{last ? <time dateTime={last.attemptedAt}>{when(last.attemptedAt)}</time> : '—'}</td>
                    <td>{when(d.nextAttemptAt)}</td></tr>
                );
              })}
            </tbody>
          </table></div>
        )}
      </section>
    </article>
  );
}
