// The import layers (.dependency-cruiser.cjs): imports in src/ run down, never
// up and never in a circle. The check runs over the real tree, and over a tiny
// tree with one upward import and one circle to show it catches both.
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const CLI = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');

async function cruise(cwd: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, 'src', '--config', CONFIG, '--output-type', 'err'], { cwd });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

const scratch = mkdtempSync(join(tmpdir(), 'swapyard-layers-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function write(path: string, text: string): void {
  mkdirSync(dirname(join(scratch, path)), { recursive: true });
  writeFileSync(join(scratch, path), text);
}

describe('import layers', () => {
  it('src/ has no upward import and no circle', async () => {
    const { code, output } = await cruise(ROOT);
    expect(output).toContain('no dependency violations found');
    expect(code).toBe(0);
  });

  it('fails on an upward import and on a circle, naming the rule', async () => {
    write('tsconfig.json', JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext' } }));
    write('src/server/http.ts', "export const port = 1;\n");
    write('src/util/clock.ts', "import { port } from '../server/http.js';\nexport const now = port;\n");
    write('src/services/a.ts', "import { b } from './b.js';\nexport const a = () => b;\n");
    write('src/services/b.ts', "import { a } from './a.js';\nexport const b = () => a;\n");
    const { code, output } = await cruise(scratch);
    expect(code).not.toBe(0);
    expect(output).toMatch(/no-upward-from-models-db-util-net-config.*src\/util\/clock\.ts → src\/server\/http\.ts/);
    expect(output).toMatch(/no-circular.*src\/services\/a\.ts/);
  });
});
