import {
  IFMAP,
  OFMAP,
  POS_COLS,
  POS_DRAM,
  POS_GLB,
  POS_RF,
  POS_ROWS,
  relevance,
  type Mapping,
  type Problem,
} from "../cost/index.ts"
import type { Timing } from "./arch.ts"
import type { ComputeTiming } from "./family.ts"

/**
 * The fold pipeline of a systolic array, read off a loop nest. The stationary tensor's tile sits in
 * the PEs while the innermost temporal loops, all irrelevant to it, stream waves through the array;
 * every iteration of the loops outside them (up to the innermost loop relevant to the stationary
 * tensor) is a fold that loads a new block. A fold of T waves:
 *
 * - default timing (double-buffered): the first fold loads its block (`rows` cycles for an input
 *   block; an output block starts empty), every fold streams max(T', `rows`) cycles (the next block
 *   shifts in, or the finished outputs shift out, while it streams), and the last adds its drain of
 *   rows + cols − 2 cycles through the skewed array. A wave needs one activation word per used row
 *   (times `ratio` for N:M PEs that pick N of every M candidates) and the port delivers `port` words
 *   per cycle, so a fold whose demand exceeds the port streams T' = ⌈T · demand / port⌉ cycles.
 * - scalesim timing: folds never overlap and each pays its full fill and drain, T + rows + cols − 2
 *   for an output-stationary fold and T + 2·rows + cols − 2 otherwise (SCALE-Sim v2's demand matrices).
 *
 * Folds differ only where a dim's tiles do not divide it, so they fall into at most two classes per
 * dim (full tiles and the remainder); the pipeline sums over the classes' product.
 */
export interface FoldParams {
  readonly rows: number
  readonly cols: number
  /** The tensor the PEs hold (IFMAP, FILTER or OFMAP). */
  readonly stationary: number
  readonly ratio: number
  readonly port: number
  readonly timing: Timing
}

interface FoldClass {
  count: number
  waves: number
  rowsUsed: number
  last: boolean
}

export const foldTiming = (p: Problem, m: Mapping, f: FoldParams): ComputeTiming => {
  const F = m.factors
  const nd = p.sizes.length
  const rel = relevance(p)[f.stationary]!
  const loops: Array<{ dim: number; pos: number }> = []
  for (const [level, pos] of [
    [0, POS_DRAM],
    [1, POS_GLB],
  ] as const)
    for (const d of m.orders[level]!) if (F[pos]![d]! > 1) loops.push({ dim: d, pos })
  let istar = -1
  for (let i = loops.length - 1; i >= 0; i--)
    if (rel[loops[i]!.dim]) {
      istar = i
      break
    }
  let classes: FoldClass[] = [{ count: 1, waves: 1, rowsUsed: 1, last: true }]
  for (let d = 0; d < nd; d++) {
    let prefixMask = 0
    let suffixTemporal = false
    for (let i = 0; i < loops.length; i++)
      if (loops[i]!.dim === d) {
        if (i <= istar) prefixMask |= 1 << loops[i]!.pos
        else suffixTemporal = true
      }
    // Extent of one fold's share of d: the product of its factors below its fold-level loops.
    let inner = 1
    for (let q = 0; q < 5; q++) if (!(prefixMask & (1 << q))) inner *= F[q]![d]!
    const size = p.sizes[d]!
    const full = Math.floor(size / inner)
    const rem = size - full * inner
    const spatialInner = F[POS_ROWS]![d]! * F[POS_COLS]![d]! * F[POS_RF]![d]!
    const rowsBelow = F[POS_COLS]![d]! * F[POS_RF]![d]!
    const share = (r: number): { waves: number; rowsUsed: number } => ({
      waves: suffixTemporal ? Math.ceil(r / spatialInner) : 1,
      rowsUsed: Math.min(F[POS_ROWS]![d]!, Math.ceil(Math.min(r, F[POS_ROWS]![d]! * rowsBelow) / rowsBelow)),
    })
    const kinds: Array<{ count: number; r: number; last: boolean }> =
      full === 0
        ? [{ count: 1, r: size, last: true }]
        : rem === 0
          ? [{ count: full, r: inner, last: true }]
          : [
              { count: full, r: inner, last: false },
              { count: 1, r: rem, last: true },
            ]
    if (
      kinds.length === 1 &&
      kinds[0]!.count === 1 &&
      kinds[0]!.r === size &&
      !suffixTemporal &&
      F[POS_ROWS]![d]! === 1
    )
      continue
    const next: FoldClass[] = []
    for (const c of classes)
      for (const k of kinds) {
        const s = share(k.r)
        next.push({
          count: c.count * k.count,
          waves: c.waves * s.waves,
          rowsUsed: c.rowsUsed * s.rowsUsed,
          last: c.last && k.last,
        })
      }
    classes = next
  }
  const { rows, cols } = f
  let streamed = 0
  let folds = 0
  for (const c of classes) {
    streamed += c.count * c.waves
    folds += c.count
  }
  if (f.timing === "scalesim") {
    const perFold = f.stationary === OFMAP ? rows + cols - 2 : 2 * rows + cols - 2
    // systolic_compute_os.py adds the fold's demand-matrix height and width to its ofmap writes.
    const extra = f.stationary === OFMAP ? folds * (rows + cols) : 0
    return {
      cycles: streamed + folds * perFold,
      fillDrainCycles: folds * perFold,
      imbalanceCycles: 0,
      ofmapSramWritesExtra: extra,
    }
  }
  // The ifmap enters along the rows unless it is the stationary tensor (then the filter streams).
  const stream = (c: FoldClass): number => {
    const demand = f.stationary === IFMAP ? 0 : c.rowsUsed * f.ratio
    return Math.ceil(c.waves * Math.max(1, demand / f.port))
  }
  const load = f.stationary === OFMAP ? 0 : rows
  const gap = rows
  const drain = rows + cols - 2
  let total = load + drain
  let busy = 0
  let lastStream = 0
  for (const c of classes) {
    const s = stream(c)
    total += c.count * Math.max(s, gap)
    busy += c.count * s
    if (c.last) lastStream = s
  }
  total += lastStream - Math.max(lastStream, gap)
  return { cycles: total, fillDrainCycles: total - busy, imbalanceCycles: 0 }
}
