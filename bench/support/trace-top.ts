// Summarises a Chromium trace of one dashboard rep (bench/dashboard.ts --trace):
// what the renderer's main thread spent its time on (self time by event kind),
// each long task (> 50 ms) broken down the same way with the page's hottest
// JS functions in it (from the sampling profiler), and what the main thread
// did during each animation-frame gap over 50 ms, so a slow frame is seen to be
// main-thread work or a thread that waited for the CPU.
//   npx tsx bench/support/trace-top.ts <trace.json> [--long 50]
import { readFileSync } from 'node:fs';

interface Ev { name: string; cat: string; ph: string; ts: number; dur?: number; tdur?: number; pid: number; tid: number; id?: string; args?: any }

const file = process.argv[2];
if (!file) throw new Error('usage: trace-top <trace.json> [--long 50]');
const longMs = process.argv.includes('--long') ? Number(process.argv[process.argv.indexOf('--long') + 1]) : 50;
const raw = JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: Ev[] } | Ev[];
const events = Array.isArray(raw) ? raw : raw.traceEvents;

// The page's renderer main thread: the CrRendererMain with the most events.
const names = new Map<string, string>();
for (const e of events) if (e.ph === 'M' && e.name === 'thread_name') names.set(`${e.pid}:${e.tid}`, e.args.name);
const counts = new Map<string, number>();
for (const e of events) {
  const k = `${e.pid}:${e.tid}`;
  if (names.get(k) === 'CrRendererMain') counts.set(k, (counts.get(k) ?? 0) + 1);
}
const mainKey = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
if (!mainKey) throw new Error('no CrRendererMain thread in the trace');
const rendererPid = Number(mainKey.split(':')[0]);
const main = events.filter((e) => `${e.pid}:${e.tid}` === mainKey && e.ph === 'X' && e.dur !== undefined).sort((a, b) => a.ts - b.ts || b.dur! - a.dur!);
// Top-level tasks only (a RunTask may nest inside another).
const tasks: Ev[] = [];
for (const e of main) {
  if (e.name !== 'ThreadControllerImpl::RunTask' && e.name !== 'RunTask') continue;
  const last = tasks[tasks.length - 1];
  if (last && e.ts < last.ts + last.dur!) continue;
  tasks.push(e);
}

/** Groups event names into what a reader asks about. */
function kind(e: Ev): string {
  const n = e.name;
  if (/^(V8\.GC|MinorGC|MajorGC|BlinkGC|V8\.GC_)|GCEvent|CppGC/.test(n)) return 'gc';
  if (['FunctionCall', 'EvaluateScript', 'v8.callFunction', 'V8.Execute', 'v8.run', 'TimerFire', 'FireAnimationFrame', 'EventDispatch', 'RunMicrotasks', 'v8.evaluateModule', 'FireIdleCallback'].includes(n) || n.startsWith('v8.') || n.startsWith('V8.')) return `script`;
  if (n === 'Blink.ForcedStyleAndLayout.UpdateTime') return 'style/layout forced by script';
  if (/^(UpdateLayoutTree|RecalculateStyles|ScheduleStyleRecalculation|ParseAuthorStyleSheet|Document::recalcStyle|Document::UpdateStyle|StyleEngine|Blink.Style)/.test(n)) return 'style';
  if (/^(Layout|UpdateLayout|InvalidateLayout|LocalFrameView::(layout|performLayout|UpdateStyleAndLayout)|Document::UpdateStyleAndLayout|Blink.Layout)/.test(n)) return 'layout';
  if (/^(Paint|PrePaint|Layerize|UpdateLayer|PaintImage|CompositeLayers|Commit|PaintArtifactCompositor|Blink.(Paint|PrePaint|CompositingInputs|Compositing)|cc::|ProxyMain|LayerTreeHost)/.test(n)) return 'paint/composite';
  if (/Decode|ImageDecode|Image.*Decode|Resize/.test(n)) return 'image decode';
  if (n === 'ParseHTML' || n === 'HTMLDocumentParser') return 'html parse';
  if (/^(Resource|ResponseBodyLoader|ResourceFetcher|ResourceLoader|Blob|FileReader|XHR|Fetch)/.test(n)) return 'loading (fetch, blob, resource)';
  if (n === 'HitTest' || n === 'IntersectionObserverController::computeIntersections' || n.includes('Intersection')) return 'intersection/hit test';
  if (n === 'ThreadControllerImpl::RunTask' || n === 'RunTask') return 'task (other)';
  return `other: ${n}`;
}

