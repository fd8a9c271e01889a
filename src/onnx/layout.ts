/**
 * ONNX (like PyTorch) stores images NCHW; Spade's engine stores them NHWC, so a flatten orders a
 * sample's values differently (C, H, W against H, W, C). These are the permutations between the
 * two. Conv weights ([Cout, Cin/g, kH, kW] against Cout×(R·S·C/g), c fastest) convert with the
 * engine's own `convWeightFromOihw`.
 */

/**
 * For a [C, H, W] activation flattened: the ONNX (CHW) index of each Spade (HWC) position.
 * perm[(y·W + x)·C + c] = (c·H + y)·W + x.
 */
export const chwToHwcPermutation = (c: number, h: number, w: number): Int32Array => {
  const perm = new Int32Array(c * h * w)
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) perm[(y * w + x) * c + ch] = (ch * h + y) * w + x
  return perm
}

/** The identity permutation is no permutation: a [C, 1, 1] flatten keeps its order. */
export const isIdentity = (perm: Int32Array): boolean => perm.every((v, i) => v === i)

/**
 * A linear weight in Spade's layout, out×in, from ONNX's: `transposed` when it is stored in×out
 * (MatMul's B, Gemm's B without transB). `perm` maps each Spade input column to the ONNX column it
 * reads (an input flattened from CHW, now HWC); null keeps the order.
 */
export const linearWeightToSpade = (
  w: Float32Array,
  outFeatures: number,
  inFeatures: number,
  transposed: boolean,
  perm: Int32Array | null,
): Float32Array => {
  if (w.length !== outFeatures * inFeatures)
    throw new RangeError(`linear weight: ${w.length} values, expected ${outFeatures}·${inFeatures}`)
  if (perm !== null && perm.length !== inFeatures)
    throw new RangeError(`linear weight: permutation of ${perm.length}, expected ${inFeatures}`)
  const out = new Float32Array(w.length)
  for (let o = 0; o < outFeatures; o++)
    for (let j = 0; j < inFeatures; j++) {
      const src = perm === null ? j : perm[j]!
      out[o * inFeatures + j] = transposed ? w[src * outFeatures + o]! : w[o * inFeatures + src]!
    }
  return out
}

/** NCHW rows (what PyTorch feeds) → NHWC rows (what Spade's engine and datasets hold). */
export const nchwToNhwc = (x: Float32Array, n: number, c: number, h: number, w: number): Float32Array => {
  if (x.length !== n * c * h * w) throw new RangeError(`nchwToNhwc: ${x.length} values, expected ${n}·${c}·${h}·${w}`)
  const out = new Float32Array(x.length)
  const plane = h * w
  for (let b = 0; b < n; b++) {
    const base = b * c * plane
    for (let ch = 0; ch < c; ch++) for (let p = 0; p < plane; p++) out[base + p * c + ch] = x[base + ch * plane + p]!
  }
  return out
}

/** Gather a per-channel vector through a permutation (per-feature parameters after a CHW flatten). */
export const permute = (v: Float32Array, perm: Int32Array | null): Float32Array =>
  perm === null ? v : Float32Array.from(perm, (i) => v[i]!)
