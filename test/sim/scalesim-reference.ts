/**
 * A slow, literal rebuild of SCALE-Sim v2's demand matrices (scalesim/compute/systolic_compute_{os,ws,is}.py),
 * cell by cell, to check the closed forms in src/sim/scalesim.ts. Every step mirrors one numpy call in
 * the Python: slice the operand matrix for a fold, pad it with -1 to the array size, flip, add the
 * prefix/suffix gap rows, skew, concatenate folds one after another. One matrix row is one cycle.
 */
import type { SystolicDataflow } from "../../src/hardware/index.ts"

type Mat = number[][]

const full = (rows: number, cols: number, v = -1): Mat =>
  Array.from({ length: rows }, () => new Array<number>(cols).fill(v))
const slice = (m: Mat, r0: number, r1: number, c0: number, c1: number): Mat =>
  m.slice(r0, r1).map((row) => row.slice(c0, c1))
const transpose = (m: Mat, cols: number): Mat => Array.from({ length: cols }, (_, j) => m.map((row) => row[j]!))
const hcat = (a: Mat, b: Mat): Mat => a.map((row, i) => [...row, ...b[i]!])
const vcat = (...ms: Mat[]): Mat => ms.flat()
const flipRows = (m: Mat): Mat => [...m].reverse()
const nonNull = (m: Mat): number => m.reduce((s, row) => s + row.filter((v) => v !== -1).length, 0)
const shapeProduct = (m: Mat): number => (m.length === 0 ? 0 : m.length * m[0]!.length)

/** skew_matrix: column c is delayed by c cycles. */
const skew = (m: Mat, cols: number): Mat => {
  const out = full(m.length + cols - 1, cols)
  for (let c = 0; c < cols; c++) for (let i = 0; i < m.length; i++) out[c + i]![c] = m[i]![c]!
  return out
}

const padCols = (m: Mat, rows: number, delta: number): Mat => (delta > 0 ? hcat(m, full(rows, delta)) : m)
const padRows = (m: Mat, delta: number, cols: number): Mat => (delta > 0 ? vcat(m, full(delta, cols)) : m)

export interface ReferenceResult {
  /** Rows of the demand matrices (asserted equal for the three, as SCALE-Sim asserts). */
  readonly cycles: number
  /** SCALE-Sim's own counters (get_ifmap_requests etc.), including the os ofmap quirk. */
  readonly ifmapReads: number
  readonly filterReads: number
  readonly ofmapWrites: number
  /** Non-null (-1) entries of each demand matrix. */
  readonly ifmapDemand: number
  readonly filterDemand: number
  readonly ofmapDemand: number
}

/** Operand address matrices as operand_matrix.py lays them out (no padding, so no -1 addresses). */
const operands = (m: number, n: number, k: number): { ifmap: Mat; filter: Mat; ofmap: Mat } => ({
  ifmap: Array.from({ length: m }, (_, i) => Array.from({ length: k }, (_, j) => i * k + j)),
  filter: Array.from({ length: k }, (_, i) => Array.from({ length: n }, (_, j) => 10_000_000 + j * k + i)),
  ofmap: Array.from({ length: m }, (_, i) => Array.from({ length: n }, (_, j) => 20_000_000 + n * i + j)),
})

