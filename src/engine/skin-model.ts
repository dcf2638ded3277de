// A robust model of a face's skin colour in Lab: per channel the median and the
// scaled median absolute deviation (about σ for normal data), over an even
// subsample of the pixels `pick` accepts. Occluder rejection (occlusion.ts) and
// the hairline mask (hairline.ts) measure how far a pixel is from it.

export interface SkinModel {
  median: number[];
  scale: number[];
}

/** Null when fewer than 100 pixels are picked: too few to say what the skin is. */
export function robustSkinModel(
  lab: ArrayLike<number>,
  pick: (k: number) => boolean,
  n: number,
  opts: { maxSamples: number; scaleFloor: readonly number[] },
): SkinModel | null {
  const idx: number[] = [];
  for (let k = 0; k < n; k++) if (pick(k)) idx.push(k);
  if (idx.length < 100) return null;
  const step = Math.max(1, Math.floor(idx.length / opts.maxSamples));
  const median: number[] = [], scale: number[] = [];
  for (let c = 0; c < 3; c++) {
    const vals: number[] = [];
    for (let i = 0; i < idx.length; i += step) vals.push(lab[3 * idx[i]! + c]!);
    vals.sort((a, b) => a - b);
    const med = vals[vals.length >> 1]!;
    const dev = vals.map((x) => Math.abs(x - med)).sort((a, b) => a - b);
    median.push(med);
    scale.push(Math.max(opts.scaleFloor[c]!, 1.4826 * dev[dev.length >> 1]!));
  }
  return { median, scale };
}
