import { POS_COLS, POS_DRAM, POS_GLB, POS_RF, POS_ROWS, type Mapping } from "../cost/index.ts"
import type { MapConstraints } from "./constraints.ts"
import { evaluate, mappingIssue } from "./evaluate.ts"
import type { MachineCost, Prepared } from "./family.ts"

/**
 * A dataflow's loop structure before it meets a buffer: which dims unroll over the array and the
 * PEs' register files, and the order of the temporal loops that cover the rest. A family states
 * this; `canonicalMapping` places it in the hierarchy.
 */
export interface Skeleton {
  /** Per dim, the factor over the array's rows and over its cols. */
  readonly rows: ReadonlyArray<number>
  readonly cols: ReadonlyArray<number>
  /** Per dim, the RF factor, and the RF loops outermost first (they become the RF's innermost). */
  readonly rf?: { readonly factors: ReadonlyArray<number>; readonly order: ReadonlyArray<number> } | undefined
  /** The temporal loops, outermost first: each covers what its dim's spatial and RF factors leave. */
  readonly temporal: ReadonlyArray<number>
}

const ordered = (nd: number, innermost: ReadonlyArray<number>): number[] => [
  ...Array.from({ length: nd }, (_, d) => d).filter((d) => !innermost.includes(d)),
  ...innermost,
]

/**
 * The skeleton with its first `split` temporal loops at DRAM and the rest at the GLB; `share` of the
 * innermost DRAM loop's iterations move into the GLB (a tile of that many), 1 by default.
 */
export const placeSkeleton = (
  p: Prepared,
  s: Skeleton,
  split: number,
  keep: ReadonlyArray<boolean>,
  doubleBuffer: boolean,
  share = 1,
): Mapping => {
  const sizes = p.problem.sizes
  const nd = sizes.length
  const factors = [0, 1, 2, 3, 4].map(() => new Array<number>(nd).fill(1))
  for (let d = 0; d < nd; d++) {
    factors[POS_ROWS]![d] = s.rows[d]!
    factors[POS_COLS]![d] = s.cols[d]!
    factors[POS_RF]![d] = s.rf?.factors[d] ?? 1
    const covered = s.rows[d]! * s.cols[d]! * (s.rf?.factors[d] ?? 1)
    const i = s.temporal.indexOf(d)
    const f = Math.ceil(sizes[d]! / covered)
    if (i >= 0 && i === split - 1 && share > 1) {
      factors[POS_GLB]![d] = Math.min(share, f)
      factors[POS_DRAM]![d] = Math.ceil(f / Math.min(share, f))
    } else if (i >= 0) factors[i < split ? POS_DRAM : POS_GLB]![d] = f
  }
  const boundary = split > 0 && share > 1 ? [s.temporal[split - 1]!] : []
  return {
    factors,
    orders: [
      ordered(nd, s.temporal.slice(0, split)),
      ordered(nd, [...boundary, ...s.temporal.slice(split)]),
      ordered(nd, s.rf?.order ?? []),
    ],
    keep: [[true, true, true], [...keep], [true, true, true]],
    doubleBuffer,
  }
}

/** Fewer DRAM words, then fewer tensors bypassing their buffer (the hardware's own path), then cycles, then energy. */
const better = (x: { cost: MachineCost; bypassed: number }, y: { cost: MachineCost; bypassed: number }): boolean => {
  if (x.cost.dramWords !== y.cost.dramWords) return x.cost.dramWords < y.cost.dramWords
  if (x.bypassed !== y.bypassed) return x.bypassed < y.bypassed
  return x.cost.cycles !== y.cost.cycles ? x.cost.cycles < y.cost.cycles : x.cost.energy.totalPj < y.cost.energy.totalPj
}

/**
 * The canonical mapping of a skeleton: its temporal loops split between DRAM and the GLB as high as
 * the buffers allow, the innermost DRAM loop lending the GLB as many iterations as still fit, and
 * every tensor kept in the buffer the file gives it unless its tile does not fit (fewest bypassed
 * first). Of the splits that run, the one with the fewest DRAM words (then bypasses, cycles,
 * energy) wins; on a tie, the one with more loops at DRAM (smaller tiles), as SCALE-Sim folds.
 * Double-buffered, as the default timing assumes.
 */
export const canonicalMapping = (p: Prepared, c: MapConstraints, s: Skeleton): Mapping | string => {
  const arch = p.machine.arch
  const keeps: boolean[][] = []
  for (let bits = 7; bits >= 0; bits--) {
    const k = [0, 1, 2].map((t) => (bits & (1 << t)) !== 0)
    if (k.every((kept, t) => (kept ? arch.bufferOf[t]! >= 0 && c.glbKeep[t] !== "bypass" : c.glbKeep[t] !== "keep")))
      keeps.push(k)
  }
  const kept = (k: ReadonlyArray<boolean>): number => k.filter((x) => x).length
  keeps.sort((x, y) => kept(y) - kept(x))
  let best: { m: Mapping; cost: MachineCost; bypassed: number } | null = null
  let firstIssue: string | null = null
  const sizes = p.problem.sizes
  for (let split = s.temporal.length; split >= 0; split--)
    for (const keep of keeps) {
      const place = (share: number) => placeSkeleton(p, s, split, keep, true, share)
      const m = place(1)
      const issue = mappingIssue(p, m, c)
      if (issue !== null) {
        firstIssue ??= issue
        continue
      }
      // The innermost DRAM loop lends the GLB as many iterations as still fit (tiles fill the buffer).
      let chosen = m
      if (split > 0) {
        const d = s.temporal[split - 1]!
        let lo = 1
        let hi = Math.ceil(sizes[d]! / (s.rows[d]! * s.cols[d]! * (s.rf?.factors[d] ?? 1)))
        while (lo < hi) {
          const mid = Math.ceil((lo + hi) / 2)
          if (mappingIssue(p, place(mid), c) === null) lo = mid
          else hi = mid - 1
        }
        if (lo > 1) chosen = place(lo)
      }
      const candidate = {
        m: chosen,
        cost: evaluate(p, chosen, c),
        bypassed: keep.filter((k, t) => !k && arch.bufferOf[t]! >= 0).length,
      }
      if (best === null || better(candidate, best)) best = candidate
      break
    }
  return best?.m ?? firstIssue ?? "no placement of the dataflow's loops runs here"
}
