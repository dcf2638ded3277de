// Spend: per-day spend stacked by model (creditSpend), job counts, failure rate,
// budgets and the latest upstream credit reading. (Keys and webhooks have their
// own pages: admin-keys.tsx, webhooks.tsx.)
import { useEffect, useState } from 'preact/hooks';
import type { SpendQuery } from '../../src/client/index.js';
import { api } from './api.js';
import { MODEL_LABELS, usd, when } from './format.js';

const COLOURS: Record<string, string> = {
  FACESWAP_V4: '#1f6feb', FACESWAP_V3_MULTI: '#b35900', FACESWAP_V2: '#1a7f37', FACESWAP_COMIC: '#8250df', BODY_SWAP: '#cf222e',
};

const day = (d: Date) => d.toISOString().slice(0, 10);

function days(from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`) && out.length < 366; t += 86_400_000) out.push(day(new Date(t)));
  return out;
}

function Chart({ data, from, to }: { data: SpendQuery['creditSpend']; from: string; to: string }) {
  const columns = days(from, to);
  const micros = (m: { micros: string }) => Number(m.micros);
  const perDay = new Map<string, { model: string; micros: number; count: number }[]>();
  for (const g of data.groups) {
    if (!g.day || !g.model) continue;
    perDay.set(g.day, [...(perDay.get(g.day) ?? []), { model: g.model, micros: micros(g.total), count: g.count }]);
  }
  const max = Math.max(1, ...columns.map((d) => (perDay.get(d) ?? []).reduce((s, x) => s + x.micros, 0)));
  const W = 720, H = 220, pad = 28, bw = Math.max(2, (W - pad) / columns.length - 4);
  const models = [...new Set(data.groups.map((g) => g.model!).filter(Boolean))];
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H + 24}`} role="img" aria-labelledby="chart-title">
        <title id="chart-title">{`Spend per day by model, ${from} to ${to}: total $${data.total.usd}`}</title>
        <line x1={pad} y1={H} x2={W} y2={H} stroke="#57606a" />
        <text x={0} y={12} class="axis">{`$${(max / 1e6).toFixed(4)}`}</text>
        <text x={0} y={H} class="axis">$0</text>
        {columns.map((d, i) => {
          let y = H;
          const x = pad + i * ((W - pad) / columns.length) + 2;
          return (
            <g>
              {(perDay.get(d) ?? []).map((s) => {
                const h = Math.max(s.micros > 0 ? 2 : 0, (s.micros / max) * (H - 16));
                y -= h;
                return <rect class="bar" data-day={d} data-model={s.model} x={x} y={y} width={bw} height={h} fill={COLOURS[s.model] ?? '#57606a'}><title>{`${d} ${MODEL_LABELS[s.model]}: $${(s.micros / 1e6).toFixed(6).replace(/0+$/, '').replace(/\.$/, '')} (${s.count} jobs)`}</title></rect>;
              })}
              {(columns.length <= 16 || i % Math.ceil(columns.length / 8) === 0) && <text x={x} y={H + 16} class="axis">{d.slice(5)}</text>}
            </g>
          );
        })}
      </svg>
      <figcaption>
        <ul class="legend">{models.map((m) => <li><span class="swatch" style={{ background: COLOURS[m] }} />{MODEL_LABELS[m]}</li>)}</ul>
      </figcaption>
    </figure>
  );
}

export function SpendPage() {
  const now = new Date();
  const [from, setFrom] = useState(day(new Date(now.getTime() - 13 * 86_400_000)));
  const [to, setTo] = useState(day(now));
  const [data, setData] = useState<SpendQuery | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!from || !to) return;
    void api().spend({ from: `${from}T00:00:00Z`, to: new Date(Date.parse(`${to}T00:00:00Z`) + 86_400_000) }).then((r) => {
      if (r.ok) {
        setData(r.value);
        setError(null);
      } else setError(r.error.message);
    });
  }, [from, to]);
  const byStatus = data?.byStatus.groups ?? [];
  const total = byStatus.reduce((s, g) => s + g.count, 0);
  const failed = byStatus.find((g) => g.status === 'FAILED')?.count ?? 0;
  const credit = data?.latestCredit.edges.map((e) => e.node).find((n) => n.cost.upstreamCreditsRemaining);
  return (
    <section aria-labelledby="spend-title">
      <h1 id="spend-title">Spend</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Date range">
        <label>From <input type="date" id="spend-from" value={from} max={to} onChange={(e) => setFrom((e.target as HTMLInputElement).value)} /></label>
        <label>To <input type="date" id="spend-to" value={to} min={from} onChange={(e) => setTo((e.target as HTMLInputElement).value)} /></label>
      </form>
      {error && <p class="error" role="alert">{error}</p>}
      {data && (
        <>
          <dl class="stats">
            <div><dt>Spent in range</dt><dd id="spend-total">${data.creditSpend.total.usd}</dd></div>
            <div><dt>Finished jobs</dt><dd>{total}</dd></div>
            <div><dt>Failure rate</dt><dd>{total ? `${((failed / total) * 100).toFixed(1)}%` : '—'}</dd></div>
            <div><dt>This month</dt><dd>{usd(data.usage.spentThisMonth)}</dd></div>
            <div><dt>Reserved (running)</dt><dd>{usd(data.usage.reserved)}</dd></div>
            <div><dt>Latest upstream credits</dt><dd>{credit ? <>{usd(credit.cost.upstreamCreditsRemaining)}<small>at {when(credit.finishedAt)}</small></> : '—'}</dd></div>
          </dl>
          <Chart data={data.creditSpend} from={from} to={to} />
          <details>
            <summary>The chart as a table</summary>
            <table id="spend-table">
              <thead><tr><th scope="col">Day</th><th scope="col">Model</th><th scope="col">Jobs</th><th scope="col">Spend</th></tr></thead>
              <tbody>{data.creditSpend.groups.map((g) => <tr><td>{g.day}</td><td>{MODEL_LABELS[g.model ?? '']}</td><td>{g.count}</td><td>{usd(g.total)}</td></tr>)}</tbody>
            </table>
          </details>
          <h2>Budgets</h2>
          {data.usage.budgets.length === 0 ? <p>No budget is set for this key.</p> : (
            <table>
              <thead><tr><th scope="col">Period</th><th scope="col">Limit</th><th scope="col">Committed</th><th scope="col">Remaining</th></tr></thead>
              <tbody>{data.usage.budgets.map((b) => <tr><td>{b.period}</td><td>{usd(b.limit)}</td><td>{usd(b.committed)}</td><td>{usd(b.remaining)}</td></tr>)}</tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}
