import {
  accessesFromVisits,
  loopNestVisits,
  POS_COLS,
  POS_DRAM,
  POS_GLB,
  POS_RF,
  POS_ROWS,
  type Mapping,
} from "../cost/index.ts"
import type { MapConstraints } from "./constraints.ts"
import { evaluate, mappingIssue } from "./evaluate.ts"
import { dramWordsOf, type MachineCost, type Prepared } from "./family.ts"
import { fingerprint, machineCachesEnabled, stringCache } from "./memo.ts"

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

/** Dims 0..nd−1 outermost first, those of `innermost` last in its order. */
const ordered = (nd: number, innermost: ReadonlyArray<number>): number[] => {
  const out: number[] = []
  for (let d = 0; d < nd; d++) if (!innermost.includes(d)) out.push(d)
  for (const d of innermost) out.push(d)
  return out
}

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

/** A split of the skeleton that runs: its placement (tiles grown to fill the buffers) and its bypasses. */
interface Placement {
  readonly m: Mapping
  readonly bypassed: number
}

interface Placements {
  /** Splits that run, most loops at DRAM first; at most one placement per split. */
  readonly list: ReadonlyArray<Placement>
  readonly firstIssue: string | null
  /**
   * Per placement, the DRAM words its evaluation reports (a function of the loop nest and the
   * sparse scales, not of the masks); null where the family evaluates a layer whole.
   */
  readonly dramWords: ReadonlyArray<number> | null
}

/**
 * The placements `canonicalMapping` chooses among. Whether a mapping runs (`mappingIssue`) and the
 * DRAM words it moves read the prepared problem, its sparse scales, the machine's arch and the
 * constraints, never the masks, so the placements are memoized by those (with the family and
 * accelerator, whose checks and messages they are, and the group count): the layers of a network
 * that share a shape and operand statistics share them. Only the costs that may read the masks
 * (compute timing, and what follows from it) are evaluated per layer.
 */
const placementCache = stringCache<Placements>()

const placementsKey = (p: Prepared, c: MapConstraints, s: Skeleton): string | null => {
  // Groups with real masks are each their own problem and scales: not worth a key.
  if (p.grouped !== undefined && p.grouped.others !== null) return null
  const { machine } = p
  return [
    machine.model.family,
    machine.acc.name,
    machine.timing,
    fingerprint(machine.arch),
    fingerprint(p.problem),
    fingerprint(p.scales),
    p.grouped?.count ?? 1,
    fingerprint(c),
    JSON.stringify(s),
  ].join("\n")
}

const searchPlacements = (p: Prepared, c: MapConstraints, s: Skeleton): Placements => {
  const arch = p.machine.arch
  const keeps: boolean[][] = []
  for (let bits = 7; bits >= 0; bits--) {
    const k = [0, 1, 2].map((t) => (bits & (1 << t)) !== 0)
    if (k.every((kept, t) => (kept ? arch.bufferOf[t]! >= 0 && c.glbKeep[t] !== "bypass" : c.glbKeep[t] !== "keep")))
      keeps.push(k)
  }
  const kept = (k: ReadonlyArray<boolean>): number => k.filter((x) => x).length
  keeps.sort((x, y) => kept(y) - kept(x))
  const list: Placement[] = []
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
      list.push({ m: chosen, bypassed: keep.filter((k, t) => !k && arch.bufferOf[t]! >= 0).length })
      break
    }
  return {
    list,
    firstIssue,
    dramWords: p.machine.model.evaluate === undefined ? list.map((x) => dramWordsIn(p, x.m, c)) : null,
  }
}

/**
 * `evaluate(p, m, c).dramWords`, without the compute timing: the loop nest's counts as
 * `evaluateGroup` takes them, and statistical groups repeated as `repeatCost` adds them.
 */
const dramWordsIn = (p: Prepared, m: Mapping, c: MapConstraints): number => {
  const model = p.machine.model
  const hasRf = p.machine.arch.rf !== null
  const v = loopNestVisits(p.problem, m, hasRf, model.arrayRetains?.(p, m, c))
  const words = dramWordsOf(accessesFromVisits(p.problem, m, v, hasRf, p.scales))
  return p.grouped === undefined ? words : 0 + p.grouped.count * words
}

/** A mapping of its own (a caller may change it; the cached placement stays as it was). */
const copyMapping = (m: Mapping): Mapping => ({
  ...m,
  factors: m.factors.map((f) => [...f]),
  orders: m.orders.map((o) => [...o]),
  keep: m.keep.map((k) => [...k]),
})

/**
 * What `canonicalMapping` knew of the mapping it returned, for the Prepared and constraints it had:
 * its DRAM words, and its cost where it evaluated it (or `evaluateCanonical` did since).
 */
const canonicalFacts = new WeakMap<
  Mapping,
  { readonly p: Prepared; readonly c: MapConstraints; readonly dramWords: number; cost: MachineCost | null }
