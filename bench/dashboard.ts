// The dashboard's gallery with a page of `--jobs` jobs (100: an output and two
// input thumbnails each) in headless Chromium (the Debian `chromium`, driven by
// playwright-core), measured in the page rather than timed from outside:
//   - long tasks (PerformanceObserver 'longtask': main-thread tasks over 50 ms),
//   - frame intervals (requestAnimationFrame deltas) while the page renders the
//     100 cards and then scrolls to the bottom, loading every lazy thumbnail,
//   - layout shift (PerformanceObserver 'layout-shift', summed like CLS),
//   - how long until every thumbnail on the page has loaded.
// Each rep is a fresh page load. The service runs from dist/ (tsc first) with
// its embedded worker on the emulator; --smoke: 12 jobs, 1 rep, from the sources.
//
// Rep 1 is cold (the server makes each thumbnail with sharp on its first request,
// on the cores Chromium runs on; each distinct image once: the jobs' inputs cycle
// through 6 photos), later reps warm (thumbnails made): the warm ones measure the
// page, the cold one the page beside the server's work. --cold restarts the API
// and forgets every thumbnail made (job_thumbnails) before each rep, so every rep
// is cold.
// --split-cores: the API, the emulator and PostgreSQL on core 0, the bench and
// Chromium on core 1 (taskset; PostgreSQL's processes are put back on every core
// at the end): the page on a machine of its own, as its users have it, rather
// than beside the server it loads 300 images from.
// --compare DIR: every other rep loads the dashboard built in DIR (app.js,
// app.css, e.g. a copy of another tree's web/dist) instead of this tree's, on the
// same server and jobs: interleaved before/after pairs in one run.
// Each rep gets a verdict: "smooth" when no task took over 50 ms and at most 5 %
// of frames took over 50 ms. Beside it, from a trace of the top-level tasks alone
// (always taken; cheap), the tasks over 50 ms of the main thread's CPU time: on
// a shared machine a task is long by the clock when its thread waits for a core.
// --trace DIR: a Chromium performance trace of each rep's measured window
// (DIR/rep-N.json; open in chrome://tracing or DevTools, or summarise with
// `npx tsx bench/support/trace-top.ts DIR/rep-N.json`). Tracing costs the page
// time itself: compare traced reps with traced reps.
//
//   npm run bench:dashboard [-- --smoke] [--jobs 100] [--reps 3] [--cold] [--split-cores] [--compare DIR] [--trace DIR]
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import pg from 'pg';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { buildDashboard } from '../scripts/build-dashboard.mjs';
import { findChromium, launchChromium } from '../test/support/browser.js';
import { samplePath } from '../test/support/engine-samples.js';
import { createBenchDatabase } from './support/db.js';
import { startApiProcess, startEmulatorProcess, type Proc } from './support/processes.js';
import { allCores, pinToCores, postgresPids } from './support/cores.js';
import { hasFlag, load, log, machine, printJson, table, numArg, strArg, type Row } from './support/report.js';
import { summarize } from './support/stats.js';

const smoke = hasFlag('smoke');
const jobs = numArg('jobs', smoke ? 12 : 100);
const reps = numArg('reps', smoke ? 1 : 3);
const traceDir = strArg('trace');
const compareDir = strArg('compare');
const coldEveryRep = hasFlag('cold');
const splitCores = hasFlag('split-cores');
/** Over this a task is long and a frame slow; at most this share of slow frames is smooth. */
const SLOW_MS = 50;
const SLOW_FRAME_SHARE = 0.05;
const PER_PAGE = 100;
if (jobs > PER_PAGE) throw new Error(`--jobs must be at most ${PER_PAGE} (one gallery page)`);

const chromiumPath = findChromium();
if (!chromiumPath) {
  console.error('bench:dashboard needs Chromium: install the Debian `chromium` package or set CHROMIUM_PATH.');
  process.exit(2);
}