/** Self time (ms) by kind and by event name, for the main-thread events inside [from, to]. */
function selfTimes(from: number, to: number): { byKind: Map<string, number>; byName: Map<string, number>; busy: number } {
  const inside = main.filter((e) => e.ts >= from && e.ts + e.dur! <= to + 1);
  const byKind = new Map<string, number>();
  const byName = new Map<string, number>();
  const stack: { e: Ev; child: number }[] = [];
  let busy = 0;
  const close = (until: number) => {
    while (stack.length && stack[stack.length - 1]!.e.ts + stack[stack.length - 1]!.e.dur! <= until) {
      const top = stack.pop()!;
      const self = top.e.dur! - top.child;
      const k = kind(top.e);
      byKind.set(k, (byKind.get(k) ?? 0) + self / 1000);
      const label = top.e.name + (top.e.args?.data?.functionName ? ` ${top.e.args.data.functionName}` : '');
      byName.set(label, (byName.get(label) ?? 0) + self / 1000);
      if (stack.length) stack[stack.length - 1]!.child += top.e.dur!;
      else busy += top.e.dur! / 1000;
    }
  };
  for (const e of inside) {
    close(e.ts);
    stack.push({ e, child: 0 });
  }
  close(Infinity);
  return { byKind, byName, busy };
}

