// Parameters several models document identically.
import type { BooleanParam, EnumParam } from './types.js';

export const base64Param: BooleanParam = {
  kind: 'boolean',
  wire: 'base64',
  name: 'base64',
  description: 'Ask the upstream for base64 output instead of raw bytes.',
  default: false,
};

export const imageFormatValues = { JPEG: 'jpeg', PNG: 'png', WEBP: 'webp' };

export function imageFormatParam(wire: string, name: string, defaultValue: string): EnumParam {
  return {
    kind: 'enum',
    wire,
    name,
    enumName: 'ImageFormat',
    values: imageFormatValues,
    default: defaultValue,
    description: 'Output image format.',
  };
}

export function genderParam(wire: string, name: string, whose: string): EnumParam {
  return {
    kind: 'enum',
    wire,
    name,
    enumName: 'GenderFilter',
    values: { NO: 'no', FEMALE: 'female', MALE: 'male' },
    default: 'no',
    description: `Only swap ${whose} faces of this gender; NO swaps any.`,
  };
}

/** The local engine's answer to a face-restore option. */
export const NO_LOCAL_RESTORE = 'the local provider has no face restoration model (CodeFormer/GFPGAN do not run here)';

/** The option's value as not applied, when the params hold it. */
export function notAppliedIf(params: Record<string, unknown>, option: string, note: string): Array<{ option: string; value: unknown; note: string }> {
  return params[option] !== undefined ? [{ option, value: params[option], note }] : [];
}
