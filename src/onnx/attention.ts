/**
 * Multi-head self-attention as exporters spell it: a packed Q|K|V projection, reshapes and
 * transposes that cut it into heads, Q·Kᵀ, a scale, Softmax, ·V, transposes and reshapes that merge
 * the heads, and the output projection. Exporters differ in the layout ops (nn.MultiheadAttention
 * works time-major and batches heads as [B·h, T, dh]; a hand-written module keeps [B, h, T, dh]),
 * so instead of matching one node sequence the converter runs those ops on tensors of element ids:
 * every value of the block carries, per element, which element of the projection it is. Checking
 * that Q, Kᵀ and V hold exactly head h's columns of token t of sample b, and that the heads come
 * back in order, accepts any spelling that computes Spade's `attention` and nothing else.
 */

/**
 * What a value's elements are: the block input x ([B, T, D] element ids), the packed projection's
 * output (id = (b·T + t)·3D + f), the merged per-head context (id = (b·T + t)·D + f, f = h·dh + j),
 * the output projection's (same ids), or the scores and probabilities, which carry no ids.
 */
export type IdSpace = "x" | "qkv" | "scores" | "probs" | "context" | "out"

export interface IdTensor {
  readonly space: IdSpace
  readonly dims: ReadonlyArray<number>
  readonly ids: Int32Array
  /** The product of the constant factors multiplied in since the last GEMM (a scale of the scores). */
  readonly scale: number
}

/** Raised by the layout interpreter; the converter turns it into an error naming the node. */
export class Mismatch extends Error {}

const sizeOf = (dims: ReadonlyArray<number>): number => dims.reduce((a, b) => a * b, 1)
const show = (dims: ReadonlyArray<number>): string => `[${dims.join(", ")}]`
const strides = (dims: ReadonlyArray<number>): number[] => {
  const s = new Array<number>(dims.length).fill(1)
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1]! * dims[i + 1]!
  return s
}
const axisOf = (axis: number, rank: number): number => {
  const a = axis < 0 ? axis + rank : axis
  if (a < 0 || a >= rank) throw new Mismatch(`axis ${axis} is out of range for rank ${rank}`)
  return a
}

export const identityIds = (space: IdSpace, dims: ReadonlyArray<number>): IdTensor => ({
  space,
  dims,
  ids: Int32Array.from({ length: sizeOf(dims) }, (_, i) => i),
  scale: 1,
})

/** Gather `ids` into a new layout: out[i] = src[index(i)], with the index computed per output position. */
const remap = (t: IdTensor, dims: ReadonlyArray<number>, source: (out: number[]) => number): IdTensor => {
  const n = sizeOf(dims)
  const ids = new Int32Array(n)
  const at = new Array<number>(dims.length).fill(0)
  for (let i = 0; i < n; i++) {
    ids[i] = t.ids[source(at)]!
    for (let d = dims.length - 1; d >= 0; d--) {
      if (++at[d]! < dims[d]!) break
      at[d] = 0
    }
  }
  return { ...t, dims, ids }
}

export const transpose = (t: IdTensor, perm: ReadonlyArray<number> | null): IdTensor => {
  const rank = t.dims.length
  const p = perm ?? t.dims.map((_, i) => rank - 1 - i)
  if (p.length !== rank || [...p].sort((a, b) => a - b).some((v, i) => v !== i))
    throw new Mismatch(`perm ${show(p)} is not a permutation of ${rank} axes`)
  const s = strides(t.dims)
  return remap(
    t,
    p.map((a) => t.dims[a]!),
    (out) => out.reduce((sum, v, i) => sum + v * s[p[i]!]!, 0),
  )
}

/** ONNX Reshape: 0 copies the input's dim (unless allowzero), −1 takes what is left. */
export const reshape = (t: IdTensor, shape: ReadonlyArray<number>, allowZero: boolean): IdTensor => {
  const target = shape.map((d, i) => (d === 0 && !allowZero ? (t.dims[i] ?? 0) : d))
  const known = target.filter((d) => d !== -1).reduce((a, b) => a * b, 1)
  const dims = target.map((d) => (d === -1 ? sizeOf(t.dims) / known : d))
  if (sizeOf(dims) !== sizeOf(t.dims) || dims.some((d) => !Number.isInteger(d) || d < 0))
    throw new Mismatch(`reshapes ${show(t.dims)} to ${show(shape)}, which does not hold the same elements`)
  return { ...t, dims }
}

