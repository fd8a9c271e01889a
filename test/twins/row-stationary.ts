/**
 * A register-level, cycle-stepped twin of an Eyeriss-like row-stationary array, written from the
 * accelerator file (array size, the three scratchpads' `rfWords`, gating) and the dataflow's rules
 * alone. It picks its own placement, steps every PE one MAC a cycle with real scratchpads that hold
 * tagged tiles, and computes the layer's values, checked against a direct convolution or GEMM.
 *
 * The schedule it picks:
 *
 * - conv (the dataflow's conv section: rows take R and C, cols take P and K, the RF's innermost
 *   loops Q then S): a PE convolves one filter row with one ifmap row. Its filter scratchpad holds
 *   a filter row's S taps and its ifmap scratchpad the input segment for qRf outputs, its psum
 *   scratchpad qRf partial sums: qRf is the most outputs all three hold ((qRf − 1)·stride + S ≤
 *   ifmap words, qRf ≤ psum words); a filter row longer than a scratchpad goes a piece at a time,
 *   one output at a time. Filter rows go down the array (a filter taller than the array in the
 *   fewest equal pieces), channels fill the rows left; ofmap rows go across, filters fill the cols
 *   left.
 * - GEMM (the dataflow's top level: rows take K, cols take M): a PE holds one activation and a row
 *   of N_rf weights and accumulates N_rf outputs, N_rf the most the psum and filter scratchpads hold.
 * - Outputs finish on the array: the loops over outputs (conv N, K, P, Q; GEMM M, N) run outside
 *   the reduction loops (C, R, S; K), so a psum tile stays in its scratchpad until complete.
 *
 * The machine: every PE does one MAC a cycle in lockstep, each row one cycle behind the row above,
 * so a finished partial sum moves down the column one row a cycle (reading the PE's psum
 * scratchpad and adding the incoming one) and leaves the last row into the global buffer. Zero
 * gating (Eyeriss v1) skips the filter read and the psum update of a zero activation, never the
 * cycle. A scratchpad is refilled when the tile its next step needs differs from the tile it holds
 * (a tile larger than the scratchpad is a hazard); the GLB multicasts: the words a step's refills
 * need are read once however many PEs take them. Refills arrive through the PEs' input FIFOs ahead
 * of use: they are counted, never waited for (the model's memory-bandwidth check covers them).
 */
import type { RowStationaryAccelerator } from "../../src/hardware/index.ts"
import type { ConvDims } from "../../src/trace/index.ts"
import { type Gemm, gemmReference, hazard, valuesOf } from "./common.ts"

export type RowStationaryLayer =
  | { readonly kind: "gemm"; readonly g: Gemm; readonly aMask: Uint8Array; readonly bMask: Uint8Array }
  /** A dense conv (the twin builds its own padded input and filters). */
  | { readonly kind: "conv"; readonly conv: ConvDims }

export interface RowStationaryTwinInput {
  readonly acc: RowStationaryAccelerator
  readonly rows?: number | undefined
  readonly cols?: number | undefined
  readonly layer: RowStationaryLayer
}

export interface Rw {
  reads: number
  writes: number
}

export interface RowStationaryTwinResult {
  readonly cycles: number
  /** Lockstep steps (one MAC per busy PE each). */
  readonly steps: number
  /** Rows a finished partial sum passes through. */
  readonly chainRows: number
  /** MACs performed and MACs gated on a zero activation. */
  readonly macs: number
  readonly gated: number
  /** Scratchpad reads and writes per tensor (ifmap, filter, psum). */
  readonly rf: readonly [Rw, Rw, Rw]
  /** Global-buffer words read into the array (ifmap, filter, psum reloads) and written from it (outputs). */
  readonly glbReads: readonly [number, number, number]
  readonly glbWrites: number
  /**
   * Scratchpad words (ifmap, filter) a static controller, following the loop nest, would send, and
   * the GLB reads that takes (multicast): at least the refills; more where a PE still held the tile.
   */
  readonly sent: readonly [number, number]
  readonly glbSent: readonly [number, number]
  readonly out: Float64Array
  readonly expected: Float64Array
}

interface Factor {
  readonly dim: number
  readonly f: number
}

