import { InvalidObservationError } from "./errors.ts"
import type { LayerPassObservation, OperandObservation } from "./observation.ts"
import { TILE, type OperandTrace, type TraceRecord } from "./schema.ts"

const tileCount = (n: number): number => Math.ceil(n / TILE)

const POPCOUNT = (() => {
  const t = new Uint8Array(256)
  for (let i = 1; i < 256; i++) t[i] = (i & 1) + t[i >>> 1]!
  return t
})()

/**
 * 1 unless the float's bits are ±0, without a branch: with the sign masked off, x − 1 is negative
 * only for x = 0. Integer-only arithmetic, so V8 never leaves int32 (x | -x would make -0).
 */
const nzBit = (u: number): number => (((u & 0x7fffffff) - 1) >>> 31) ^ 1

const checkOperandShape = (what: string, o: OperandObservation): void => {
  if (!Number.isInteger(o.rows) || !Number.isInteger(o.cols) || o.rows < 0 || o.cols < 0)
    throw new InvalidObservationError({
      what,
      reason: `shape ${o.rows}×${o.cols} is not a pair of non-negative integers`,
    })
  if (o.values.length !== o.rows * o.cols)
    throw new InvalidObservationError({
      what,
      reason: `values has ${o.values.length} elements, shape ${o.rows}×${o.cols} needs ${o.rows * o.cols}`,
    })
}

/**
 * Where the nonzeros of one operand are. This runs inside training steps, so it makes a single
 * pass over the values: each element feeds the bit packer, its row count and its tile count at
 * once. The zero test is on the bit pattern with the sign masked off, so -0 counts as zero and
 * NaN as nonzero, exactly like `v !== 0`, but without float compares.
 */
export const summarizeOperand = (o: OperandObservation): OperandTrace => {
  checkOperandShape(o.tensor, o)
  const { rows, cols } = o
  const total = rows * cols
  const bits = new Uint32Array(o.values.buffer, o.values.byteOffset, total)
  const mask = new Uint8Array((total + 7) >>> 3)
  const rowNnz = new Int32Array(rows)
  const tileCols = tileCount(cols)
  const tileNnz = new Int32Array(tileCount(rows) * tileCols)
  let i = 0
  // Bits not yet flushed to `mask` (fewer than 8), oldest in the high positions.
  let acc = 0
  let accBits = 0
  let byte = 0
  let nnz = 0
  for (let r = 0; r < rows; r++) {
    const tileBase = (r >>> 4) * tileCols
    let inRow = 0
    for (let tc = 0, c0 = 0; tc < tileCols; tc++, c0 += TILE) {
      const end = i + Math.min(TILE, cols - c0)
      let inTile = 0
      // Eight elements at a time, branch-free: random masks make a per-element branch mispredict.
      for (; i + 8 <= end; i += 8) {
        const chunk =
          (nzBit(bits[i]!) << 7) |
          (nzBit(bits[i + 1]!) << 6) |
          (nzBit(bits[i + 2]!) << 5) |
          (nzBit(bits[i + 3]!) << 4) |
          (nzBit(bits[i + 4]!) << 3) |
          (nzBit(bits[i + 5]!) << 2) |
          (nzBit(bits[i + 6]!) << 1) |
          nzBit(bits[i + 7]!)
        inTile += POPCOUNT[chunk]!
        acc = (acc << 8) | chunk
        mask[byte++] = acc >>> accBits
        acc &= (1 << accBits) - 1
      }
      for (; i < end; i++) {
        const nz = nzBit(bits[i]!)
        inTile += nz
        acc = (acc << 1) | nz
        if (++accBits === 8) {
          mask[byte++] = acc
          acc = 0
          accBits = 0
        }
      }
      tileNnz[tileBase + tc]! += inTile
      inRow += inTile
    }
    rowNnz[r] = inRow
    nnz += inRow
  }
  if (accBits > 0) mask[byte] = acc << (8 - accBits)
  return {
    tensor: o.tensor,
    rows,
    cols,
    nnz,
    density: total === 0 ? 0 : nnz / total,
    mask,
    rowNnz,
    tileNnz,
    nm: o.nm === null ? null : { n: o.nm.n, m: o.nm.m, axis: o.nm.axis },
  }
}

