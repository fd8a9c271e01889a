/**
 * Permutations that stack independent GEMMs along rows, the layout a trace record with `groups`
 * uses (group i owns rows i·rows.. of the stacked matrix). Each kernel has its adjoint with
 * `accumulate`, so autograd ops are a kernel forward and its adjoint backward.
 */

/**
 * Copies (or adds) each group's channels of every row and tap between the wide layout
 * [rows × taps·channels] and the stacked one [groups·rows × taps·cg], in the direction asked:
 * one walk, so a kernel and its adjoint cannot disagree on the layout.
 */
const regroup = (
  caller: string,
  toStacked: boolean,
  rows: number,
  taps: number,
  channels: number,
  groups: number,
  src: Float32Array,
  dst: Float32Array,
  accumulate: boolean,
): Float32Array => {
  const cg = channels / groups
  if (!Number.isInteger(cg)) throw new RangeError(`${caller}: ${groups} groups do not divide ${channels} channels`)
  for (let i = 0; i < groups; i++)
    for (let r = 0; r < rows; r++) {
      const wide = r * taps * channels + i * cg
      const stacked = (i * rows + r) * taps * cg
      for (let t = 0; t < taps; t++) {
        const s = toStacked ? wide + t * channels : stacked + t * cg
        const d = toStacked ? stacked + t * cg : wide + t * channels
        if (accumulate) for (let c = 0; c < cg; c++) dst[d + c] += src[s + c]!
        else for (let c = 0; c < cg; c++) dst[d + c] = src[s + c]!
      }
    }
  return dst
}

/**
 * dst[groups·rows × taps·cg] from src[rows × taps·channels] (cg = channels/groups): group i takes
 * channels i·cg..(i+1)·cg of every tap. With taps = R·S this turns an im2col matrix into the
 * stacked per-group im2col matrices of a grouped convolution; with taps = 1 it splits columns.
 */
export const splitGroups = (
  rows: number,
  taps: number,
  channels: number,
  groups: number,
  src: Float32Array,
  dst: Float32Array = new Float32Array(rows * taps * channels),
  accumulate = false,
): Float32Array => regroup("splitGroups", true, rows, taps, channels, groups, src, dst, accumulate)

/** The inverse (and adjoint) of `splitGroups`: dst[rows × taps·channels] from the stacked src. */
export const mergeGroups = (
  rows: number,
  taps: number,
  channels: number,
  groups: number,
  src: Float32Array,
  dst: Float32Array = new Float32Array(rows * taps * channels),
  accumulate = false,
): Float32Array => regroup("mergeGroups", false, rows, taps, channels, groups, src, dst, accumulate)

/** dst[groups·cols × rows] (+)= each group's src[rows × cols] transposed, groups stacked. */
export const transposeGroups = (
  groups: number,
  rows: number,
  cols: number,
  src: Float32Array,
  dst: Float32Array = new Float32Array(groups * rows * cols),
  accumulate = false,
): Float32Array => {
  const size = rows * cols
  for (let i = 0; i < groups; i++) {
    const base = i * size
    for (let r = 0; r < rows; r++) {
      const s = base + r * cols
      if (accumulate) for (let c = 0; c < cols; c++) dst[base + c * rows + r] += src[s + c]!
      else for (let c = 0; c < cols; c++) dst[base + c * rows + r] = src[s + c]!
    }
  }
  return dst
}

/**
 * Between the `heads`·dh columns at `offset` of [batch·tokens × stride] (Q, K or V of a fused QKV
 * projection) and the stacked heads [batch·heads·tokens × dh], group b·heads + h holding head h of
 * sample b: copied into the stack, or added back out of it.
 */
const moveHeads = (
  toStacked: boolean,
  batch: number,
  tokens: number,
  heads: number,
  dh: number,
  src: Float32Array,
  dst: Float32Array,
  stride: number,
  offset: number,
): Float32Array => {
  for (let b = 0; b < batch; b++)
    for (let h = 0; h < heads; h++)
      for (let t = 0; t < tokens; t++) {
        const wide = (b * tokens + t) * stride + offset + h * dh
        const stacked = ((b * heads + h) * tokens + t) * dh
        if (toStacked) for (let j = 0; j < dh; j++) dst[stacked + j] = src[wide + j]!
        else for (let j = 0; j < dh; j++) dst[wide + j] += src[stacked + j]!
      }
  return dst
}

/** Attention heads as groups: src[batch·tokens × stride]'s columns of one projection into the stacked heads. */
export const splitHeads = (
  batch: number,
  tokens: number,
  heads: number,
  dh: number,
  src: Float32Array,
  stride: number,
  offset: number,
  dst: Float32Array = new Float32Array(batch * heads * tokens * dh),
): Float32Array => moveHeads(true, batch, tokens, heads, dh, src, dst, stride, offset)

/** The adjoint of `splitHeads`: adds the stacked heads back into their columns of dst[batch·tokens × stride]. */
export const mergeHeads = (
  batch: number,
  tokens: number,
  heads: number,
  dh: number,
  src: Float32Array,
  dst: Float32Array,
  stride: number,
  offset: number,
): Float32Array => moveHeads(false, batch, tokens, heads, dh, src, dst, stride, offset)