/** A layer as a loop nest the twin schedules: dims, where each goes, and the tensors' word keys. */
interface Nest {
  readonly sizes: ReadonlyArray<number>
  readonly rows: ReadonlyArray<Factor>
  readonly cols: ReadonlyArray<Factor>
  readonly rf: ReadonlyArray<Factor>
  /** Temporal loops, outermost first. */
  readonly temporal: ReadonlyArray<number>
  /** Per tensor (ifmap, filter, output), the dims its coordinates follow. */
  readonly relevant: ReadonlyArray<ReadonlyArray<number>>
  /** Word keys of the ifmap, filter and output element at a point. */
  readonly key: (t: 0 | 1 | 2, x: Int32Array) => number
  readonly ifmap: Float64Array
  readonly filter: Float64Array
  readonly expected: Float64Array
}

const convNest = (c: ConvDims, R: number, C: number, cap: readonly [number, number, number]): Nest => {
  const st = c.stride
  const P = Math.floor((c.ifmapHeight + 2 * c.padding - c.filterHeight) / st) + 1
  const Q = Math.floor((c.ifmapWidth + 2 * c.padding - c.filterWidth) / st) + 1
  const [Nb, K, Ch, Rf, S] = [c.batch, c.numFilters, c.channels, c.filterHeight, c.filterWidth]
  // The padded input the PEs read (padding words move like any other).
  const H = (P - 1) * st + Rf
  const W = (Q - 1) * st + S
  const [capI, capF, capO] = cap
  const sRf = Math.min(S, capI, capF)
  let qRf = 1
  if (sRf === S) while (qRf < Q && qRf < capO && qRf * st + S <= capI) qRf++
  const pieces = Math.ceil(Rf / R)
  const rRows = Math.ceil(Rf / pieces)
  const cRows = Math.max(1, Math.min(Ch, Math.floor(R / rRows)))
  const pCols = Math.min(P, C)
  const kCols = Math.max(1, Math.min(K, Math.floor(C / pCols)))
  const ifmap = valuesOf(new Uint8Array(Nb * Ch * H * W).fill(1), 11)
  const filter = valuesOf(new Uint8Array(K * Ch * Rf * S).fill(1), 12)
  const expected = new Float64Array(Nb * K * P * Q)
  for (let n = 0; n < Nb; n++)
    for (let k = 0; k < K; k++)
      for (let p = 0; p < P; p++)
        for (let q = 0; q < Q; q++) {
          let s = 0
          for (let ch = 0; ch < Ch; ch++)
            for (let r = 0; r < Rf; r++)
              for (let t = 0; t < S; t++)
                s +=
                  ifmap[((n * Ch + ch) * H + p * st + r) * W + q * st + t]! * filter[((k * Ch + ch) * Rf + r) * S + t]!
          expected[((n * K + k) * P + p) * Q + q] = s
        }
  // Dims: 0 N, 1 K, 2 C, 3 P, 4 Q, 5 R, 6 S.
  return {
    sizes: [Nb, K, Ch, P, Q, Rf, S],
    rows: [
      { dim: 2, f: cRows },
      { dim: 5, f: rRows },
    ],
    cols: [
      { dim: 1, f: kCols },
      { dim: 3, f: pCols },
    ],
    rf: [
      { dim: 4, f: qRf },
      { dim: 6, f: sRf },
    ],
    temporal: [0, 1, 3, 4, 2, 5, 6],
    relevant: [
      [0, 2, 3, 4, 5, 6],
      [1, 2, 5, 6],
      [0, 1, 3, 4],
    ],
    key: (t, x) =>
      t === 0
        ? ((x[0]! * Ch + x[2]!) * H + x[3]! * st + x[5]!) * W + x[4]! * st + x[6]!
        : t === 1
          ? ((x[1]! * Ch + x[2]!) * Rf + x[5]!) * S + x[6]!
          : ((x[0]! * K + x[1]!) * P + x[3]!) * Q + x[4]!,
    ifmap,
    filter,
    expected,
  }
}

const gemmNest = (
  g: Gemm,
  aMask: Uint8Array,
  bMask: Uint8Array,
  R: number,
  C: number,
  cap: readonly [number, number, number],
): Nest => {
  const ifmap = valuesOf(aMask, 1)
  const filter = valuesOf(bMask, 2)
  // Dims: 0 M, 1 N, 2 K.
  return {
    sizes: [g.m, g.n, g.k],
    rows: [{ dim: 2, f: Math.min(g.k, R) }],
    cols: [{ dim: 0, f: Math.min(g.m, C) }],
    rf: [{ dim: 1, f: Math.max(1, Math.min(g.n, cap[2], cap[1])) }],
    temporal: [0, 1, 2],
    relevant: [
      [0, 2],
      [2, 1],
      [0, 1],
    ],
    key: (t, x) => (t === 0 ? x[0]! * g.k + x[2]! : t === 1 ? x[2]! * g.n + x[1]! : x[0]! * g.n + x[1]!),
    ifmap,
    filter,
    expected: gemmReference(g, ifmap, filter),
  }
}

