import { describe, expect, it } from 'vitest';
import { checkImage } from '../src/models/image-input.js';
import { normaliseInput } from '../src/models/normalise.js';
import { modelSpec } from '../src/models/registry.js';
import { SEED_MAX } from '../src/models/types.js';
import { TINY_PNG_BASE64 } from './support/fixtures.js';

const opts = { maxImageBytes: 1024 };
const v4 = modelSpec('FACESWAP_V4');
const images = { sourceImage: 'https://example.com/a.jpg', targetImage: 'https://example.com/b.png' };

describe('normaliseInput', () => {
  it('fills every default and draws a seed in range', () => {
    const r = normaliseInput(v4, images, opts);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.params).toEqual({
      source_image: images.sourceImage, target_image: images.targetImage, swap_type: 'head', model_type: 'speed',
      style_type: 'normal', seed: r.value.seed, image_format: 'png', image_quality: 90, hardware: 'fast', base64: false,
    });
    expect(r.value.seed).toBeGreaterThanOrEqual(0);
    expect(r.value.seed).toBeLessThanOrEqual(SEED_MAX);
  });

  it('takes a stored image reference only on a rerun (storedImages), never from a create', () => {
    const ref = { artifact: { key: `${'a'.repeat(64)}.png`, sha256: 'a'.repeat(64), contentType: 'image/png', bytes: 68, width: 1, height: 1 } };
    const created = normaliseInput(v4, { ...images, sourceImage: ref }, opts);
    expect(created).toEqual({ ok: false, violations: [{ field: 'input.sourceImage', rule: 'type', message: 'sourceImage must be a string' }] });
    const rerun = normaliseInput(v4, { ...images, sourceImage: ref }, { ...opts, storedImages: true });
    expect(rerun.ok && rerun.value.params.source_image).toEqual(ref);
    // Something merely shaped like one is still refused.
    const forged = normaliseInput(v4, { ...images, sourceImage: { artifact: { key: '../../etc/passwd' } } }, { ...opts, storedImages: true });
    expect(forged.ok).toBe(false);
  });

  it('fills the body swap vendor sample images when left out', () => {
    const r = normaliseInput(modelSpec('BODY_SWAP'), {}, opts);
    expect(r.ok && r.value.params.reference_character_image).toMatch(/^https:\/\/segmind-inference-inputs/);
  });

  it('leaves an optional image without default out of the wire parameters', () => {
    const r = normaliseInput(modelSpec('FACESWAP_COMIC'), images, opts);
    expect(r.ok && 'mask_image' in r.value.params).toBe(false);
  });

  it('collects every violation with its field and rule', () => {
    const r = normaliseInput(v4, { sourceImage: '', targetImage: 'ftp://x/y.png', imageQuality: 101, seed: -1 }, opts);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.violations.map((v) => [v.field, v.rule])).toEqual([
      ['input.sourceImage', 'not-empty'],
      ['input.targetImage', 'image-uri'],
      ['input.seed', 'range'],
      ['input.imageQuality', 'range'],
    ]);
  });

  it('compacts face index lists and refuses malformed ones', () => {
    const v3 = modelSpec('FACESWAP_V3_MULTI');
    const ok = normaliseInput(v3, { ...images, inputFacesIndex: '0, 1 ,2' }, opts);
    expect(ok.ok && ok.value.params.input_faces_index).toBe('0,1,2');
    for (const bad of ['a', '0,,1', '-1', '1000', '', ',']) {
      const r = normaliseInput(v3, { ...images, sourceFacesIndex: bad }, opts);
      expect(r.ok ? null : r.violations[0]!.rule, bad).toBe('face-index-list');
    }
  });

  it('checks float ranges at both ends', () => {
    const comic = modelSpec('FACESWAP_COMIC');
    expect(normaliseInput(comic, { ...images, cfg: 0.1 }, opts).ok).toBe(true);
    expect(normaliseInput(comic, { ...images, cfg: 10 }, opts).ok).toBe(true);
    expect(normaliseInput(comic, { ...images, cfg: 0.09 }, opts).ok).toBe(false);
    expect(normaliseInput(comic, { ...images, styleStrength: 2.01 }, opts).ok).toBe(false);
  });
});

describe('checkImage', () => {
  it('accepts URLs, data URIs and base64 of real images', () => {
    expect(checkImage('https://example.com/x.jpg', 1024)).toEqual({ ok: true });
    expect(checkImage('http://example.com/x.jpg', 1024)).toEqual({ ok: true });
    expect(checkImage(`data:image/png;base64,${TINY_PNG_BASE64}`, 1024)).toEqual({ ok: true });
    expect(checkImage(TINY_PNG_BASE64, 1024)).toEqual({ ok: true });
  });

  it.each([
    ['', 'not-empty'],
    ['   ', 'not-empty'],
    ['not an image', 'image-uri'],
    ['http://', 'image-uri'],
    ['ftp://example.com/x.png', 'image-uri'],
    ['data:text/plain;base64,AAAA', 'image-uri'],
    [Buffer.from('hello world, not an image').toString('base64'), 'image-format'],
  ])('refuses %j (%s)', (value, rule) => {
    expect(checkImage(value, 1024)).toMatchObject({ ok: false, rule });
  });

  it('refuses base64 over the size limit', () => {
    expect(checkImage(TINY_PNG_BASE64, 10)).toMatchObject({ ok: false, rule: 'max-bytes' });
  });
});