// Sampled JS stacks: the renderer's Profile/ProfileChunk events.
interface PNode { id: number; callFrame: { functionName: string; url: string; lineNumber?: number; columnNumber?: number }; parent?: number }
const nodes = new Map<number, PNode>();
const samples: { ts: number; node: number }[] = [];
{
  const chunks = events.filter((e) => e.pid === rendererPid && (e.name === 'Profile' || e.name === 'ProfileChunk'));
  const byId = new Map<string, Ev[]>();
  for (const c of chunks) byId.set(c.id ?? '', [...(byId.get(c.id ?? '') ?? []), c]);
  for (const list of byId.values()) {
    const start = list.find((c) => c.name === 'Profile');
    let t = start?.args?.data?.startTime ?? list[0]!.ts;
    for (const c of list.filter((x) => x.name === 'ProfileChunk')) {
      const cp = c.args?.data?.cpuProfile ?? {};
      for (const n of cp.nodes ?? []) nodes.set(n.id, n);
      const deltas: number[] = c.args?.data?.timeDeltas ?? [];
      (cp.samples ?? []).forEach((s: number, i: number) => {
        t += deltas[i] ?? 0;
        samples.push({ ts: t, node: s });
      });
    }
  }
}
function frameLabel(n: PNode | undefined): string {
  if (!n) return '?';
  const f = n.callFrame;
  const where = f.url ? `${f.url.replace(/^.*\//, '')}:${(f.lineNumber ?? 0) + 1}:${(f.columnNumber ?? 0) + 1}` : '';
  return `${f.functionName || '(anonymous)'} ${where}`.trim();
}
/** Sampled self time by function and the app's own frames (inclusive) inside [from, to]. */
function jsTop(from: number, to: number, n = 8): string[] {
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  let total = 0;
  const inWindow = samples.filter((s) => s.ts >= from && s.ts <= to);
  for (let i = 0; i < inWindow.length; i++) {
    const s = inWindow[i]!;
    const next = inWindow[i + 1];
    const w = next ? Math.min(next.ts - s.ts, 2000) : 100; // µs this sample stands for
    const node = nodes.get(s.node);
    const label = frameLabel(node);
    if (label.startsWith('(idle)') || label.startsWith('(program)')) continue;
    total += w;
    self.set(label, (self.get(label) ?? 0) + w);
    const seen = new Set<string>();
    for (let p: PNode | undefined = node; p; p = p.parent !== undefined ? nodes.get(p.parent) : undefined) {
      const l = frameLabel(p);
      if (seen.has(l) || !p.callFrame.url) continue;
      seen.add(l);
      incl.set(l, (incl.get(l) ?? 0) + w);
    }
  }
  const top = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${(v / 1000).toFixed(1).padStart(7)} ms  ${k}`);
  return [`  sampled JS ${(total / 1000).toFixed(1)} ms; self:`, ...top(self).map((l) => `  ${l}`), '  inclusive (frames with a URL):', ...top(incl).map((l) => `  ${l}`)];
}

const fmt = (m: Map<string, number>, n = 10) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).filter(([, v]) => v >= 0.5).map(([k, v]) => `${v.toFixed(1).padStart(8)} ms  ${k}`).join('\n');

const start = tasks[0]?.ts ?? 0;
const end = Math.max(...tasks.map((t) => t.ts + t.dur!));
const all = selfTimes(start, end);
console.log(`${file}: main thread ${mainKey}, ${((end - start) / 1000).toFixed(0)} ms traced, busy ${all.busy.toFixed(0)} ms in ${tasks.length} tasks`);
console.log(`\nself time by kind, whole trace:\n${fmt(all.byKind)}`);
console.log(`\nself time by event, whole trace:\n${fmt(all.byName, 15)}`);
console.log(`\nJS, whole trace:\n${jsTop(start, end, 15).join('\n')}`);

// CPU by thread (the top-level tasks' thread time), to see image decode and raster beside the main thread.
const cpuByThread = new Map<string, number>();
const depth = new Map<string, number>(); // end of the current top-level event per thread
for (const e of [...events].filter((x) => x.ph === 'X' && x.tdur !== undefined && x.ts >= start && x.ts <= end).sort((a, b) => a.ts - b.ts)) {
  const k = `${e.pid}:${e.tid}`;
  if (e.ts < (depth.get(k) ?? 0)) continue;
  depth.set(k, e.ts + e.dur!);
  const label = `${e.pid === rendererPid ? 'renderer' : `pid ${e.pid}`} ${names.get(k) ?? e.tid}`;
  cpuByThread.set(label, (cpuByThread.get(label) ?? 0) + e.tdur! / 1000);
}
console.log(`\nthread CPU (top-level trace events), whole trace:\n${fmt(cpuByThread, 12)}`);

const long = tasks.filter((t) => t.dur! / 1000 > longMs);
// A task can be long by the clock because its thread waited for a CPU (a shared machine); its thread time says which.
const cpuLong = tasks.filter((t) => (t.tdur ?? t.dur!) / 1000 > longMs);
const cpuMax = Math.max(...tasks.map((t) => (t.tdur ?? t.dur!) / 1000));
console.log(`\n${long.length} tasks over ${longMs} ms by the clock (total ${long.reduce((s, t) => s + t.dur! / 1000, 0).toFixed(0)} ms); ` +
  `${cpuLong.length} over ${longMs} ms of the main thread's CPU time (the most: ${cpuMax.toFixed(0)} ms)`);
for (const t of long) {
  const st = selfTimes(t.ts, t.ts + t.dur!);
  const cpu = t.tdur !== undefined ? `, on CPU ${(t.tdur / 1000).toFixed(0)} ms` : '';
  console.log(`\n- at +${((t.ts - start) / 1000).toFixed(0)} ms: ${(t.dur! / 1000).toFixed(0)} ms wall${cpu}`);
  console.log(fmt(st.byKind, 8).replace(/^/gm, '  '));
  console.log(fmt(st.byName, 8).replace(/^/gm, '  '));
  console.log(jsTop(t.ts, t.ts + t.dur!).join('\n'));
}

// Animation frames: the gaps between the page's requestAnimationFrame callbacks.
const raf = main.filter((e) => e.name === 'FireAnimationFrame').map((e) => e.ts);
const gaps: { from: number; to: number }[] = [];
for (let i = 1; i < raf.length; i++) if ((raf[i]! - raf[i - 1]!) / 1000 > longMs) gaps.push({ from: raf[i - 1]!, to: raf[i]! });
console.log(`\n${raf.length} animation frames, ${gaps.length} gaps over ${longMs} ms`);
const gapKinds = new Map<string, number>();
let gapWall = 0;
let gapBusy = 0;
let gapCpu = 0;
for (const g of gaps) {
  const st = selfTimes(g.from, g.to);
  gapWall += (g.to - g.from) / 1000;
  gapBusy += st.busy;
  gapCpu += tasks.filter((t) => t.ts >= g.from && t.ts <= g.to).reduce((s, t) => s + (t.tdur ?? t.dur!) / 1000, 0);
  for (const [k, v] of st.byKind) gapKinds.set(k, (gapKinds.get(k) ?? 0) + v);
  const top = [...st.byKind].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ');
  console.log(`  +${((g.from - start) / 1000).toFixed(0)} ms: ${((g.to - g.from) / 1000).toFixed(0)} ms gap, main thread busy ${st.busy.toFixed(0)} ms (${top})`);
}
if (gaps.length) {
  console.log(`gaps: ${gapWall.toFixed(0)} ms in all, main thread busy ${gapBusy.toFixed(0)} ms of it (on CPU ${gapCpu.toFixed(0)} ms); by kind:`);
  console.log(fmt(gapKinds, 8).replace(/^/gm, '  '));
}
