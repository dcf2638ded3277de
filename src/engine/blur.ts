// Separable box blur on float planes, three passes (close to a Gaussian of
// sigma ≈ radius). Edges are clamped. Plain loops in a fixed order, so the
// result is the same bit for bit on every run.

function boxPass(src: Float32Array, dst: Float32Array, w: number, h: number, r: number, horizontal: boolean): void {
  const n = horizontal ? w : h;
  const lines = horizontal ? h : w;
  const step = horizontal ? 1 : w;
  const inv = 1 / (2 * r + 1);
  for (let l = 0; l < lines; l++) {
    const base = horizontal ? l * w : l;
    let sum = 0;
    for (let i = -r; i <= r; i++) sum += src[base + Math.min(n - 1, Math.max(0, i)) * step]!;
    for (let i = 0; i < n; i++) {
      dst[base + i * step] = sum * inv;
      const add = Math.min(n - 1, i + r + 1), sub = Math.max(0, i - r);
      sum += src[base + add * step]! - src[base + sub * step]!;
    }
  }
}

/** A blurred copy of a w×h plane. */
export function blurPlane(plane: Float32Array, w: number, h: number, radius: number): Float32Array {
  const r = Math.max(1, Math.round(radius / Math.sqrt(3)));
  let a = Float32Array.from(plane);
  let b = new Float32Array(plane.length);
  for (let pass = 0; pass < 3; pass++) {
    boxPass(a, b, w, h, r, true);
    boxPass(b, a, w, h, r, false);
  }
  b = a;
  return b;
}
