import { formats, type EncodedSize, type FormatName } from "../cost/index.ts"
import { mulberry32, mulberry32Next, mulberry32Unit } from "../tensor/index.ts"
import { unpackMask, type NmStructure, type OperandTrace } from "../trace/index.ts"

/**
 * One GEMM operand as a simulator sees it: where its nonzeros are. Either the real mask from a
 * trace, or a statistical stand-in (dense, uniform random at a density, or N:M) that is
 * materialized into a seeded mask only when a timing model needs element positions.
 */
export type Operand =
  | { readonly kind: "trace"; readonly trace: OperandTrace }
  /** A mask derived from a trace's (a conv's backward-data operands re-expressed as its transposed conv). */
  | {
      readonly kind: "derived"
      readonly rows: number
      readonly cols: number
      readonly mask: Uint8Array
      readonly nnz: number
      readonly nm: NmStructure | null
    }
  | { readonly kind: "dense"; readonly rows: number; readonly cols: number }
  /** Exactly round(density · rows · cols) nonzeros at seeded uniform random positions. */
  | {
      readonly kind: "uniform"
      readonly rows: number
      readonly cols: number
      readonly density: number
      readonly seed: number
    }
  /**
   * Exactly min(n, group length) nonzeros in every group of m consecutive elements along `axis`
   * ("row": along a row; "col": down a column), at seeded random positions within the group.
   */
  | {
      readonly kind: "nm"
      readonly rows: number
      readonly cols: number
      readonly n: number
      readonly m: number
      readonly axis: "row" | "col"
      readonly seed: number
    }

/**
 * What a user asks for without a trace; `statisticalOperand` gives it a shape and a seed. An N:M
 * spec runs along the reduction unless `along` says otherwise: a trace's forward-only mask seen in
 * backward-data runs along that pass's rows, where an N:M array cannot use it.
 */
export type OperandSpec =
  | { readonly kind: "dense" }
  | { readonly kind: "uniform"; readonly density: number }
  | { readonly kind: "nm"; readonly n: number; readonly m: number; readonly along?: "reduction" | "other" | undefined }

/** Whether an operand is a statistical stand-in (no real mask: any group or row of it looks like any other). */
export const isStatistical = (op: Operand): boolean => op.kind === "dense" || op.kind === "uniform" || op.kind === "nm"

/**
 * Statistical operands of up to this many elements are materialized as seeded masks wherever
 * positions matter, so every count is exact for that mask. A real network's operands run to tens of
 * millions of elements (ResNet-50's first im2col alone is 1.8 M per image), too many to draw one
 * by one: beyond it, counts that need positions come from the density in expectation, and timings
 * that need positions run on a block of it (`sampleBlock`), scaled up.
 */
export const EXACT_ELEMENTS = 1 << 16

let exactElements = EXACT_ELEMENTS

/**
 * Draw statistical operands whole up to `limit` elements (Infinity: always), for runs that are held
 * to a measured figure and must not carry the sampling's error (paper-table). Returns the previous
 * limit, to restore.
 */
export const setExactElements = (limit: number): number => {
  const previous = exactElements
  exactElements = limit
  return previous
}

/** The limit in force (`setExactElements`). */
export const exactElementsLimit = (): number => exactElements

/** A statistical operand too large to materialize whole (a dense one never needs it). */
export const isLargeStatistical = (op: Operand): boolean =>
  (op.kind === "uniform" || op.kind === "nm") && op.rows * op.cols > exactElements

/**
 * A GEMM whose operands are both statistical (dense ones included: a family that steps through
 * positions steps through those too) and one of its three tensors, a (M×K), b (K×N) or the output
 * (M×N, what a family pairing every position with every filter steps through), is past `EXACT_ELEMENTS`.
 */
