// Turns a create-job input (GraphQL field names) into the full wire parameter
// set that is stored on the job and sent upstream: every default filled in and
// the seed drawn when the client left it out, so a job can always be rerun
// exactly. Rule violations are collected, not thrown, so the client sees all
// of them at once.
import { randomInt } from 'node:crypto';
import { checkImage } from './image-input.js';
import { isImageRef } from './image-ref.js';
import { SEED_MAX, SEED_MIN, type ModelSpec, type ParamSpec } from './types.js';

export interface Violation {
  /** Path of the offending input field, e.g. "input.imageQuality". */
  field: string;
  /** Machine-readable rule name, e.g. "range". */
  rule: string;
  message: string;
}

export interface Normalised {
  params: Record<string, unknown>;
  seed: number | null;
}

export type NormaliseResult = { ok: true; value: Normalised } | { ok: false; violations: Violation[] };

const FACE_INDEX_LIST = /^\d{1,3}(,\d{1,3}){0,31}$/;

function describeRange(p: { min?: number; max?: number }): string {
  if (p.min !== undefined && p.max !== undefined) return `between ${p.min} and ${p.max}`;
  if (p.min !== undefined) return `at least ${p.min}`;
  return `at most ${p.max}`;
}

/** Returns the wire value to store, or a violation. `undefined` means "leave the field out". */
function normaliseParam(
  p: ParamSpec,
  raw: unknown,
  opts: NormaliseOptions,
): { value: unknown } | { rule: string; message: string } {
  const given = raw !== undefined && raw !== null;
  switch (p.kind) {
    case 'image': {
      if (!given) {
        if (p.required) return { rule: 'required', message: 'is required' };
        return { value: p.default };
      }
      // A rerun passes the original's stored images on as they are.
      if (opts.storedImages && isImageRef(raw)) return { value: raw };
      if (typeof raw !== 'string') return { rule: 'type', message: 'must be a string' };
      const check = checkImage(raw, opts.maxImageBytes);
      return check.ok ? { value: raw } : check;
    }
    case 'enum': {
      if (!given) return { value: p.default };
      const allowed = Object.values(p.values);
      if (typeof raw !== 'string' || !allowed.includes(raw)) {
        return { rule: 'enum', message: `must be one of ${allowed.join(', ')}` };
      }
      return { value: raw };
    }
    case 'int':
    case 'float': {
      if (!given) return { value: p.default };
      if (typeof raw !== 'number' || !Number.isFinite(raw) || (p.kind === 'int' && !Number.isInteger(raw))) {
        return { rule: 'type', message: p.kind === 'int' ? 'must be an integer' : 'must be a finite number' };
      }
      if ((p.min !== undefined && raw < p.min) || (p.max !== undefined && raw > p.max)) {
        return { rule: 'range', message: `must be ${describeRange(p)}` };
      }
      return { value: raw };
    }
    case 'seed': {
      if (!given) return { value: randomInt(SEED_MIN, SEED_MAX) };
      if (typeof raw !== 'number' || !Number.isInteger(raw)) return { rule: 'type', message: 'must be an integer' };
      if (raw < SEED_MIN || raw > SEED_MAX) {
        return { rule: 'range', message: `must be between ${SEED_MIN} and ${SEED_MAX}` };
      }
      return { value: raw };
    }
    case 'boolean': {
      if (!given) return { value: p.default };
      if (typeof raw !== 'boolean') return { rule: 'type', message: 'must be a boolean' };
      return { value: raw };
    }
    case 'string': {
      if (!given) return { value: p.default };
      if (typeof raw !== 'string') return { rule: 'type', message: 'must be a string' };
      if (raw.length > p.maxLength) return { rule: 'max-length', message: `must be at most ${p.maxLength} characters` };
      return { value: raw };
    }
    case 'faceIndexList': {
      if (!given) return { value: p.default };
      if (typeof raw !== 'string') return { rule: 'type', message: 'must be a string' };
      // Spaces after commas are a common way to write lists; the wire form has none.
      const compact = raw.replace(/\s+/g, '');
      if (!FACE_INDEX_LIST.test(compact)) {
        return {
          rule: 'face-index-list',
          message: 'must be a comma list of face indices (0–999, at most 32), e.g. "0,1,2"',
        };
      }
      return { value: compact };
    }
  }
}

export interface NormaliseOptions {
  maxImageBytes: number;
  /** Path of the input in error messages; default "input". */
  path?: string;
  /** Image fields may hold stored images (ImageRef) as well as strings: a rerun's, copied from its original. */
  storedImages?: boolean;
}

export function normaliseInput(spec: ModelSpec, input: Record<string, unknown>, opts: NormaliseOptions): NormaliseResult {
  const path = opts.path ?? 'input';
  const params: Record<string, unknown> = {};
  const violations: Violation[] = [];
  let seed: number | null = null;
  for (const p of spec.params) {
    const outcome = normaliseParam(p, input[p.name], opts);
    if ('rule' in outcome) {
      violations.push({ field: `${path}.${p.name}`, rule: outcome.rule, message: `${p.name} ${outcome.message}` });
      continue;
    }
    if (outcome.value === undefined) continue;
    params[p.wire] = outcome.value;
    if (p.kind === 'seed') seed = outcome.value as number;
  }
  return violations.length > 0 ? { ok: false, violations } : { ok: true, value: { params, seed } };
}
