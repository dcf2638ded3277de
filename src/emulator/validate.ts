// Checks a request body against the contract table and fills in defaults.
// Stricter than the vendor in one way on purpose: unknown fields are refused,
// because a misspelt optional wire name would otherwise be silently ignored.

import type { EmulatedModel, FieldDef } from './contract.js';
import { sniffImage } from './image.js';

export type Validated =
  | { ok: true; params: Record<string, unknown> }
  | { ok: false; field: string | null; message: string };

export function validateBody(model: EmulatedModel, body: unknown): Validated {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, field: null, message: 'request body must be a JSON object' };
  }
  const input = body as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!Object.hasOwn(model.fields, key)) {
      return { ok: false, field: key, message: `${key}: unknown field for ${model.slug}` };
    }
  }
  const params: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(model.fields)) {
    const present = Object.hasOwn(input, name);
    if (!present) {
      if (def.type === 'image' && def.required) {
        return { ok: false, field: name, message: `${name}: required field is missing` };
      }
      if (def.default !== undefined) params[name] = def.default;
      continue;
    }
    const problem = checkValue(def, input[name]);
    if (problem) return { ok: false, field: name, message: `${name}: ${problem}` };
    params[name] = input[name];
  }
  return { ok: true, params };
}

function checkValue(def: FieldDef, value: unknown): string | null {
  switch (def.type) {
    case 'image':
      return typeof value === 'string' ? checkImage(value) : `must be a string (URL or base64), got ${typeName(value)}`;
    case 'enum':
      if (typeof value !== 'string') return `must be a string, got ${typeName(value)}`;
      return def.values.includes(value) ? null : `"${value}" is not one of ${def.values.join(', ')}`;
    case 'int':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) return `must be an integer, got ${typeName(value)}`;
      return checkRange(value, def.min, def.max);
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return `must be a number, got ${typeName(value)}`;
      return checkRange(value, def.min, def.max);
    case 'bool':
      return typeof value === 'boolean' ? null : `must be a boolean, got ${typeName(value)}`;
    case 'string':
      return typeof value === 'string' ? null : `must be a string, got ${typeName(value)}`;
    case 'faceList':
      if (typeof value !== 'string') return `must be a string, got ${typeName(value)}`;
      return /^\s*\d+\s*(,\s*\d+\s*)*$/.test(value)
        ? null
        : `"${value}" is not a comma-separated list of face indices such as "0,1,2"`;
  }
}

function checkRange(value: number, min?: number, max?: number): string | null {
  if ((min !== undefined && value < min) || (max !== undefined && value > max)) {
    return `${value} is out of range ${min ?? '-inf'}..${max ?? 'inf'}`;
  }
  return null;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && !Number.isInteger(value)) return `number ${value}`;
  return typeof value;
}

const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** The emulator never fetches URLs, but it does look inside inline images. */
function checkImage(value: string): string | null {
  const malformed = 'is not a valid image: expected an http(s) URL, a data: URI or base64-encoded image bytes';
  if (/^https?:\/\//i.test(value)) {
    try {
      const url = new URL(value);
      return url.hostname ? null : malformed;
    } catch {
      return malformed;
    }
  }
  let payload = value;
  if (/^data:/i.test(value)) {
    const comma = value.indexOf(',');
    if (comma < 0 || !/;base64$/i.test(value.slice(0, comma))) return malformed;
    payload = value.slice(comma + 1);
  }
  const compact = payload.replace(/\s+/g, '');
  if (compact.length < 8 || !BASE64.test(compact)) return malformed;
  return sniffImage(Buffer.from(compact, 'base64')) ? null : malformed;
}