export const isLargeStatisticalGemm = (a: Operand, b: Operand): boolean => {
  if (!isStatistical(a) || !isStatistical(b)) return false
  const [m, k, n] = [operandRows(a), operandCols(a), operandCols(b)]
  return m * k > exactElements || k * n > exactElements || m * n > exactElements
}

/**
 * A statistical operand's stand-in with only its first `rows` rows and `cols` columns (the same
 * kind, density and seed): the rows (and columns) of a statistical operand are alike, so what a
 * timing measures on the block, scaled by what it leaves out, is what it would measure on all.
 * A real operand is never sampled.
 */
export const sampleBlock = (op: Operand, rows: number, cols: number): Operand => {
  if (op.kind === "trace" || op.kind === "derived") throw new Error("sampleBlock: a real mask is not sampled")
  return rows >= op.rows && cols >= op.cols
    ? op
    : { ...op, rows: Math.min(rows, op.rows), cols: Math.min(cols, op.cols) }
}

export const operandRows = (op: Operand): number => (op.kind === "trace" ? op.trace.rows : op.rows)
export const operandCols = (op: Operand): number => (op.kind === "trace" ? op.trace.cols : op.cols)

/** Per GEMM role, the axis that runs along the reduction dim K: a is M×K (along a row), b is K×N (down a column). */
export const reductionAxis = (role: "a" | "b"): "row" | "col" => (role === "a" ? "row" : "col")

export const statisticalOperand = (
  spec: OperandSpec,
  rows: number,
  cols: number,
  seed: number,
  axis: "row" | "col",
): Operand => {
  switch (spec.kind) {
    case "dense":
      return { kind: "dense", rows, cols }
    case "uniform":
      return spec.density >= 1
        ? { kind: "dense", rows, cols }
        : { kind: "uniform", rows, cols, density: Math.max(0, spec.density), seed }
    case "nm":
      return {
        kind: "nm",
        rows,
        cols,
        n: spec.n,
        m: spec.m,
        axis: spec.along === "other" ? (axis === "row" ? "col" : "row") : axis,
        seed,
      }
  }
}

/** The statistical stand-in of an operand: its density and, where known, its N:M structure (a trace's axis kept). */
export const operandSpecOf = (op: Operand, reduction: "row" | "col"): OperandSpec => {
  if (op.kind === "dense") return { kind: "dense" }
  const nm = nmOf(op)
  if (nm !== null) return { kind: "nm", n: nm.n, m: nm.m, along: nm.axis === reduction ? "reduction" : "other" }
  const d = operandDensity(op)
  return d >= 1 ? { kind: "dense" } : { kind: "uniform", density: d }
}

const nmNnz = (n: number, m: number, outer: number, inner: number): number =>
  outer * (Math.floor(inner / m) * n + Math.min(n, inner % m))

export const operandNnz = (op: Operand): number => {
  switch (op.kind) {
    case "trace":
      return op.trace.nnz
    case "derived":
      return op.nnz
    case "dense":
      return op.rows * op.cols
    case "uniform":
      return Math.round(op.density * op.rows * op.cols)
    case "nm":
      return op.axis === "row" ? nmNnz(op.n, op.m, op.rows, op.cols) : nmNnz(op.n, op.m, op.cols, op.rows)
  }
}

export const operandDensity = (op: Operand): number => {
  const total = operandRows(op) * operandCols(op)
  return total === 0 ? 0 : operandNnz(op) / total
}

/** The N:M structure an operand is known to have (declared by the trace or by construction). */
export const nmOf = (op: Operand): { readonly n: number; readonly m: number; readonly axis: "row" | "col" } | null =>
  op.kind === "nm"
    ? { n: op.n, m: op.m, axis: op.axis }
    : op.kind === "trace"
      ? op.trace.nm
      : op.kind === "derived"
        ? op.nm
        : null

/** A short label for result rows: where the operand came from. */
export const operandLabel = (op: Operand): string =>
  op.kind === "trace" || op.kind === "derived"
    ? "trace"
    : op.kind === "dense"
      ? "dense"
      : op.kind === "uniform"
        ? `uniform:${op.density}`
        : `nm:${op.n}:${op.m}`