/**
 * Turn one observation into a record, copying every field: the engine reuses its buffers and
 * objects after the call. Checks the GEMM shapes against the operands, since a simulator fed a
 * mislabelled operand would produce plausible-looking wrong numbers.
 */
export const observe = (o: LayerPassObservation): TraceRecord => {
  const { m, n, k } = o.gemm
  const g = o.groups ?? 1
  const expect = (role: string, op: OperandObservation, rows: number, cols: number): void => {
    if (op.rows !== rows || op.cols !== cols)
      throw new InvalidObservationError({
        what: `${o.layer} ${o.pass} operand ${role}`,
        reason: `shape ${op.rows}×${op.cols}, but GEMM m=${m} n=${n} k=${k}${g === 1 ? "" : ` in ${g} groups`} needs ${rows}×${cols}`,
      })
  }
  expect("a", o.a, g * m, k)
  expect("b", o.b, g * k, n)
  expect("out", o.out, g * m, n)
  return {
    step: o.step,
    epoch: o.epoch,
    layer: o.layer,
    layerIndex: o.layerIndex,
    op: o.op,
    pass: o.pass,
    gemm: { m, n, k },
    ...(o.groups === undefined ? {} : { groups: o.groups }),
    conv: o.conv === null ? null : { ...o.conv },
    a: summarizeOperand(o.a),
    b: summarizeOperand(o.b),
    out: summarizeOperand(o.out),
    temporalDeltaDensity: o.temporalDeltaDensity,
    temporal:
      o.temporal == null
        ? null
        : {
            frames: o.temporal.frames,
            events: o.temporal.events.slice(),
            activationNnz: o.temporal.activationNnz.slice(),
          },
    sparsifier: {
      method: o.sparsifier.method,
      targetSparsity: o.sparsifier.targetSparsity,
      dropped: o.sparsifier.dropped,
      grown: o.sparsifier.grown,
      hamming: o.sparsifier.hamming,
    },
  }
}

/** How many independent GEMMs a record stands for: its `groups`, or 1 when absent (older files). */
export const recordGroups = (r: { readonly groups?: number | undefined }): number => r.groups ?? 1

/** Pack a 0/1-per-element map the way numpy.packbits does (MSB first, zero-padded). */
export const packMask = (bits01: Uint8Array): Uint8Array => {
  const out = new Uint8Array((bits01.length + 7) >>> 3)
  for (let i = 0; i < bits01.length; i++) if (bits01[i] !== 0) out[i >>> 3]! |= 0x80 >>> (i & 7)
  return out
}

/** The operand's nonzero map, one 0/1 byte per element, row-major (length rows·cols). */
export const unpackMask = (op: Pick<OperandTrace, "rows" | "cols" | "mask">): Uint8Array => {
  const total = op.rows * op.cols
  const out = new Uint8Array(total)
  const mask = op.mask
  for (let i = 0; i < total; i++) out[i] = (mask[i >>> 3]! >>> (7 - (i & 7))) & 1
  return out
}

/** Whether element (r, c) is nonzero, without unpacking the whole mask. */
export const maskBit = (op: Pick<OperandTrace, "cols" | "mask">, r: number, c: number): 0 | 1 => {
  const i = r * op.cols + c
  return ((op.mask[i >>> 3]! >>> (7 - (i & 7))) & 1) as 0 | 1
}

/**
 * Recompute every count from the mask alone. Simulators that edit masks (what-if pruning) use it
 * to keep the summary honest; readers use it to check a file did not lie about its counts.
 */
