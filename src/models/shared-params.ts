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