/**
 * Whether an N:M array can run the operand sparse: a sparsifier enforced an N':M' structure on it
 * (only such an operand comes in the array's compressed format, values plus indices, from its mask
 * generator) and every aligned group of `m` consecutive elements along `axis` holds at most `n`
 * nonzeros. The declared structure settles it without the mask when its groups nest in the
 * array's (M' a multiple of M, N' ≤ N: every group of 8 with at most 2 nonzeros is two valid 2:4
 * groups) or the array's nest in its (M a multiple of M', N'·M/M' ≤ N); otherwise the mask decides.
 * An unstructured operand runs dense, whatever its zeros.
 */
export const satisfiesNm = (op: Operand, n: number, m: number, axis: "row" | "col"): boolean => {
  if (n >= m) return true
  const nm = nmOf(op)
  if (nm === null || nm.axis !== axis) return false
  if (nm.m % m === 0 && nm.n <= n) return true
  if (m % nm.m === 0 && nm.n * (m / nm.m) <= n) return true
  const key = `${n}:${m}:${axis}`
  let memo = nmMemo.get(op)
  const hit = memo?.get(key)
  if (hit !== undefined) return hit
  const remember = (ok: boolean): boolean => {
    if (memo === undefined) nmMemo.set(op, (memo = new Map()))
    memo.set(key, ok)
    return ok
  }
  const rows = operandRows(op)
  const cols = operandCols(op)
  const inner = axis === "row" ? cols : rows
  // Groups that cannot crowd more than n nonzeros into any window settle it for every draw of the mask.
  if (op.kind === "nm" && mostInWindow(op.n, op.m, m, inner) <= n) return remember(true)
  // A large statistical operand is decided on a block of it (every line alike, aligned from 0 as the
  // whole is): drawing 30000² elements to find one crowded window took a gigabyte and half a minute.
  if (isLargeStatistical(op)) {
    const length = Math.min(inner, exactElements)
    const lines = Math.max(1, Math.floor(exactElements / length))
    const block = axis === "row" ? sampleBlock(op, lines, length) : sampleBlock(op, length, lines)
    return remember(satisfiesNm(block, n, m, axis))
  }
  const mask = materializeMask(op)
  const outer = axis === "row" ? rows : cols
  let ok = true
  for (let o = 0; o < outer && ok; o++)
    for (let g = 0; g < inner && ok; g += m) {
      let c = 0
      for (let i = g; i < Math.min(inner, g + m); i++) c += mask[axis === "row" ? o * cols + i : i * cols + o]!
      if (c > n) ok = false
    }
  return remember(ok)
}
const nmMemo = new WeakMap<object, Map<string, boolean>>()

/**
 * The most nonzeros an aligned window of `w` elements can hold in a line of `length` whose aligned
 * groups of `gm` hold min(gn, group length) each (an N:M operand): per window, Σ over the groups it
 * meets of min(their nonzeros, its overlap). Windows repeat every lcm(w, gm) elements; past a
 * million windows the answer is Infinity (not settled here).
 */
const mostInWindow = (gn: number, gm: number, w: number, length: number): number => {
  const gcd = (x: number, y: number): number => (y === 0 ? x : gcd(y, x % y))
  const period = (w / gcd(w, gm)) * gm
  const span = Math.min(length, period + w)
  if (span / w > 1e6) return Infinity
  let most = 0
  for (let lo = 0; lo < span; lo += w) {
    const hi = Math.min(length, lo + w)
    let count = 0
    for (let g = Math.floor(lo / gm) * gm; g < hi; g += gm) {
      const groupEnd = Math.min(length, g + gm)
      count += Math.min(gn, groupEnd - g, Math.min(hi, groupEnd) - Math.max(lo, g))
    }
    most = Math.max(most, count)
  }
  return most
}

