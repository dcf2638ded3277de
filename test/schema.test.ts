import { readFileSync } from 'node:fs';
import { isInterfaceType, isObjectType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { MODELS } from '../src/models/registry.js';
import { printedPossibleTypes, printedSchema, schema } from '../src/schema/index.js';

describe('schema', () => {
  it('schema.graphql is the printed schema (run `npm run schema:print` after changing the schema)', () => {
    const checkedIn = readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8');
    expect(checkedIn).toBe(printedSchema());
  });

  it('possible-types.json is the printed possibleTypes (run `npm run schema:possible-types` after changing the schema)', () => {
    const checkedIn = readFileSync(new URL('../possible-types.json', import.meta.url), 'utf8');
    expect(checkedIn).toBe(printedPossibleTypes());
  });

  it('every model has its job type, result union, input and mutation, named after it', () => {
    const mutations = schema.getMutationType()!.getFields();
    for (const spec of MODELS) {
      const job = schema.getType(`${spec.graphqlName}Job`) as any;
      expect(job.getInterfaces().map((i: any) => i.name).sort()).toEqual(['Node', 'SwapJob']);
      const union = schema.getType(`${spec.graphqlName}Result`) as any;
      expect(union.getTypes().map((t: any) => t.name).sort()).toEqual([`${spec.graphqlName}Job`, 'BudgetExceededError', 'IdempotencyConflictError', 'InvalidInputError', 'UnsupportedOptionError'].sort());
      const mutation = mutations[`create${spec.graphqlName}Job`]!;
      expect(String(mutation.type)).toBe(`${spec.graphqlName}Result!`);
      expect(String(mutation.args[0]!.type)).toBe(`Create${spec.graphqlName}JobInput!`);
      // Every documented parameter is an input field and a typed field of the job.
      const input = schema.getType(`Create${spec.graphqlName}JobInput`) as any;
      expect(Object.keys(input.getFields()).sort()).toEqual([...spec.params.map((p) => p.name), 'idempotencyKey', 'provider'].sort());
      for (const p of spec.params) expect(job.getFields()[p.name], `${job.name}.${p.name}`).toBeDefined();
    }
  });

  it('every interface and each of its implementations agree on every field: type, nullability and arguments', () => {
    const disagreements: string[] = [];
    let compared = 0;
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) && !isInterfaceType(type)) continue;
      for (const iface of type.getInterfaces()) {
        for (const [name, field] of Object.entries(iface.getFields())) {
          const own = type.getFields()[name]!;
          compared++;
          const args = (f: typeof field) => f.args.map((a) => `${a.name}: ${a.type}`).join(', ');
          if (String(own.type) !== String(field.type) || args(own) !== args(field)) {
            disagreements.push(`${type.name}.${name}: ${own.type} (${args(own)}) vs ${iface.name}.${name}: ${field.type} (${args(field)})`);
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(100);
    expect(disagreements).toEqual([]);
  });

  it('enum values map to the exact vendor wire strings', () => {
    const values = (name: string) => Object.fromEntries((schema.getType(name) as any).getValues().map((v: any) => [v.name, v.value]));
    expect(values('FaceswapV3FaceRestore')).toEqual({
      DISABLE: 'disable', CODEFORMER_V0_1_0: 'codeformer-v0.1.0.pth', GFPGAN_V1_4: 'GFPGANv1.4.pth', GFPGAN_V1_3: 'GFPGANv1.3.pth',
    });
    expect(values('FaceDetectionModel')).toMatchObject({ RETINAFACE_MOBILE0_25: 'retinaface_mobile0.25', YOLOV5L: 'YOLOv5l' });
    expect(values('FaceDetectionOrder')).toMatchObject({ LEFT_RIGHT: 'left-right', BOTTOM_TOP: 'bottom-top' });
    expect(values('Interpolation')).toEqual({ NEAREST: 'Nearest', BILINEAR: 'Bilinear', BICUBIC: 'Bicubic', LANCZOS: 'Lanczos' });
  });

  it('input defaults are the documented vendor defaults', () => {
    const defaults = (name: string) =>
      Object.fromEntries(Object.values((schema.getType(name) as any).getFields()).map((f: any) => [f.name, f.defaultValue]));
    expect(defaults('CreateFaceswapV4JobInput')).toMatchObject({
      swapType: 'head', modelType: 'speed', styleType: 'normal', imageFormat: 'png', imageQuality: 90, hardware: 'fast', base64: false, seed: undefined,
    });
    expect(defaults('CreateFaceswapComicJobInput')).toMatchObject({
      faceStrength: 0.8, styleStrength: 0.8, steps: 10, cfg: 1.6, prompt: '', growMask: 0, outputFormat: 'jpeg', outputQuality: 95,
    });
    expect(defaults('CreateFaceswapV2JobInput')).toMatchObject({ faceRestore: 'codeformer-v0.1.0.pth', inputFacesIndex: '0' });
    expect(defaults('CreateBodySwapJobInput')).toMatchObject({ selectCharacter: 'woman' });
  });
});