/** Installed before the app's script (page code, as text: this file is compiled without the DOM's types). */
const PROBE = `(() => {
  const probe = { longTasks: [], longTaskStarts: [], shifts: 0, frames: [], recording: false, start: 0, scrollStart: 0 };
  window.__probe = probe;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (probe.recording) { probe.longTasks.push(e.duration); probe.longTaskStarts.push(e.startTime); }
  }).observe({ type: 'longtask', buffered: true });
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (probe.recording && !e.hadRecentInput) probe.shifts += e.value;
  }).observe({ type: 'layout-shift', buffered: true });
  let last = 0;
  const tick = (t) => {
    if (probe.recording && last) probe.frames.push(t - last);
    last = t;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();`;

/**
 * Page code, as text (tsx would wrap named functions in a helper the page lacks).
 * Which cards are in view comes from an IntersectionObserver, computed in the
 * page's own frames; the probe asks for no element's box. The first version read
 * every thumbnail's box every 10 ms: a card off screen is skipped by
 * `content-visibility: auto`, and asking for the box of anything inside it makes
 * Chromium lay it out there and then (a trace showed a 105 ms forced layout per
 * load, and 0.7 s of forced layouts in all: the probe's, not the page's).
 */
const SCROLL_THROUGH = `(async () => {
  const el = document.scrollingElement;
  window.__probe.scrollStart = performance.now();
  const frame = () => new Promise((r) => requestAnimationFrame(() => r(null)));
  const inView = new Set();
  let seen = 0;
  const io = new IntersectionObserver((entries) => {
    seen++;
    for (const e of entries) e.isIntersecting ? inView.add(e.target) : inView.delete(e.target);
  });
  for (const c of document.querySelectorAll('.gallery .card')) io.observe(c);
  // Until the observer has reported (after a scroll: reported anew), or a second has passed.
  const settled = async (before) => { const until = performance.now() + 1000; while (seen === before && performance.now() < until) await frame(); };
  const inViewLoaded = () => Array.from(inView).flatMap((c) => Array.from(c.querySelectorAll('.thumb')))
    .every((t) => { const img = t.querySelector('img'); return img && img.complete && img.naturalWidth > 0; });
  await settled(0);
  let n = 0;
  for (;;) {
    const deadline = performance.now() + 30000;
    while (!inViewLoaded() && performance.now() < deadline) await frame();
    n++;
    if (el.scrollTop + innerHeight >= el.scrollHeight - 2) { io.disconnect(); return n; }
    const before = seen;
    scrollBy(0, Math.round(innerHeight / 2));
    await settled(before);
  }
})()`;

interface RepResult {
  cards: number;
  thumbnails: number;
  allLoadedMs: number;
  longTasks: number[];
  /** Of them, those that began before the scrolling did: the render of the page of 100. */
  renderLongTasks: number[];
  frames: number[];
  layoutShift: number;
  /** CPU ms in the measured window (load-independent, unlike the wall times above). */
  cpu: CpuUse;
  /** The main-thread tasks over SLOW_MS of CPU time, in the measured window. */
  cpuLong: { overMs: number[]; maxMs: number };
}

/**
 * CPU spent while a rep is measured: the page's main thread (script, style,
 * layout as Chromium's Performance metrics count them on the thread's clock),
 * the renderer process in all (its raster and image-decode threads too), and
 * the API process (which makes thumbnails with sharp on a cold server).
 * Wall times on a shared machine mostly measure the neighbours; these do not.
 */
interface CpuUse { mainThread: number; script: number; style: number; layout: number; probe: number; renderer: number; api: number }

async function pageMetrics(page: Page): Promise<() => Promise<Omit<CpuUse, 'api'>>> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable', { timeDomain: 'threadTicks' } as never);
  const read = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((x) => [x.name, x.value])) as Record<string, number>;
  const before = await read();
  return async () => {
    const after = await read();
    const d = (name: string) => Math.round(1000 * ((after[name] ?? 0) - (before[name] ?? 0)));
    return { mainThread: d('ThreadTime'), script: d('ScriptDuration'), style: d('RecalcStyleDuration'), layout: d('LayoutDuration'), probe: d('DevToolsCommandDuration'), renderer: d('ProcessTime') };
  };
}