const cache = new WeakMap<object, Uint8Array>()

/** Row-major 0/1 per element. Statistical masks are deterministic in the seed and cached per operand object. */
export const materializeMask = (op: Operand): Uint8Array => {
  const hit = cache.get(op)
  if (hit !== undefined) return hit
  const mask = build(op)
  cache.set(op, mask)
  return mask
}

/**
 * Scratch for the shuffles in `build` and `uniformBits` (a mask is built whole before the next one
 * starts): `EXACT_ELEMENTS` positions, grown to the largest mask drawn up to `SCRATCH_MAX` (a
 * sampled block one row of a long reduction is past `EXACT_ELEMENTS`, and a network has many).
 */
let scratch = new Uint32Array(EXACT_ELEMENTS)
const SCRATCH_MAX = 1 << 22
const positions = (total: number): Uint32Array => {
  if (total > scratch.length && total <= SCRATCH_MAX) scratch = new Uint32Array(total)
  return total <= scratch.length ? scratch.subarray(0, total) : new Uint32Array(total)
}

const build = (op: Operand): Uint8Array => {
  switch (op.kind) {
    case "trace":
      return unpackMask(op.trace)
    case "derived":
      return op.mask
    case "dense":
      return new Uint8Array(op.rows * op.cols).fill(1)
    case "uniform": {
      const total = op.rows * op.cols
      const want = Math.round(op.density * total)
      const out = new Uint8Array(total)
      const next = mulberry32(op.seed)
      // Partial Fisher-Yates over positions: exactly `want` distinct positions, each set equally likely.
      const idx = positions(total)
      for (let i = 0; i < total; i++) idx[i] = i
      for (let i = 0; i < want; i++) {
        const j = i + Math.floor(next() * (total - i))
        const t = idx[i]!
        idx[i] = idx[j]!
        idx[j] = t
        out[idx[i]!] = 1
      }
      return out
    }
    case "nm": {
      const { rows, cols, n, m, axis } = op
      const out = new Uint8Array(rows * cols)
      const next = mulberry32(op.seed)
      const [outer, inner] = axis === "row" ? [rows, cols] : [cols, rows]
      const slots = new Uint32Array(m)
      for (let o = 0; o < outer; o++)
        for (let g = 0; g < inner; g += m) {
          const len = Math.min(m, inner - g)
          for (let i = 0; i < len; i++) slots[i] = i
          const keep = Math.min(n, len)
          for (let i = 0; i < keep; i++) {
            const j = i + Math.floor(next() * (len - i))
            const t = slots[i]!
            slots[i] = slots[j]!
            slots[j] = t
            const e = g + slots[i]!
            out[axis === "row" ? o * cols + e : e * cols + o] = 1
          }
        }
      return out
    }
  }
}

/**
 * Rows packed into 32-bit words, LSB first, each row starting on a word boundary: what the
 * bitmask-intersecting simulators popcount over. `transpose` packs columns instead.
 */
export interface PackedRows {
  readonly count: number
  readonly length: number
  readonly wordsPerRow: number
  readonly words: Uint32Array
}

export const packRows = (mask: Uint8Array, rows: number, cols: number, transpose = false): PackedRows => {
  const [count, length] = transpose ? [cols, rows] : [rows, cols]
  const wordsPerRow = Math.ceil(length / 32)
  const words = new Uint32Array(count * wordsPerRow)
  // Two loops rather than one with a swap: the hot path allocates nothing per element.
  if (transpose)
    for (let r = 0; r < rows; r++) {
      const base = r * cols
      const bit = 1 << (r & 31)
      const word = r >>> 5
      for (let c = 0; c < cols; c++) if (mask[base + c] === 1) words[c * wordsPerRow + word]! |= bit
    }
  else
    for (let r = 0; r < rows; r++) {
      const base = r * cols
      const row = r * wordsPerRow
      // A word at a time: bit c & 31 of word c >>> 5, written once its 32 elements are in.
      for (let w = 0; w < wordsPerRow; w++) {
        const from = w << 5
        const to = Math.min(cols, from + 32)
        let bits = 0
        for (let c = from; c < to; c++) if (mask[base + c] === 1) bits |= 1 << (c & 31)
        words[row + w] = bits
      }
    }
  return { count, length, wordsPerRow, words }
}

