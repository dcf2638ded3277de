// Summarises a V8 .cpuprofile (from --cpu-prof): self time by function and by package.
//   npx tsx bench/support/cpuprofile-top.ts <file.cpuprofile> [topN]
import { readFileSync } from 'node:fs';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
const file = process.argv[2];
if (!file) throw new Error('usage: cpuprofile-top <file> [n]');
const topN = Number(process.argv[3] ?? 25);
const prof = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
prof.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const fn = new Map<string, number>();
const pkg = new Map<string, number>();
for (const [id, us] of self) {
  const n = byId.get(id)!;
  const url = n.callFrame.url;
  const key = `${n.callFrame.functionName || '(anon)'} ${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/wt-bench\//, '')}:${n.callFrame.lineNumber}`;
  fn.set(key, (fn.get(key) ?? 0) + us);
  const p = url.includes('node_modules/')
    ? url.split('node_modules/').pop()!.split('/').slice(0, url.split('node_modules/').pop()!.startsWith('@') ? 2 : 1).join('/')
    : url.startsWith('node:') ? 'node:' + url.slice(5).split('/')[0] : url ? url.replace(/^file:\/\/.*\/wt-bench\//, '').split('/').slice(0, 2).join('/') : n.callFrame.functionName;
  pkg.set(p, (pkg.get(p) ?? 0) + us);
}
const show = (m: Map<string, number>, title: string) => {
  console.log(`\n${title} (total ${(total / 1000).toFixed(0)} ms sampled)`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, topN)) console.log(`${(us / 1000).toFixed(1).padStart(9)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`);
};
show(pkg, 'self time by package');
show(fn, 'self time by function');
