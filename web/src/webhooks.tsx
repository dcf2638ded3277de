// Webhook endpoints of the key, each with its delivery log (every try's answer
// and time) and a retry button per delivery (retryWebhookDelivery).
import { useEffect, useState } from 'preact/hooks';
import { RetryWebhookDeliveryDocument, WebhookEndpointsDocument, type WebhookEndpointsQuery } from '../../src/client/index.js';
import { api } from './api.js';
import { MODEL_LABELS, when } from './format.js';

export function WebhooksPage() {
  const [endpoints, setEndpoints] = useState<WebhookEndpointsQuery['webhookEndpoints'] | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  // 10 latest deliveries per endpoint, with their tries: within the API's operation cost limit.
  const load = () => void api().request(WebhookEndpointsDocument, { first: 10 }).then((r) => (r.ok ? setEndpoints(r.value.webhookEndpoints) : setMessage(r.error.message)));
  useEffect(load, []);
  const retry = async (id: string) => {
    const r = await api().request(RetryWebhookDeliveryDocument, { id });
    setMessage(r.ok ? (r.value.result.__typename === 'WebhookDeliveryRetried' ? 'Retried now.' : (r.value.result as { message: string }).message) : r.error.message);
    load();
  };
  return (
    <section aria-labelledby="hooks-title">
      <h1 id="hooks-title">Webhook endpoints</h1>
      {message && <p role="status" id="hooks-message">{message}</p>}
      {endpoints === null ? <p>Loading…</p> : endpoints.length === 0 ? <p>No endpoints: add one with the createWebhookEndpoint mutation.</p> : endpoints.map((e) => (
        <details open={endpoints.length === 1} data-endpoint={e.id}>
          <summary><span class="mono">{e.url}</span> {e.enabled ? '' : '(disabled)'} — {e.deliveries.edges.length} recent deliveries</summary>
          <div class="scroll"><table>
            <thead><tr><th scope="col">Job</th><th scope="col">Event</th><th scope="col">Delivery</th><th scope="col">Tries</th><th scope="col">Last answer</th><th scope="col">Last try</th><th scope="col">Next try</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>{e.deliveries.edges.map(({ node: d }) => {
              const last = d.attempts.at(-1);
              return (
                <tr data-delivery={d.id}><td><a href={`#/jobs/${encodeURIComponent(d.event.job.id)}`}>{MODEL_LABELS[d.event.job.model]}</a></td><td>{d.event.status}</td><td class="delivery-status">{d.status}</td>
                  <td class="tries">{d.attemptCount}</td>
                  <td class="response">{last ? (last.responseStatus ?? last.error ?? '—') : '—'}</td>
                  <td>{last ? <time dateTime={last.attemptedAt}>{when(last.attemptedAt)}</time> : '—'}</td><td>{when(d.nextAttemptAt)}</td>
                  <td><button type="button" onClick={() => retry(d.id)} aria-label={`Retry the ${d.event.status} delivery of ${MODEL_LABELS[d.event.job.model]} job`}>Retry</button></td></tr>
              );
            })}</tbody>
          </table></div>
        </details>
      ))}
    </section>
  );
}