/**
 * An operand's mask packed as `packRows(materializeMask(op), rows, cols, transpose)` packs it, bit
 * for bit, without the byte-per-element mask in between where none is cached: a statistical
 * operand's seeded positions (the same draws, in the same order, as `materializeMask`'s) are set
 * straight in the words. What the bitmask-intersecting families time a sampled block on.
 */
export const packedMask = (op: Operand, transpose = false): PackedRows => {
  const rows = operandRows(op)
  const cols = operandCols(op)
  const hit = cache.get(op)
  if (hit !== undefined || (op.kind !== "uniform" && op.kind !== "nm"))
    return packRows(hit ?? materializeMask(op), rows, cols, transpose)
  const [count, length] = transpose ? [cols, rows] : [rows, cols]
  const wordsPerRow = Math.ceil(length / 32)
  if (op.kind === "uniform") {
    const flat = uniformBits(rows * cols, op.density, op.seed)
    // Row-major bits are already the packed rows when every row fills whole words.
    if (!transpose && cols % 32 === 0) return { count, length, wordsPerRow, words: flat }
    const words = new Uint32Array(count * wordsPerRow)
    // The set bits in order: position p = r·cols + c, r and c kept without dividing.
    let r = 0
    let start = 0
    for (let w = 0; w < flat.length; w++) {
      let x = flat[w]!
      while (x !== 0) {
        const low = x & -x
        x ^= low
        const p = (w << 5) + 31 - Math.clz32(low)
        while (p >= start + cols) {
          r++
          start += cols
        }
        const c = p - start
        if (transpose) words[c * wordsPerRow + (r >>> 5)]! |= 1 << (r & 31)
        else words[r * wordsPerRow + (c >>> 5)]! |= 1 << (c & 31)
      }
    }
    return { count, length, wordsPerRow, words }
  }
  const words = new Uint32Array(count * wordsPerRow)
  const { n, m, axis } = op
  const [outer, inner] = axis === "row" ? [rows, cols] : [cols, rows]
  // Packed along the group axis (a row's groups in a row, or a column's in a transposed column) or across it.
  const along = (axis === "row") === !transpose
  const slots = new Uint32Array(m)
  let s = op.seed >>> 0
  for (let o = 0; o < outer; o++)
    for (let g = 0; g < inner; g += m) {
      const len = Math.min(m, inner - g)
      for (let i = 0; i < len; i++) slots[i] = i
      const keep = Math.min(n, len)
      for (let i = 0; i < keep; i++) {
        // mulberry32 stepped in place: `build`'s draws, one for one.
        s = mulberry32Next(s)
        const j = i + Math.floor(mulberry32Unit(s) * (len - i))
        const x = slots[i]!
        slots[i] = slots[j]!
        slots[j] = x
        const e = g + slots[i]!
        if (along) words[o * wordsPerRow + (e >>> 5)]! |= 1 << (e & 31)
        else words[e * wordsPerRow + (o >>> 5)]! |= 1 << (o & 31)
      }
    }
  return { count, length, wordsPerRow, words }
}

/**
 * A uniform operand's mask as row-major bits (position p at bit p & 31 of word p >>> 5): `build`'s
 * partial Fisher-Yates, with `mulberry32` (src/tensor) inlined, so the same draws pick the same
 * positions.
 */