export const recountOperand = (op: OperandTrace): OperandTrace => {
  const { rows, cols, mask } = op
  const total = rows * cols
  const rowNnz = new Int32Array(rows)
  const tileCols = tileCount(cols)
  const tileNnz = new Int32Array(tileCount(rows) * tileCols)
  let nnz = 0
  let i = 0
  for (let r = 0; r < rows; r++) {
    const tileBase = (r >>> 4) * tileCols
    let inRow = 0
    for (let c = 0; c < cols; c++, i++) {
      if (((mask[i >>> 3]! >>> (7 - (i & 7))) & 1) === 1) {
        inRow++
        tileNnz[tileBase + (c >>> 4)]!++
      }
    }
    rowNnz[r] = inRow
    nnz += inRow
  }
  return { ...op, nnz, density: total === 0 ? 0 : nnz / total, rowNnz, tileNnz }
}

/**
 * Whether the mask really has at most n nonzeros in every group of m along the declared axis
 * (a trailing partial group may hold at most n too). True when the operand declares no N:M.
 */
export const satisfiesNm = (op: OperandTrace): boolean => {
  if (op.nm === null) return true
  const { n, m, axis } = op.nm
  const [outer, inner] = axis === "row" ? [op.rows, op.cols] : [op.cols, op.rows]
  for (let o = 0; o < outer; o++) {
    for (let g = 0; g < inner; g += m) {
      let count = 0
      const end = Math.min(g + m, inner)
      for (let j = g; j < end; j++) count += axis === "row" ? maskBit(op, o, j) : maskBit(op, j, o)
      if (count > n) return false
    }
  }
  return true
}

/**
 * Cheap consistency check of an operand's summary against its own arrays: sizes, sums and the
 * mask's set-bit count. Returns what is wrong, or null. Does not recount per row or per tile;
 * `recountOperand` does that when a caller can afford it.
 */
export const operandProblem = (op: OperandTrace): string | null => {
  const total = op.rows * op.cols
  const maskBytes = (total + 7) >>> 3
  if (op.mask.length !== maskBytes) return `mask has ${op.mask.length} bytes, ${op.rows}×${op.cols} needs ${maskBytes}`
  if (op.rowNnz.length !== op.rows) return `rowNnz has ${op.rowNnz.length} entries, expected ${op.rows} (one per row)`
  const tiles = tileCount(op.rows) * tileCount(op.cols)
  if (op.tileNnz.length !== tiles)
    return `tileNnz has ${op.tileNnz.length} entries, expected ${tiles} (${tileCount(op.rows)}×${tileCount(op.cols)} tiles)`
  if (op.nnz > total) return `nnz ${op.nnz} exceeds rows×cols = ${total}`
  let rowSum = 0
  for (let r = 0; r < op.rows; r++) {
    const v = op.rowNnz[r]!
    if (v < 0 || v > op.cols) return `rowNnz[${r}] = ${v} is outside 0..${op.cols}`
    rowSum += v
  }
  if (rowSum !== op.nnz) return `rowNnz sums to ${rowSum}, but nnz is ${op.nnz}`
  let tileSum = 0
  for (let t = 0; t < op.tileNnz.length; t++) tileSum += op.tileNnz[t]!
  if (tileSum !== op.nnz) return `tileNnz sums to ${tileSum}, but nnz is ${op.nnz}`
  const pad = maskBytes * 8 - total
  if (pad > 0 && (op.mask[maskBytes - 1]! & ((1 << pad) - 1)) !== 0)
    return "mask padding bits after the last element are not zero"
  let bitSum = 0
  for (let b = 0; b < maskBytes; b++) bitSum += POPCOUNT[op.mask[b]!]!
  if (bitSum !== op.nnz) return `mask has ${bitSum} set bits, but nnz is ${op.nnz}`
  const density = total === 0 ? 0 : op.nnz / total
  if (Math.abs(op.density - density) > 1e-12) return `density ${op.density} disagrees with nnz/(rows×cols) = ${density}`
  return null
}