/** User + system CPU ms of a process so far (Linux /proc; clock ticks of 10 ms). */
async function processCpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Main-thread, frame, paint, script-sampling and image-decode events: enough to attribute a long task. */
const TRACE_CATEGORIES = [
  'devtools.timeline', 'disabled-by-default-devtools.timeline', 'disabled-by-default-devtools.timeline.frame',
  'blink', 'blink.user_timing', 'v8', 'v8.execute', 'disabled-by-default-v8.cpu_profiler', 'toplevel', 'loading', 'cc',
];

/**
 * The CPU time (ms) of each of the page's main-thread tasks over SLOW_MS, from a
 * trace of the top-level tasks alone (cheap: no sampling). A task that is long by
 * the clock but not in CPU time waited for a core: on a shared machine, the
 * neighbours' doing. The page's main thread: the renderer thread with most tasks.
 */
function cpuLongTasks(trace: Buffer): { overMs: number[]; maxMs: number } {
  type Ev = { ph: string; name: string; pid: number; tid: number; ts: number; dur?: number; tdur?: number; args?: { name?: string; data?: { message?: string } } };
  const parsed = JSON.parse(trace.toString('utf8')) as { traceEvents: Ev[] } | Ev[];
  const events = Array.isArray(parsed) ? parsed : parsed.traceEvents;
  const mains = new Set(events.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain').map((e) => `${e.pid}:${e.tid}`));
  const byThread = new Map<string, Ev[]>();
  for (const e of events) {
    const k = `${e.pid}:${e.tid}`;
    if (e.ph === 'X' && e.tdur !== undefined && mains.has(k) && (e.name === 'ThreadControllerImpl::RunTask' || e.name === 'RunTask')) byThread.set(k, [...(byThread.get(k) ?? []), e]);
  }
  const from = events.find((e) => e.name === 'TimeStamp' && e.args?.data?.message === 'bench-recording')?.ts ?? 0;
  const tasks = ([...byThread.values()].sort((a, b) => b.length - a.length)[0] ?? []).filter((e) => e.ts >= from);
  // Top-level only: a RunTask can nest inside another.
  const top: Ev[] = [];
  for (const e of tasks.sort((a, b) => a.ts - b.ts)) if (!top.length || e.ts >= top[top.length - 1]!.ts + top[top.length - 1]!.dur!) top.push(e);
  const cpu = top.map((e) => e.tdur! / 1000);
  return { overMs: cpu.filter((ms) => ms > SLOW_MS), maxMs: cpu.length ? Math.max(...cpu) : 0 };
}

async function rep(page: Page, url: string, apiPid: number, expectThumbs: number, browser: Browser, tracePath?: string): Promise<RepResult> {
  await page.goto(`${url}/#/`);
  await page.locator('.gallery .card').first().waitFor({ timeout: 120_000 });
  // Playwright's own page scripts, compiled now rather than inside the measured window (a trace showed 80 ms of it there).
  await page.waitForFunction(() => true, undefined, { polling: 50 });
  await browser.startTracing(page, { path: tracePath, categories: tracePath ? TRACE_CATEGORIES : ['toplevel'] });
  // Starting the sampling profiler is itself a long task (0.1–0.4 s): let it pass before recording.
  if (tracePath) await page.evaluate(() => new Promise((r) => setTimeout(r, 500)));
  // From the moment the page of 100 is asked for: render it, then scroll it all into view.
  const cpuSoFar = await pageMetrics(page);
  const apiBefore = await processCpuMs(apiPid);
  await page.evaluate(() => {
    const p = (globalThis as any).__probe;
    p.longTasks.length = 0;
    p.longTaskStarts.length = 0;
    p.frames.length = 0;
    p.shifts = 0;
    p.recording = true;
    p.start = performance.now();
    // Marks the window's start in a full trace (--trace), whose profiler starts in a long task of its own before it.
    console.timeStamp('bench-recording');
  });
  await page.locator('#filter-per-page').selectOption(String(PER_PAGE));
  await page.waitForFunction((n) => (globalThis as any).document.querySelectorAll('.gallery .card').length === n, jobs, { timeout: 120_000 });
  // Scroll down half a viewport at a time, as a reader skimming the page would, waiting
  // at each stop until the thumbnails in view have loaded (they are fetched as they come
  // into view, and a lazy <img> that scrolled past before its bytes came is loaded
  // only when it is back in view).
  const stops = (await page.evaluate(SCROLL_THROUGH)) as number;
  await page.waitForFunction(
    (n) => {
      const imgs = Array.from((globalThis as any).document.querySelectorAll('.gallery .thumb img') as any[]);
      return imgs.length === n && imgs.every((i) => i.complete && i.naturalWidth > 0);
    },
    expectThumbs,
    { timeout: 120_000, polling: 50 },
  );
  log(`  ${stops} scroll stops`);
  const got = await page.evaluate(() => {
    const w = globalThis as any;
    const p = w.__probe;
    p.recording = false;
    return {
      cards: w.document.querySelectorAll('.gallery .card').length,
      thumbnails: w.document.querySelectorAll('.gallery .thumb img').length,
      allLoadedMs: performance.now() - p.start,
      longTasks: [...p.longTasks],
      renderLongTasks: p.longTasks.filter((_d: number, i: number) => p.longTaskStarts[i] < p.scrollStart),
      frames: [...p.frames],
      layoutShift: p.shifts,
    };
  });
  const cpu = { ...(await cpuSoFar()), api: (await processCpuMs(apiPid)) - apiBefore };
  const cpuLong = cpuLongTasks(await browser.stopTracing());
  return { ...(got as Omit<RepResult, 'cpu' | 'cpuLong'>), cpu, cpuLong };
}

const m = await machine();
const db = await createBenchDatabase('dashboard');
const procs: Proc[] = [];
let exitCode = 0;
try {
  await buildDashboard({ quiet: true });
  const emulator = await startEmulatorProcess();
  procs.push(emulator);
  // A data directory of the bench's own, so an API restarted for a cold rep keeps the jobs' files.
  const dataDir = await mkdtemp(join(tmpdir(), 'swapyard-bench-dashboard-'));
  const startApi = () => startApiProcess({ databaseUrl: db.url, emulatorUrl: emulator.url, embeddedWorker: true, fast: true, sharedDataDir: dataDir });
  procs.push({ pid: 0, output: () => '', stop: () => rm(dataDir, { recursive: true, force: true }) } as unknown as Proc);
  let api = await startApi();
  procs.push(api);
  const serverCore = async () => {
    if (splitCores) await pinToCores([api.pid, emulator.pid, ...(await postgresPids())], '0');
  };
  await serverCore();
  const gql = async (query: string, variables?: unknown) => {
    const res = await fetch(`${api.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${api.key}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as { data?: any; errors?: unknown[] };
  };

  // Inline inputs (stored here, so each has a thumbnail), cycling through the sample faces.
  const samples = await Promise.all([1, 2, 3, 4, 5, 6].map(async (n) => (await readFile(samplePath(n))).toString('base64')));
  log(`creating ${jobs} jobs`);
  const ids: string[] = [];
  for (let i = 0; i < jobs; i++) {
    const res = await gql(
      `mutation($input: CreateFaceswapV4JobInput!) { createFaceswapV4Job(input: $input) { __typename ... on FaceswapV4Job { id } ... on UserError { message } } }`,
      { input: { sourceImage: samples[i % 6], targetImage: samples[(i + 1) % 6], seed: i, swapType: 'FACE' } },
    );
    const id = res.data?.createFaceswapV4Job?.id;
    if (!id) throw new Error(`create failed: ${JSON.stringify(res).slice(0, 500)}`);
    ids.push(id);
  }
  const deadline = Date.now() + 300_000;
  for (;;) {
    const res = await gql(`{ jobs(first: 100, filter: { status: [COMPLETED] }) { edges { cursor } } }`);
    const done = res.data?.jobs.edges.length ?? 0;
    if (done === jobs) break;
    if (Date.now() > deadline) throw new Error(`only ${done} of ${jobs} jobs completed`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const expectThumbs = jobs * 3;

  if (traceDir) await mkdir(traceDir, { recursive: true });
  const other = compareDir ? resolve(compareDir) : null;
  if (other) for (const f of ['app.js', 'app.css']) await readFile(join(other, f)); // fails early when the build is not there
  const variantOf = (r: number) => (other && r % 2 === 1 ? basename(other) : 'this tree');
  const serveOther = async (context: BrowserContext, dir: string) => {
    await context.route('**/assets/app.js', (route) => route.fulfill({ path: join(dir, 'app.js'), contentType: 'text/javascript' }));
    await context.route('**/assets/app.css', (route) => route.fulfill({ path: join(dir, 'app.css'), contentType: 'text/css' }));
  };
  // Chromium inherits the bench's cores.
  if (splitCores) await pinToCores([process.pid], '1');
  const browser = await launchChromium(chromiumPath);
  const results: (RepResult & { load: number; variant: string; server: 'cold' | 'warm' })[] = [];
  try {
    for (let r = 0; r < reps; r++) {
      if (coldEveryRep && r > 0) {
        // Thumbnails are remembered in the API process and, by what they were made
        // from, in job_thumbnails: a new process without those rows makes them again.
        await api.stop();
        const client = new pg.Client({ connectionString: db.url });
        await client.connect();
        await client.query('DELETE FROM job_thumbnails').finally(() => client.end());
        procs.splice(procs.indexOf(api), 1);
        api = await startApi();
        procs.push(api);
        await serverCore();
      }
      // A fresh context each rep: nothing cached, the key in session storage as after sign-in.
      const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
      await context.addInitScript(`sessionStorage.setItem('swapyard.apiKey', ${JSON.stringify(api.key)});\n${PROBE}`);
      if (other && variantOf(r) !== 'this tree') await serveOther(context, other);
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      const got = await rep(page, api.url, api.pid, expectThumbs, browser, traceDir ? join(traceDir, `rep-${r + 1}.json`) : undefined);
      await context.close();
      if (errors.length) throw new Error(`the page threw: ${errors.join('; ')}`);
      if (got.cards !== jobs || got.thumbnails !== expectThumbs) throw new Error(`rendered ${got.cards} cards / ${got.thumbnails} thumbnails`);
      const server = r === 0 || coldEveryRep ? 'cold' : 'warm';
      results.push({ ...got, load: load(), variant: variantOf(r), server });
      log(`rep ${r + 1} (${variantOf(r)}, ${server}): ${got.cards} cards, ${got.thumbnails} thumbnails in ${got.allLoadedMs.toFixed(0)} ms`);
    }
  } finally {
    await browser.close();
  }

  const slowShare = (r: RepResult) => r.frames.filter((x) => x > SLOW_MS).length / Math.max(1, r.frames.length);
  const smooth = (r: RepResult) => r.longTasks.length === 0 && slowShare(r) <= SLOW_FRAME_SHARE;
  const rows: Row[] = results.map((r, i) => {
    const f = summarize(r.frames);
    return {
      rep: i + 1,
      ...(other ? { dashboard: r.variant } : {}),
      server: r.server,
      cards: r.cards,
      thumbnails: r.thumbnails,
      'all loaded ms': Math.round(r.allLoadedMs),
      'long tasks': r.longTasks.length,
      'of them in render': r.renderLongTasks.length,
      'longest task ms': r.longTasks.length ? Math.round(Math.max(...r.longTasks)) : 0,
      'long task total ms': Math.round(r.longTasks.reduce((a, b) => a + b, 0)),
      frames: f.n,
      'frame p50 ms': Number(f.p50.toFixed(1)),
      'frame p95 ms': Number((r.frames.length ? [...r.frames].sort((a, b) => a - b)[Math.ceil(0.95 * r.frames.length) - 1]! : NaN).toFixed(1)),
      'frame max ms': Number(f.max.toFixed(1)),
      'frames > 50 ms': r.frames.filter((x) => x > SLOW_MS).length,
      '% frames > 50 ms': Number((100 * slowShare(r)).toFixed(1)),
      'tasks > 50 ms CPU': r.cpuLong.overMs.length,
      'max task CPU ms': Math.round(r.cpuLong.maxMs),
      'main CPU ms': r.cpu.mainThread,
      'script / style / layout ms': `${r.cpu.script} / ${r.cpu.style} / ${r.cpu.layout}`,
      'renderer CPU ms': r.cpu.renderer,
      'API CPU ms': r.cpu.api,
      'layout shift': Number(r.layoutShift.toFixed(4)),
      load: r.load,
      verdict: smooth(r) ? 'smooth' : 'jank',
    };
  });
  console.log(table(`Dashboard gallery — ${jobs} jobs (${expectThumbs} thumbnails) on one page, ${reps} fresh loads; headless Chromium, ${m.cpus}× ${m.cpuModel}, Node ${m.node}`, rows));
  // The goal, per dashboard and server state: no task over 50 ms, at most 5 % of frames over 50 ms.
  for (const variant of [...new Set(results.map((r) => r.variant))]) {
    for (const server of ['warm', 'cold'] as const) {
      const these = results.filter((r) => r.variant === variant && r.server === server);
      if (!these.length) continue;
      const ok = these.filter(smooth).length;
      console.log(`verdict${other ? ` (${variant})` : ''}, ${server} server: ${ok} of ${these.length} loads smooth (no task > ${SLOW_MS} ms, ≤ ${100 * SLOW_FRAME_SHARE} % frames > ${SLOW_MS} ms)` +
        ` — ${ok === these.length ? 'HOLDS' : 'DOES NOT HOLD'}`);
      // The same tasks by their CPU time: what the page asks of a core, whatever else runs on it.
      const lean = these.filter((r) => r.cpuLong.overMs.length === 0).length;
      console.log(`  by CPU time: ${lean} of ${these.length} loads without a main-thread task over ${SLOW_MS} ms of CPU (the most: ${Math.round(Math.max(...these.map((r) => r.cpuLong.maxMs)))} ms)`);
    }
  }
  printJson('dashboard', {
    smoke, machine: m, jobs, reps,
    results: results.map((r) => ({
      variant: r.variant, server: r.server, smooth: smooth(r), renderLongTasks: r.renderLongTasks.length,
      cpuMs: r.cpu, cpuLongTasks: r.cpuLong,
      cards: r.cards, thumbnails: r.thumbnails, allLoadedMs: r.allLoadedMs, layoutShift: r.layoutShift, load: r.load,
      longTasks: { count: r.longTasks.length, totalMs: r.longTasks.reduce((a, b) => a + b, 0), maxMs: r.longTasks.length ? Math.max(...r.longTasks) : 0 },
      frameMs: summarize(r.frames),
      framesOver50ms: r.frames.filter((x) => x > 50).length,
    })),
  });
} catch (err) {
  console.error(err);
  for (const p of procs) console.error(`--- last output of pid ${p.pid}:\n${p.output().slice(-3000)}`);
  exitCode = 1;
} finally {
  for (const p of procs.reverse()) await p.stop().catch(() => {});
  await db.drop().catch(() => {});
  if (splitCores) await pinToCores(await postgresPids(), allCores()).catch(() => {});
}
process.exit(exitCode);
