/**
 * Elementwise and row-wise helpers on raw arrays. Small and boring on purpose: the GEMMs do the
 * heavy work; these exist so the engine never writes the same loop twice.
 */

/** y += alpha · x */
export const axpy = (alpha: number, x: Float32Array, y: Float32Array): void => {
  const n = Math.min(x.length, y.length)
  for (let i = 0; i < n; i++) y[i] += alpha * x[i]!
}

/** x *= alpha, in place. */
export const scaleInPlace = (x: Float32Array, alpha: number): void => {
  for (let i = 0; i < x.length; i++) x[i] *= alpha
}

/** out = a ⊙ mask, where mask holds 0/1; out may alias a. */
export const applyMask = (
  a: Float32Array,
  mask: Uint8Array,
  out: Float32Array = new Float32Array(a.length),
): Float32Array => {
  for (let i = 0; i < a.length; i++) out[i] = mask[i] === 0 ? 0 : a[i]!
  return out
}

/** c[m×n] += bias[n] broadcast over rows. */
export const addRowVector = (m: number, n: number, c: Float32Array, bias: Float32Array): void => {
  for (let i = 0; i < m; i++) {
    const off = i * n
    for (let j = 0; j < n; j++) c[off + j] += bias[j]!
  }
}

/** out[n] (+)= column sums of a[m×n] (the bias gradient). */
export const sumRows = (m: number, n: number, a: Float32Array, out: Float32Array, accumulate = false): Float32Array => {
  if (!accumulate) out.fill(0, 0, n)
  for (let i = 0; i < m; i++) {
    const off = i * n
    for (let j = 0; j < n; j++) out[j] += a[off + j]!
  }
  return out
}

/** Index of the largest entry in each row of a[m×n]; the first one wins a tie. */
export const argmaxRows = (
  m: number,
  n: number,
  a: Float32Array,
  out: Uint32Array = new Uint32Array(m),
): Uint32Array => {
  for (let i = 0; i < m; i++) {
    const off = i * n
    let best = 0
    let bestValue = a[off]!
    for (let j = 1; j < n; j++) {
      const v = a[off + j]!
      if (v > bestValue) {
        bestValue = v
        best = j
      }
    }
    out[i] = best
  }
  return out
}

/** Copy rows `indices[start..end)` of src (rows of `cols` floats) contiguously into dst. */
export const gatherRows = (
  src: Float32Array,
  cols: number,
  indices: ArrayLike<number>,
  start: number,
  end: number,
  dst: Float32Array = new Float32Array((end - start) * cols),
): Float32Array => {
  for (let r = start; r < end; r++) {
    const from = indices[r]! * cols
    dst.set(src.subarray(from, from + cols), (r - start) * cols)
  }
  return dst
}
