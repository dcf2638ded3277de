// The web dashboard, served by the API itself at / (same origin, so the browser
// sends the API key as a bearer header to /graphql with no CORS): the files
// esbuild wrote to web/dist/ at install (scripts/build-dashboard.mjs), held in
// memory with their gzip, and /ui/models.json, the model specs the new-swap form
// is generated from (the same specs the schema is derived from).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { MODELS } from '../models/registry.js';
import { SEED_MAX, SEED_MIN, type ParamSpec } from '../models/types.js';

const FILES: Record<string, string> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/assets/app.js': 'app.js',
  '/assets/app.css': 'app.css',
};

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json; charset=utf-8',
};

// Nothing but this origin: no CDN, font or script from elsewhere. Images may be
// blob: (fetched with the key) or any http(s) URL a job was given as input.
const CSP = "default-src 'self'; img-src 'self' blob: data: http: https:; connect-src 'self' ws: wss:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

interface Asset { body: Buffer; gzip: Buffer; type: string; etag: string }

/** web/dist next to the sources (tsx) or above dist/ (the compiled build). */
function distDir(): string | null {
  for (const rel of ['../../web/dist/', '../../../web/dist/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}index.html`)) return dir;
  }
  return null;
}

function asset(body: Buffer, type: string): Asset {
  return { body, gzip: gzipSync(body, { level: 9 }), type, etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"` };
}

/** What the form needs of each param; enum values and defaults by their GraphQL names. */
function formParam(p: ParamSpec): Record<string, unknown> {
  const base = { kind: p.kind, name: p.name, wire: p.wire, description: p.description };
  switch (p.kind) {
    case 'enum':
      return { ...base, values: Object.entries(p.values).map(([name, wire]) => ({ name, wire })), default: Object.entries(p.values).find(([, wire]) => wire === p.default)?.[0] ?? null };
    case 'seed':
      return { ...base, min: SEED_MIN, max: SEED_MAX };
    case 'image':
      return { ...base, required: p.required, hasDefault: p.default !== undefined };
    case 'string':
      return { ...base, default: p.default, maxLength: p.maxLength };
    case 'int': case 'float':
      return { ...base, default: p.default ?? null, min: p.min ?? null, max: p.max ?? null };
    default:
      return { ...base, default: p.default };
  }
}

export function modelForms(): unknown {
  return MODELS.map((m) => ({ key: m.key, slug: m.slug, graphqlName: m.graphqlName, description: m.description, params: m.params.map(formParam) }));
}

export class Dashboard {
  private assets: Map<string, Asset> | null = null;

  private load(): Map<string, Asset> {
    if (this.assets) return this.assets;
    const assets = new Map<string, Asset>();
    const dir = distDir();
    if (dir) {
      for (const [path, file] of Object.entries(FILES)) {
        if (existsSync(dir + file)) assets.set(path, asset(readFileSync(dir + file), TYPES[file.split('.').pop()!]!));
      }
    }
    assets.set('/ui/models.json', asset(Buffer.from(JSON.stringify(modelForms())), TYPES.json!));
    this.assets = assets;
    return assets;
  }

  /** Whether `path` is one of the dashboard's. */
  handles(path: string): boolean {
    return path in FILES || path === '/ui/models.json';
  }

  serve(req: IncomingMessage, res: ServerResponse, path: string): void {
    const found = this.load().get(path);
    if (!found) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('The dashboard is not built: run `npm run dashboard:build` (npm install does it).');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' });
      res.end();
      return;
    }
    const headers: Record<string, string> = {
      'content-type': found.type,
      etag: found.etag,
      'cache-control': 'no-cache',
      vary: 'accept-encoding',
      'x-content-type-options': 'nosniff',
      'content-security-policy': CSP,
      'referrer-policy': 'no-referrer',
    };
    if (req.headers['if-none-match'] === found.etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gzip ? found.gzip : found.body;
    res.writeHead(200, { ...headers, ...(gzip ? { 'content-encoding': 'gzip' } : {}), 'content-length': String(body.length) });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}