export const referenceScaleSim = (
  dims: { m: number; n: number; k: number },
  dataflow: SystolicDataflow,
  R: number,
  C: number,
): ReferenceResult => {
  const { m, n, k } = dims
  const op = operands(m, n, k)
  let ifmapReads = 0
  let filterReads = 0
  let ofmapWrites = 0
  const ifmapDemand: Mat = []
  const filterDemand: Mat = []
  const ofmapDemand: Mat = []

  if (dataflow === "os") {
    const [Sr, Sc, T] = [m, n, k]
    const rowFold = Math.ceil(Sr / R)
    const colFold = Math.ceil(Sc / C)
    const ifmapT = transpose(op.ifmap, k)
    for (let fc = 0; fc < colFold; fc++)
      for (let fr = 0; fr < rowFold; fr++) {
        const r0 = fr * R,
          r1 = Math.min(r0 + R, Sr)
        const c0 = fc * C,
          c1 = Math.min(c0 + C, Sc)
        // ifmap
        let d = slice(ifmapT, 0, T, r0, r1)
        ifmapReads += shapeProduct(d)
        d = padCols(d, T, R - (r1 - r0))
        d = vcat(d, full(C - 1, R))
        ifmapDemand.push(...skew(d, R))
        // filter
        let f = slice(op.filter, 0, T, c0, c1)
        filterReads += shapeProduct(f)
        f = padCols(f, T, C - (c1 - c0))
        f = vcat(f, full(R - 1, C))
        filterDemand.push(...skew(f, C))
        // ofmap
        let o = slice(op.ofmap, r0, r1, c0, c1)
        ofmapWrites += shapeProduct(o)
        o = padCols(o, r1 - r0, C - (c1 - c0))
        o = padRows(o, R - (r1 - r0), C)
        o = flipRows(o)
        ofmapWrites += o.length + C // the quirk: `ofmap_writes += shape[0] + shape[1]`
        o = vcat(full(T - 1, C), o)
        ofmapDemand.push(...skew(o, C))
      }
  } else if (dataflow === "ws") {
    const [Sr, Sc, T] = [k, n, m]
    const rowFold = Math.ceil(Sr / R)
    const colFold = Math.ceil(Sc / C)
    for (let fc = 0; fc < colFold; fc++)
      for (let fr = 0; fr < rowFold; fr++) {
        const r0 = fr * R,
          r1 = Math.min(r0 + R, Sr)
        const c0 = fc * C,
          c1 = Math.min(c0 + C, Sc)
        let d = slice(op.ifmap, 0, T, r0, r1)
        ifmapReads += shapeProduct(d)
        d = padCols(d, T, R - (r1 - r0))
        d = vcat(full(R, R), d, full(C - 1, R))
        ifmapDemand.push(...skew(d, R))
        let f = slice(op.filter, r0, r1, c0, c1)
        filterReads += shapeProduct(f)
        f = padCols(f, r1 - r0, C - (c1 - c0))
        f = padRows(f, R - (r1 - r0), C)
        f = flipRows(f)
        filterDemand.push(...vcat(f, full(R + C + T - 2, C)))
        let o = slice(op.ofmap, 0, T, c0, c1)
        ofmapWrites += shapeProduct(o)
        o = padCols(o, T, C - (c1 - c0))
        o = vcat(full(2 * R - 1, C), o)
        ofmapDemand.push(...skew(o, C))
      }
  } else {
    const [Sr, Sc, T] = [k, m, n]
    const rowFold = Math.ceil(Sr / R)
    const colFold = Math.ceil(Sc / C)
    const ifmapT = transpose(op.ifmap, k)
    for (let fc = 0; fc < colFold; fc++)
      for (let fr = 0; fr < rowFold; fr++) {
        const r0 = fr * R,
          r1 = Math.min(r0 + R, Sr)
        const c0 = fc * C,
          c1 = Math.min(c0 + C, Sc)
        let d = slice(ifmapT, r0, r1, c0, c1)
        ifmapReads += shapeProduct(d)
        d = padCols(d, r1 - r0, C - (c1 - c0))
        d = padRows(d, R - (r1 - r0), C)
        d = flipRows(d)
        ifmapDemand.push(...vcat(d, full(R + C + T - 2, C)))
        let f = transpose(slice(op.filter, r0, r1, 0, n), n)
        filterReads += shapeProduct(f)
        f = padCols(f, T, R - (r1 - r0))
        f = vcat(full(R, R), f, full(C - 1, R))
        filterDemand.push(...skew(f, R))
        let o = transpose(slice(op.ofmap, c0, c1, 0, n), n)
        ofmapWrites += shapeProduct(o)
        o = padCols(o, T, C - (c1 - c0))
        o = vcat(full(2 * R - 1, C), o)
        ofmapDemand.push(...skew(o, C))
      }
  }

  if (ifmapDemand.length !== filterDemand.length || ofmapDemand.length !== filterDemand.length)
    throw new Error(`demand matrices out of sync: ${ifmapDemand.length}, ${filterDemand.length}, ${ofmapDemand.length}`)
  return {
    cycles: ofmapDemand.length,
    ifmapReads,
    filterReads,
    ofmapWrites,
    ifmapDemand: nonNull(ifmapDemand),
    filterDemand: nonNull(filterDemand),
    ofmapDemand: nonNull(ofmapDemand),
  }
}