/** A PE's scratchpad: the words it holds (sorted keys), with their values. */
interface Spad {
  keys: number[]
  vals: Map<number, number>
}

export const rowStationaryTwin = (x: RowStationaryTwinInput): RowStationaryTwinResult => {
  const { acc } = x
  const R = x.rows ?? acc.peArray.rows
  const C = x.cols ?? acc.peArray.cols
  const rs = acc.rowStationary
  const cap = [rs.rfWords.ifmap, rs.rfWords.filter, rs.rfWords.ofmap] as const
  const gating = rs.gating === "zero-ifmap"
  const nest =
    x.layer.kind === "conv"
      ? convNest(x.layer.conv, R, C, cap)
      : gemmNest(x.layer.g, x.layer.aMask, x.layer.bMask, R, C, cap)
  const { sizes } = nest
  const nd = sizes.length
  const spatialF = new Array<number>(nd).fill(1)
  const rfF = new Array<number>(nd).fill(1)
  for (const s of [...nest.rows, ...nest.cols]) spatialF[s.dim] = s.f
  for (const s of nest.rf) rfF[s.dim] = s.f
  const rowsUsed = nest.rows.reduce((p, s) => p * s.f, 1)
  const colsUsed = nest.cols.reduce((p, s) => p * s.f, 1)
  hazard(rowsUsed <= R && colsUsed <= C, () => `placement ${rowsUsed}×${colsUsed} exceeds the ${R}×${C} array`)
  const tCount = sizes.map((s, d) => Math.ceil(s / (spatialF[d]! * rfF[d]!)))
  // Digit → index: temporal outer, then the spatial digit, then the RF digit.
  const index = (d: number, tDigit: number, sDigit: number, rDigit: number): number =>
    (tDigit * spatialF[d]! + sDigit) * rfF[d]! + rDigit
  const digitsOf = (fs: ReadonlyArray<Factor>, i: number): Map<number, number> => {
    const m = new Map<number, number>()
    for (let j = fs.length - 1; j >= 0; j--) {
      m.set(fs[j]!.dim, i % fs[j]!.f)
      i = Math.floor(i / fs[j]!.f)
    }
    return m
  }
  const rowDigits = Array.from({ length: rowsUsed }, (_, i) => digitsOf(nest.rows, i))
  const colDigits = Array.from({ length: colsUsed }, (_, i) => digitsOf(nest.cols, i))
  const rfSteps = nest.rf.reduce((p, s) => p * s.f, 1)
  const rfDigits = Array.from({ length: rfSteps }, (_, i) => digitsOf(nest.rf, i))

  // The iterations in order; a step is (iteration, RF point) with every RF index valid.
  const iters: Int32Array[] = []
  {
    const digits = new Int32Array(nd)
    const order = nest.temporal
    for (;;) {
      iters.push(Int32Array.from(digits))
      let i = order.length - 1
      while (i >= 0 && ++digits[order[i]!]! >= tCount[order[i]!]!) digits[order[i--]!] = 0
      if (i < 0) break
    }
  }
  interface Step {
    readonly iter: number
    readonly rf: number
    readonly first: boolean
  }
  const steps: Step[] = []
  const point = new Int32Array(nd)
  /** The point of PE (row, col) at iteration `it`, RF point `r`; false when outside the layer. */
  const at = (it: number, row: number, col: number, r: number): boolean => {
    const t = iters[it]!
    const rd = rowDigits[row]!
    const cd = colDigits[col]!
    const fd = rfDigits[r]!
    for (let d = 0; d < nd; d++) {
      point[d] = index(d, t[d]!, rd.get(d) ?? cd.get(d) ?? 0, fd.get(d) ?? 0)
      if (point[d]! >= sizes[d]!) return false
    }
    return true
  }
  for (let it = 0; it < iters.length; it++) {
    let first = true
    for (let r = 0; r < rfSteps; r++) {
      // RF indices are the same for every PE: a step exists when its RF point is inside the layer.
      const t = iters[it]!
      const fd = rfDigits[r]!
      let ok = true
      for (const s of nest.rf) if (index(s.dim, t[s.dim]!, 0, fd.get(s.dim)!) >= sizes[s.dim]!) ok = false
      // ... and some PE has a point there.
      if (ok) {
        let any = false
        for (let row = 0; row < rowsUsed && !any; row++)
          for (let col = 0; col < colsUsed && !any; col++) any = at(it, row, col, r)
        ok = any
      }
      if (!ok) continue
      steps.push({ iter: it, rf: r, first })
      first = false
    }
  }
  /** The output a column works on at a step (row dims index only the reduction), or -1. */
  const outKey = (it: number, col: number, r: number): number => {
    const t = iters[it]!
    const cd = colDigits[col]!
    const fd = rfDigits[r]!
    for (let d = 0; d < nd; d++) {
      point[d] = index(d, t[d]!, cd.get(d) ?? 0, fd.get(d) ?? 0)
      if (point[d]! >= sizes[d]!) return -1
    }
    return nest.key(2, point)
  }
  // The step at which each output is last touched: its partial sums then go down its column.
  const lastTouch = new Map<number, number>()
  for (let s = 0; s < steps.length; s++)
    for (let col = 0; col < colsUsed; col++) {
      const k = outKey(steps[s]!.iter, col, steps[s]!.rf)
      if (k >= 0) lastTouch.set(k, s)
    }
  const finishing = steps.map((st, s) =>
    Int32Array.from({ length: colsUsed }, (_, col) => {
      const k = outKey(st.iter, col, st.rf)
      return k >= 0 && lastTouch.get(k) === s ? k : -1
    }),
  )

  // ---- the machine
  const rf: [Rw, Rw, Rw] = [
    { reads: 0, writes: 0 },
    { reads: 0, writes: 0 },
    { reads: 0, writes: 0 },
  ]
  const glbReads: [number, number, number] = [0, 0, 0]
  let glbWrites = 0
  let macs = 0
  let gated = 0
  const pes = rowsUsed * colsUsed
  const spads = Array.from({ length: pes }, () => [0, 1, 2].map((): Spad => ({ keys: [], vals: new Map() })))
  /** Per column, the partial sum leaving each row (written by row i at its cycle, read by row i + 1 the next). */
  const chain = new Float64Array(pes)
  /**
   * Words requested from the GLB per iteration: the refills' ifmap and filter words, then the static
   * controller's. One read each, multicast to every PE asking.
   */
  const requested = new Map<number, Set<number>[]>()
  const sent = [0, 0]
  const glbSent = [0, 0]
  const out = new Float64Array(nest.expected.length)
  const written = new Uint8Array(out.length)
  let cycles = 0

  /**
   * The tiles of iteration `it` at PE (row, col), per tensor: the words at the PE's points whose
   * coordinates in that tensor's own dims lie inside the layer (a PE idle because another dim ran
   * past the edge still has, say, a filter tile there).
   */
  const tilesAt = (row: number, col: number, it: number): [number[], number[], number[]] => {
    const tiles: [Set<number>, Set<number>, Set<number>] = [new Set(), new Set(), new Set()]
    const t0 = iters[it]!
    const rd = rowDigits[row]!
    const cd = colDigits[col]!
    for (let r = 0; r < rfSteps; r++) {
      const fd = rfDigits[r]!
      for (let d = 0; d < nd; d++) point[d] = index(d, t0[d]!, rd.get(d) ?? cd.get(d) ?? 0, fd.get(d) ?? 0)
      for (const t of [0, 1, 2] as const)
        if (nest.relevant[t]!.every((d) => point[d]! < sizes[d]!)) tiles[t].add(nest.key(t, point))
    }
    return tiles.map((x) => [...x].sort((u, v) => u - v)) as [number[], number[], number[]]
  }
  const same = (x: ReadonlyArray<number>, y: ReadonlyArray<number>): boolean =>
    x.length === y.length && x.every((k, i) => k === y[i])
  /** Per PE and tensor, the previous iteration's temporal indices of the tensor's dims. */
  const lastIndices = Array.from({ length: pes }, () => [[-1], [-1], [-1]] as number[][])

  /**
   * At a PE's first step of an iteration: where it works and the tile it needs is not what its
   * scratchpad holds, refill it. A static controller, which follows the loop nest rather than the
   * scratchpads, sends the tile instead whenever a temporal loop over one of the tensor's dims has
   * advanced since the previous iteration (`sent`): that includes a tile the PE still holds from
   * before a pass it sat out (its coordinates past the layer's edge), and a window the loops
   * advanced onto the same words (stride S − 1 steps q by one and s back by S − 1).
   */
  const refill = (p: number, row: number, col: number, it: number): void => {
    const tiles = tilesAt(row, col, it)
    let works = false
    for (let r = 0; r < rfSteps && !works; r++) works = at(it, row, col, r)
    let req = requested.get(it)
    if (req === undefined) requested.set(it, (req = [new Set(), new Set(), new Set(), new Set()]))
    for (const t of [0, 1, 2] as const) {
      const keys = tiles[t]
      const indices = nest.relevant[t]!.map((d) => iters[it]![d]!)
      const advanced = !same(indices, lastIndices[p]![t]!)
      lastIndices[p]![t] = indices
      if (!works) continue
      if (advanced && t < 2) {
        sent[t] += keys.length
        for (const k of keys) req[t + 2]!.add(k)
      }
      const sp = spads[p]![t]!
      if (same(keys, sp.keys)) continue
      hazard(
        keys.length <= cap[t],
        () => `PE ${p}: a ${keys.length}-word tile of tensor ${t} in a ${cap[t]}-word scratchpad`,
      )
      sp.keys = keys
      sp.vals.clear()
      for (const k of keys) {
        if (t === 2) {
          // A new psum tile starts from zero (cleared, not written).
          sp.vals.set(k, 0)
          continue
        }
        sp.vals.set(k, (t === 0 ? nest.ifmap : nest.filter)[k]!)
        rf[t].writes++
        req[t]!.add(k)
      }
    }
  }

  const total = steps.length
  for (let c = 0; c < total + rowsUsed - 1; c++) {
    // Rows from the bottom up, so a row reads the chain register the row above wrote last cycle.
    for (let row = rowsUsed - 1; row >= 0; row--) {
      const s = c - row
      if (s < 0 || s >= total) continue
      const step = steps[s]!
      for (let col = 0; col < colsUsed; col++) {
        const p = row * colsUsed + col
        if (step.first) refill(p, row, col, step.iter)
        let incoming = row > 0 ? chain[p - colsUsed]! : 0
        if (at(step.iter, row, col, step.rf)) {
          const ka = nest.key(0, point)
          const kf = nest.key(1, point)
          const ko = nest.key(2, point)
          const sp = spads[p]!
          hazard(
            sp[0]!.vals.has(ka) && sp[1]!.vals.has(kf) && sp[2]!.vals.has(ko),
            () => `PE ${p} at ${c}: an operand is not in its scratchpads`,
          )
          const av = sp[0]!.vals.get(ka)!
          rf[0].reads++
          if (gating && av === 0) gated++
          else {
            rf[1].reads++
            rf[2].reads++
            rf[2].writes++
            sp[2]!.vals.set(ko, sp[2]!.vals.get(ko)! + av * sp[1]!.vals.get(kf)!)
            macs++
          }
        }
        // The column's output finished this step goes down: every row adds the partial sum it holds
        // (a row idle in the last reduction pass still holds its earlier passes' sums).
        const finished = finishing[s]![col]!
        if (finished < 0) continue
        const sp = spads[p]![2]!
        const own = sp.vals.get(finished)
        if (own !== undefined) {
          rf[2].reads++
          incoming += own
        }
        chain[p] = incoming
        if (row === rowsUsed - 1) {
          hazard(written[finished] === 0, () => `output ${finished} written twice`)
          out[finished] = incoming
          written[finished] = 1
          glbWrites++
          cycles = Math.max(cycles, c + 1)
        }
      }
    }
  }
  for (const sets of requested.values()) {
    glbReads[0] += sets[0]!.size
    glbReads[1] += sets[1]!.size
    glbSent[0] += sets[2]!.size
    glbSent[1] += sets[3]!.size
  }
  return {
    cycles,
    steps: total,
    chainRows: rowsUsed,
    macs,
    gated,
    rf,
    glbReads,
    glbWrites,
    sent: [sent[0]!, sent[1]!],
    glbSent: [glbSent[0]!, glbSent[1]!],
    out,
    expected: nest.expected,
  }
}