/** ONNX Slice with unit steps (the only ones a split into Q, K and V uses). */
export const slice = (
  t: IdTensor,
  starts: ReadonlyArray<number>,
  ends: ReadonlyArray<number>,
  axes: ReadonlyArray<number> | null,
  steps: ReadonlyArray<number> | null,
): IdTensor => {
  const rank = t.dims.length
  const begin = t.dims.map(() => 0)
  const dims = [...t.dims]
  for (const [k, a] of (axes ?? starts.map((_, i) => i)).entries()) {
    if ((steps?.[k] ?? 1) !== 1) throw new Mismatch(`slices with step ${steps?.[k]}, expected 1`)
    const axis = axisOf(a, rank)
    const size = t.dims[axis]!
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + size : v, 0), size)
    begin[axis] = clamp(starts[k]!)
    dims[axis] = Math.max(clamp(ends[k]!) - begin[axis]!, 0)
  }
  const s = strides(t.dims)
  return remap(t, dims, (out) => out.reduce((sum, v, i) => sum + (v + begin[i]!) * s[i]!, 0))
}

/** ONNX Split into parts of the given sizes along `axis`. */
export const split = (t: IdTensor, axis: number, sizes: ReadonlyArray<number>): IdTensor[] => {
  const a = axisOf(axis, t.dims.length)
  if (sizes.reduce((x, y) => x + y, 0) !== t.dims[a])
    throw new Mismatch(`splits axis ${axis} of ${show(t.dims)} into ${show(sizes)}, which do not add up`)
  let at = 0
  return sizes.map((n) => {
    const part = slice(t, [at], [at + n], [a], null)
    at += n
    return part
  })
}

/** ONNX Gather of constant indices along `axis` (PyTorch's unbind and qkv[0] indexing). */
export const gather = (
  t: IdTensor,
  axis: number,
  indices: ReadonlyArray<number>,
  indexDims: ReadonlyArray<number>,
): IdTensor => {
  const a = axisOf(axis, t.dims.length)
  const size = t.dims[a]!
  const dims = [...t.dims.slice(0, a), ...indexDims, ...t.dims.slice(a + 1)]
  const s = strides(t.dims)
  const k = indexDims.length
  const is = strides(indexDims)
  return remap(t, dims, (out) => {
    let flat = 0
    for (let j = 0; j < k; j++) flat += out[a + j]! * is[j]!
    const raw = indices[flat]!
    const index = raw < 0 ? raw + size : raw
    let sum = index * s[a]!
    for (let i = 0; i < a; i++) sum += out[i]! * s[i]!
    for (let i = a + 1; i < t.dims.length; i++) sum += out[i + k - 1]! * s[i]!
    return sum
  })
}

export const squeeze = (t: IdTensor, axes: ReadonlyArray<number> | null): IdTensor => {
  const drop = (axes ?? t.dims.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => axisOf(a, t.dims.length))
  if (drop.some((a) => t.dims[a] !== 1)) throw new Mismatch(`squeezes an axis of ${show(t.dims)} that is not 1`)
  return { ...t, dims: t.dims.filter((_, i) => !drop.includes(i)) }
}

export const unsqueeze = (t: IdTensor, axes: ReadonlyArray<number>): IdTensor => {
  const rank = t.dims.length + axes.length
  const dims = [...t.dims]
  for (const a of axes.map((x) => axisOf(x, rank)).sort((x, y) => x - y)) dims.splice(a, 0, 1)
  return { ...t, dims }
}

/**
 * The rows of a GEMM's activation operand: each row's last axis must be one whole row of the
 * block's token matrix (D consecutive ids in `space`), since a per-row projection is Spade's
 * linear only then. Returns the token row (b·T + t) of every GEMM row.
 */
export const tokenRows = (t: IdTensor, features: number, what: string): Int32Array => {
  const k = t.dims[t.dims.length - 1]!
  if (k !== features)
    throw new Mismatch(`${what} has dims ${show(t.dims)}, expected ${features} features on the last axis`)
  const rows = new Int32Array(t.ids.length / k)
  for (let r = 0; r < rows.length; r++) {
    const base = t.ids[r * k]!
    if (base % k !== 0) throw new Mismatch(`${what}: row ${r} does not start a token's features`)
    for (let j = 1; j < k; j++)
      if (t.ids[r * k + j] !== base + j) throw new Mismatch(`${what}: row ${r} mixes tokens or reorders features`)
    rows[r] = base / k
  }
  return rows
}

/** A GEMM output of `width` features per row, ids in `space` numbered by token row. */
export const projected = (space: IdSpace, lead: ReadonlyArray<number>, rows: Int32Array, width: number): IdTensor => {
  const ids = new Int32Array(rows.length * width)
  for (let r = 0; r < rows.length; r++) for (let f = 0; f < width; f++) ids[r * width + f] = rows[r]! * width + f
  return { space, dims: [...lead, width], ids, scale: 1 }
}