const uniformBits = (total: number, density: number, seed: number): Uint32Array => {
  const want = Math.round(density * total)
  const bits = new Uint32Array(Math.ceil(total / 32))
  const idx = positions(total)
  for (let i = 0; i < total; i++) idx[i] = i
  let s = seed >>> 0
  for (let i = 0; i < want; i++) {
    s = mulberry32Next(s)
    const j = i + Math.floor(mulberry32Unit(s) * (total - i))
    const p = idx[j]!
    idx[j] = idx[i]!
    idx[i] = p
    bits[p >>> 5]! |= 1 << (p & 31)
  }
  return bits
}

export const popcount32 = (x: number): number => {
  let v = x - ((x >>> 1) & 0x55555555)
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333)
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24
}

/** Nonzeros of packed row `i` in elements [from, to). */
export const popRange = (p: PackedRows, i: number, from: number, to: number): number => {
  let total = 0
  const base = i * p.wordsPerRow
  for (let j = from; j < to; ) {
    const w = j >>> 5
    const lo = j & 31
    const hi = Math.min(32, lo + (to - j))
    const span = hi - lo
    const bits = p.words[base + w]! >>> lo
    total += popcount32(span === 32 ? bits : bits & ((1 << span) - 1))
    j += span
  }
  return total
}

/** Per-column nonzero counts (length cols). */
export const columnCounts = (op: Operand): Int32Array => {
  const rows = operandRows(op)
  const cols = operandCols(op)
  const out = new Int32Array(cols)
  if (op.kind === "dense") return out.fill(rows)
  const mask = materializeMask(op)
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c]! += mask[r * cols + c]!
  return out
}

/** Per-row nonzero counts (length rows). */
export const rowCounts = (op: Operand): Int32Array => {
  const rows = operandRows(op)
  const cols = operandCols(op)
  if (op.kind === "trace") return Int32Array.from(op.trace.rowNnz)
  const out = new Int32Array(rows)
  if (op.kind === "dense") return out.fill(cols)
  const mask = materializeMask(op)
  for (let r = 0; r < rows; r++) {
    let s = 0
    for (let c = 0; c < cols; c++) s += mask[r * cols + c]!
    out[r] = s
  }
  return out
}

/**
 * MACs whose both operands are nonzero: Σ_k nnz(a[:,k]) · nnz(b[k,:]). Dense operands short-cut,
 * so analytical families never materialize a mask just for this.
 */
export const effectualMacs = (a: Operand, b: Operand): number => {
  if (a.kind === "dense") return operandRows(a) * operandNnz(b)
  if (b.kind === "dense") return operandCols(b) * operandNnz(a)
  // Large statistical operands: nonzeros fall alike on every k, so Σ_k E[nnz(a[:,k])]·E[nnz(b[k,:])] = nnz(a)·nnz(b)/K.
  if (isLargeStatisticalGemm(a, b)) return Math.round((operandNnz(a) * operandNnz(b)) / Math.max(1, operandCols(a)))
  const ca = columnCounts(a)
  const rb = rowCounts(b)
  let total = 0
  for (let k = 0; k < ca.length; k++) total += ca[k]! * rb[k]!
  return total
}

/**
 * Words the operand occupies in a storage format: exact from the nonzero count where that settles it,
 * from the mask (materialized for a statistical operand, so a seed gives one answer) where positions
 * matter.
 */
export const encodedSize = (op: Operand, format: FormatName, wordBits: number, runLengthBits = 5): EncodedSize => {
  const f = formats[format]
  const nm = nmOf(op)
  const params = { wordBits, runLengthBits, nm: nm === null ? undefined : { n: nm.n, m: nm.m } }
  const shape = { rows: operandRows(op), cols: operandCols(op), nnz: operandNnz(op) }
  if (f.needsPositions && isLargeStatistical(op)) return f.expected(shape.rows, shape.cols, operandDensity(op), params)
  return f.exact(shape, f.needsPositions && op.kind !== "dense" ? materializeMask(op) : null, params)
}
