// Decoding and encoding with sharp. Images travel through the engine as packed
// 8-bit RGB (no alpha): EXIF orientation is applied on decode so a phone photo
// is processed the way it is shown, and alpha is flattened onto white.
import sharp from 'sharp';

export type ImageFormat = 'jpeg' | 'png' | 'webp';
export type Interpolation = 'Nearest' | 'Bilinear' | 'Bicubic' | 'Lanczos';

/** Packed RGB, 3 bytes a pixel, rows top to bottom. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Inputs larger than this (in pixels) are refused before decoding: a decompression bomb guard. */
export const MAX_INPUT_PIXELS = 40_000_000;

export class ImageDecodeError extends Error {
  override readonly name = 'ImageDecodeError';
}

export async function decodeImage(bytes: Buffer): Promise<RgbImage> {
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' })
      .rotate()
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`expected 3 channels, got ${info.channels}`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (err) {
    throw new ImageDecodeError(`the image could not be decoded: ${(err as Error).message}`);
  }
}

export const MIME_TYPES: Record<ImageFormat, string> = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp' };

/**
 * Encode with the requested format and quality. Quality is the JPEG/WebP
 * quality (10–100); PNG is lossless, so quality maps to its compression
 * effort instead and never changes pixels. No metadata is written, so the
 * bytes depend on the pixels and options only.
 */
export async function encodeImage(img: RgbImage, format: ImageFormat, quality: number): Promise<{ bytes: Buffer; mimeType: string }> {
  const q = Math.max(1, Math.min(100, Math.round(quality)));
  let s = sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), {
    raw: { width: img.width, height: img.height, channels: 3 },
  });
  if (format === 'jpeg') s = s.jpeg({ quality: q, chromaSubsampling: q >= 90 ? '4:4:4' : '4:2:0', mozjpeg: false });
  else if (format === 'webp') s = s.webp({ quality: q, effort: 2 });
  else s = s.png({ compressionLevel: q >= 90 ? 6 : 9, adaptiveFiltering: false });
  return { bytes: await s.toBuffer(), mimeType: MIME_TYPES[format] };
}

/** sharp's resize kernel for the wire `interpolation` value (used when the engine resizes). */
export function sharpKernel(interp: Interpolation): keyof sharp.KernelEnum {
  switch (interp) {
    case 'Nearest': return 'nearest';
    case 'Bilinear': return 'linear';
    case 'Bicubic': return 'cubic';
    case 'Lanczos': return 'lanczos3';
  }
}

/** Resize to the given size (fit: fill) with the kernel for `interp`. */
export async function resizeImage(img: RgbImage, width: number, height: number, interp: Interpolation = 'Bilinear'): Promise<RgbImage> {
  const out = await sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), {
    raw: { width: img.width, height: img.height, channels: 3 },
  })
    .resize(width, height, { fit: 'fill', kernel: sharpKernel(interp) })
    .raw()
    .toBuffer();
  return { data: new Uint8Array(out.buffer, out.byteOffset, out.byteLength), width, height };
}