>()

const factsOf = (p: Prepared, m: Mapping, c: MapConstraints) => {
  const facts = machineCachesEnabled() ? canonicalFacts.get(m) : undefined
  return facts !== undefined && facts.p === p && facts.c === c ? facts : undefined
}

/**
 * `evaluate(p, m, c)` of a mapping `canonicalMapping` returned, evaluated once (the simulator
 * evaluates the canonical mapping it just got, and a family choosing among canonical mappings does
 * too). The same numbers: evaluate is a function of p, m and c.
 */
export const evaluateCanonical = (p: Prepared, m: Mapping, c: MapConstraints): MachineCost => {
  const facts = factsOf(p, m, c)
  if (facts === undefined) return evaluate(p, m, c)
  facts.cost ??= evaluate(p, m, c)
  return facts.cost
}

/** `evaluate(p, m, c).dramWords` of a mapping `canonicalMapping` returned, without evaluating it where it can. */
export const canonicalDramWords = (p: Prepared, m: Mapping, c: MapConstraints): number =>
  factsOf(p, m, c)?.dramWords ?? evaluateCanonical(p, m, c).dramWords

const placementsOf = (p: Prepared, c: MapConstraints, s: Skeleton): { key: string | null; placements: Placements } => {
  const key = machineCachesEnabled() ? placementsKey(p, c, s) : null
  let placements = key === null ? undefined : placementCache.get(key)
  if (placements === undefined) {
    placements = searchPlacements(p, c, s)
    if (key !== null) placementCache.set(key, placements)
  }
  return { key, placements }
}

/**
 * What `canonicalDramWords` of `canonicalMapping(p, c, s)` gives, without choosing among its tied
 * placements (which evaluates them): the least DRAM words of the skeleton's placements; or the
 * issue `canonicalMapping` returns when none runs; null where only evaluating says (the caches off,
 * real-mask groups, a family's own evaluation).
 */
export const canonicalLeastDramWords = (p: Prepared, c: MapConstraints, s: Skeleton): number | string | null => {
  const { key, placements } = placementsOf(p, c, s)
  if (placements.list.length === 0) return placements.firstIssue ?? NO_PLACEMENT
  const dram = placements.dramWords
  return key === null || dram === null || dram.some(Number.isNaN) ? null : Math.min(...dram)
}

const NO_PLACEMENT = "no placement of the dataflow's loops runs here"

/**
 * The canonical mapping of a skeleton: its temporal loops split between DRAM and the GLB as high as
 * the buffers allow, the innermost DRAM loop lending the GLB as many iterations as still fit, and
 * every tensor kept in the buffer the file gives it unless its tile does not fit (fewest bypassed
 * first). Of the splits that run, the one with the fewest DRAM words (then bypasses, cycles,
 * energy) wins; on a tie, the one with more loops at DRAM (smaller tiles), as SCALE-Sim folds.
 * Double-buffered, as the default timing assumes.
 */
export const canonicalMapping = (p: Prepared, c: MapConstraints, s: Skeleton): Mapping | string => {
  const { key, placements } = placementsOf(p, c, s)
  const { list } = placements
  // DRAM words, then bypasses, decide first, and neither reads the masks: only the placements
  // tied on both are evaluated (in order, so the first of equals still wins), and a placement
  // alone there wins unevaluated.
  const dram =
    key !== null && placements.dramWords !== null && !placements.dramWords.some(Number.isNaN)
      ? placements.dramWords
      : null
  let tied = list.map((_, i) => i)
  if (dram !== null && list.length > 0) {
    const least = Math.min(...dram)
    tied = tied.filter((i) => dram[i] === least)
    const fewest = Math.min(...tied.map((i) => list[i]!.bypassed))
    tied = tied.filter((i) => list[i]!.bypassed === fewest)
  }
  let chosen: { m: Mapping; cost: MachineCost | null; dramWords: number } | null = null
  if (dram !== null && tied.length === 1) chosen = { m: list[tied[0]!]!.m, cost: null, dramWords: dram[tied[0]!]! }
  else {
    let best: { m: Mapping; cost: MachineCost; bypassed: number } | null = null
    for (const i of tied) {
      const candidate = { m: list[i]!.m, cost: evaluate(p, list[i]!.m, c), bypassed: list[i]!.bypassed }
      if (best === null || better(candidate, best)) best = candidate
    }
    if (best !== null) chosen = { m: best.m, cost: best.cost, dramWords: best.cost.dramWords }
  }
  if (chosen === null) return placements.firstIssue ?? NO_PLACEMENT
  const m = copyMapping(chosen.m)
  if (machineCachesEnabled()) canonicalFacts.set(m, { p, c, dramWords: chosen.dramWords, cost: chosen.cost })
  return m
}