/** How the groups of the batched products map to (sample, head): group g is sample ⌊·/h⌋, head ·mod h. */
export interface Heads {
  readonly batch: number
  readonly tokens: number
  /** D, the model width. */
  readonly features: number
  readonly heads: number
  readonly dh: number
  /** Per group: b·heads + head. */
  readonly group: Int32Array
}

const groupsOf = (dims: ReadonlyArray<number>): number => sizeOf(dims.slice(0, -2))

/**
 * Which part of the packed projection an operand of the batched products holds, per group:
 * `part` 0 (Q) and 2 (V) as [groups…, T, dh], part 1 (K) transposed as [groups…, dh, T]. Every
 * element must be token t = its row (column for Kᵀ) of one sample, and feature j of one head, the
 * same for the whole group. `expected` pins the groups to those Q found.
 */
export const headsOf = (
  t: IdTensor,
  part: 0 | 1 | 2,
  batch: number,
  features: number,
  expected: Heads | null,
): Heads => {
  const name = ["Q", "Kᵀ", "V"][part]!
  if (t.space !== "qkv") throw new Mismatch(`${name} is not a slice of the packed Q|K|V projection`)
  const rank = t.dims.length
  if (rank < 3) throw new Mismatch(`${name} has dims ${show(t.dims)}, expected [groups…, rows, columns]`)
  const [rowsDim, colsDim] = [t.dims[rank - 2]!, t.dims[rank - 1]!]
  const [tokens, dh] = part === 1 ? [colsDim, rowsDim] : [rowsDim, colsDim]
  if (features % dh !== 0) throw new Mismatch(`${name}'s head size ${dh} does not divide D = ${features}`)
  const heads = features / dh
  const groups = groupsOf(t.dims)
  if (groups !== batch * heads)
    throw new Mismatch(`${name} has ${groups} groups, expected batch × heads = ${batch}·${heads}`)
  if (expected !== null && (expected.tokens !== tokens || expected.dh !== dh))
    throw new Mismatch(`${name} has dims ${show(t.dims)}, which do not match Q's tokens and head size`)
  const group = new Int32Array(groups).fill(-1)
  const width = 3 * features
  const per = tokens * dh
  for (let g = 0; g < groups; g++)
    for (let e = 0; e < per; e++) {
      const id = t.ids[g * per + e]!
      const [r, c] = [Math.floor(e / colsDim), e % colsDim]
      const [i, j] = part === 1 ? [c, r] : [r, c]
      const row = Math.floor(id / width)
      const f = (id % width) - part * features
      const b = Math.floor(row / tokens)
      if (f < 0 || f >= features)
        throw new Mismatch(`${name} reads column ${id % width} of the projection, expected ${name.charAt(0)}'s`)
      if (row % tokens !== i || f % dh !== j)
        throw new Mismatch(`${name} is not laid out as one head's [tokens, head features] per group`)
      const slot = b * heads + Math.floor(f / dh)
      if (group[g] === -1) group[g] = slot
      else if (group[g] !== slot) throw new Mismatch(`${name}'s group ${g} mixes samples or heads`)
    }
  if (new Set(group).size !== groups) throw new Mismatch(`${name} holds a sample's head twice`)
  if (expected !== null && expected.group.some((s, g) => s !== group[g]))
    throw new Mismatch(`${name} pairs the heads of other samples than Q does`)
  return { batch, tokens, features, heads, dh, group }
}

/** The context S·V per group, ids of the heads merged back: (b·T + t)·D + head·dh + j. */
export const contextOf = (lead: ReadonlyArray<number>, h: Heads): IdTensor => {
  const { tokens, dh, features, heads } = h
  const ids = new Int32Array(h.group.length * tokens * dh)
  for (let g = 0; g < h.group.length; g++) {
    const b = Math.floor(h.group[g]! / heads)
    const head = h.group[g]! % heads
    for (let i = 0; i < tokens; i++)
      for (let j = 0; j < dh; j++) ids[(g * tokens + i) * dh + j] = (b * tokens + i) * features + head * dh + j
  }
  return { space: "context", dims: [...lead, tokens, dh], ids, scale: 1 }
}

/** Whether the output projection's values are back in the block input's layout [B, T, D]. */
export const isBlockOutput = (t: IdTensor, dims: ReadonlyArray<number>): boolean =>
  t.space === "out" &&
  t.scale === 1 &&
  t.dims.length === dims.length &&
  t.dims.every((d, i) => d === dims[i]) &&
  t.ids.every((v, i) => v === i)
