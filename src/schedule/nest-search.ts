import {
  type Einsum,
  evaluateNest,
  fanouts,
  type Hierarchy,
  type LevelConstraints,
  NO_CONSTRAINTS,
  type NestMapping,
  type NestResult,
  nestMappingIssue,
  type SparseSpec,
} from "../machine/index.ts"
import { fnvDeriveSeed, mulberry32, pick, type Rand } from "../tensor/index.ts"

/**
 * A mapper for the general loop-nest family: given an einsum, a hierarchy and its constraints, it
 * searches factorizations, loop orders, spatial axes and keep/bypass choices for the lowest
 * energy-delay product (or energy, or cycles). Restarts begin either from the trivially legal
 * mapping (every loop at the outermost level) or from random legal ones, and climb by moving one
 * prime factor, swapping two loops, flipping an axis or a keep bit, accepting a worse mapping now
 * and then (simulated annealing) so a climb can leave a local optimum. Deterministic for a seed.
 */
export type NestObjective = "edp" | "energy" | "cycles"

export interface NestSearchOptions {
  readonly seed: number
  /** Full evaluations the search may spend. */
  readonly evaluations: number
  readonly objective?: NestObjective
  readonly restarts?: number
  /** Densities and sparse optimizations, for a sparse design (Sparseloop's analysis then runs). */
  readonly sparse?: SparseSpec | undefined
  readonly onProgress?: (evaluated: number, best: number) => void
}

export interface NestSearchResult {
  readonly mapping: NestMapping
  readonly result: NestResult
  readonly score: number
  readonly evaluated: number
  /** Proposals rejected before evaluation (illegal: capacity, fan-out, constraints). */
  readonly rejected: number
}

interface Genome {
  readonly temporal: number[][]
  readonly spatial: number[][]
  readonly axis: Array<Array<"x" | "y">>
  /** Per level, all dims innermost first. */
  readonly order: number[][]
  readonly keep: boolean[][]
}

const primes = (n: number): number[] => {
  const out: number[] = []
  let m = n
  for (let p = 2; p * p <= m; p++)
    while (m % p === 0) {
      out.push(p)
      m /= p
    }
  if (m > 1) out.push(m)
  return out
}

const clone = (g: Genome): Genome => ({
  temporal: g.temporal.map((r) => [...r]),
  spatial: g.spatial.map((r) => [...r]),
  axis: g.axis.map((r) => [...r]),
  order: g.order.map((r) => [...r]),
  keep: g.keep.map((r) => [...r]),
})

export const scoreOf = (r: NestResult, objective: NestObjective): number =>
  objective === "energy" ? r.energyPj : objective === "cycles" ? r.cycles : r.energyPj * r.cycles

export const searchNestMapping = (
  e: Einsum,
  h: Hierarchy,
  constraints: ReadonlyArray<LevelConstraints>,
  options: NestSearchOptions,
): NestSearchResult | undefined => {
  const L = h.storage.length
  const D = e.dims.length
  const objective = options.objective ?? "edp"
  const rule = (l: number) => constraints[l] ?? NO_CONSTRAINTS
  const fanX = fanouts(h).map((f) => f.x)
  const fanY = fanouts(h).map((f) => f.y)

  // Slots a dim's factors may go to: (level, temporal|spatial) not fixed by an exact rule.
  type Slot = { readonly level: number; readonly spatial: boolean }
  const freeSlots: Slot[][] = e.dims.map((_, d) => {
    const slots: Slot[] = []
    for (let l = 0; l < L; l++) {
      if (!h.storage[l]!.marker && rule(l).temporal.get(d)?.kind !== "exact") slots.push({ level: l, spatial: false })
      if (fanX[l]! * fanY[l]! > 1 && rule(l).spatial.get(d)?.kind !== "exact") slots.push({ level: l, spatial: true })
    }
    return slots
  })
  const fixedOrder = (l: number): number[] => rule(l).permutation.filter((d) => d >= 0)
  const freeKeep = (l: number, pv: number): boolean =>
    l < L - 1 && !h.storage[l]!.marker && !rule(l).keep.has(pv) && !rule(l).bypass.has(pv)

  /** Exact rules placed; everything else at the outermost level's temporal loops. */
  const base = (): Genome | undefined => {
    const temporal = h.storage.map(() => new Array<number>(D).fill(1))
    const spatial = h.storage.map(() => new Array<number>(D).fill(1))
    for (let d = 0; d < D; d++) {
      let rest = e.bounds[d]!
      for (let l = 0; l < L; l++) {
        const t = rule(l).temporal.get(d)
        const s = rule(l).spatial.get(d)
        if (t?.kind === "exact") temporal[l]![d] = t.value
        if (s?.kind === "exact") spatial[l]![d] = s.value
        rest /= temporal[l]![d]! * spatial[l]![d]!
      }
      if (!Number.isInteger(rest)) return undefined
      const top = freeSlots[d]!.filter((s) => !s.spatial).at(-1)
      if (top === undefined) {
        if (rest !== 1) return undefined
      } else temporal[top.level]![d]! *= rest
    }
    const axis = h.storage.map((_, l) =>
      e.dims.map((_, d) => rule(l).axis.get(d) ?? (fanX[l]! > 1 ? ("x" as const) : ("y" as const))),
    )
    const order = h.storage.map((_, l) => {
      const fixed = fixedOrder(l)
      return [...fixed, ...e.dims.map((_, d) => d).filter((d) => !fixed.includes(d))]
    })
    const keep = h.storage.map((s, l) =>
      // Inner levels start keeping only what they must: always within capacity.
      e.dataSpaces.map((_, pv) => (l === L - 1 ? true : s.marker ? false : rule(l).keep.has(pv))),
    )
    return { temporal, spatial, axis, order, keep }
  }

  const toMapping = (g: Genome): NestMapping => ({
    levels: h.storage.map((_, l) => ({
      temporal: g.order[l]!.map((d) => ({ dim: d, bound: g.temporal[l]![d]! })),
      spatial: [
        ...e.dims.map((_, d) => d).filter((d) => g.axis[l]![d] === "x"),
        ...e.dims.map((_, d) => d).filter((d) => g.axis[l]![d] === "y"),
      ].map((d) => ({ dim: d, bound: g.spatial[l]![d]!, axis: g.axis[l]![d]! })),
      keep: g.keep[l]!,
    })),
  })

  const factorAt = (g: Genome, s: Slot, d: number): number => (s.spatial ? g.spatial : g.temporal)[s.level]![d]!

  /** Moves one prime factor of a dim between two free slots; false when there is nothing to move. */
  const moveFactor = (g: Genome, r: Rand): boolean => {
    const dims = e.dims.map((_, d) => d).filter((d) => freeSlots[d]!.length > 1 && e.bounds[d]! > 1)
    if (dims.length === 0) return false
    const d = pick(r, dims)
    const from = freeSlots[d]!.filter((s) => factorAt(g, s, d) > 1)
    if (from.length === 0) return false
    const src = pick(r, from)
    const dst = pick(
      r,
      freeSlots[d]!.filter((s) => s.level !== src.level || s.spatial !== src.spatial),
    )
    const p = pick(r, primes(factorAt(g, src, d)))
    ;(src.spatial ? g.spatial : g.temporal)[src.level]![d]! /= p
    ;(dst.spatial ? g.spatial : g.temporal)[dst.level]![d]! *= p
    return true
  }

  const swapLoops = (g: Genome, r: Rand): boolean => {
    const l = Math.floor(r() * L)
    const fixed = fixedOrder(l).length
    const movable = g.order[l]!.slice(fixed).filter((d) => g.temporal[l]![d]! > 1)
    if (movable.length < 2) return false
    const a = pick(r, movable)
    const b = pick(
      r,
      movable.filter((x) => x !== a),
    )
    const o = g.order[l]!
    const i = o.indexOf(a)
    const j = o.indexOf(b)
    o[i] = b
    o[j] = a
    return true
  }

  const flipKeep = (g: Genome, r: Rand): boolean => {
    const options: Array<[number, number]> = []
    for (let l = 0; l < L; l++)
      for (let pv = 0; pv < e.dataSpaces.length; pv++) if (freeKeep(l, pv)) options.push([l, pv])
    if (options.length === 0) return false
    const [l, pv] = pick(r, options)
    g.keep[l]![pv] = !g.keep[l]![pv]
    return true
  }

  const flipAxis = (g: Genome, r: Rand): boolean => {
    const options: Array<[number, number]> = []
    for (let l = 0; l < L; l++)
      if (fanX[l]! > 1 && fanY[l]! > 1) for (let d = 0; d < D; d++) if (!rule(l).axis.has(d)) options.push([l, d])
    if (options.length === 0) return false
    const [l, d] = pick(r, options)
    g.axis[l]![d] = g.axis[l]![d] === "x" ? "y" : "x"
    return true
  }

  const mutate = (g: Genome, r: Rand): Genome => {
    const next = clone(g)
    const k = r()
    const ok =
      k < 0.6 ? moveFactor(next, r) : k < 0.85 ? swapLoops(next, r) : k < 0.95 ? flipKeep(next, r) : flipAxis(next, r)
    return ok ? next : g
  }

  /** The base mapping with each fan-out filled as far as its dims' factors allow, dims in random order. */
  const spread = (g0: Genome, r: Rand): Genome => {
    const g = clone(g0)
    for (let l = 0; l < L; l++) {
      for (const axis of ["x", "y"] as const) {
        let room = axis === "x" ? fanX[l]! : fanY[l]!
        const dims = e.dims
          .map((_, d) => d)
          .filter((d) => freeSlots[d]!.some((s) => s.level === l && s.spatial) && g.axis[l]![d] === axis)
          .sort(() => r() - 0.5)
        for (const d of dims) {
          const top = freeSlots[d]!.filter((s) => !s.spatial).at(-1)
          if (top === undefined) continue
          for (const p of primes(g.temporal[top.level]![d]!).reverse()) {
            const cap = rule(l).spatial.get(d)
            if (p > room || (cap?.kind === "max" && g.spatial[l]![d]! * p > cap.value)) continue
            g.temporal[top.level]![d]! /= p
            g.spatial[l]![d]! *= p
            room = Math.floor(room / p)
          }
        }
      }
    }
    return g
  }

  const start = base()
  if (start === undefined) return undefined
  const legal = (g: Genome): boolean => nestMappingIssue(e, h, constraints, toMapping(g)) === undefined
  if (!legal(start)) {
    // The outermost level may not hold every loop (a capped factor): spread until legal.
    return undefined
  }

  let evaluated = 0
  let rejected = 0
  const evaluate = (g: Genome): { g: Genome; r: NestResult; score: number } => {
    evaluated++
    const r = evaluateNest(e, h, toMapping(g), options.sparse)
    return { g, r, score: scoreOf(r, objective) }
  }
  let best = evaluate(start)
  const restarts = Math.max(1, options.restarts ?? 8)
  const perRestart = Math.max(1, Math.floor((options.evaluations - 1) / restarts))
  for (let k = 0; k < restarts; k++) {
    const r = mulberry32(fnvDeriveSeed(options.seed, "nest-search", k))
    // Restarts climb from the fan-outs filled (dims in a new order each time), the odd ones after a
    // random walk away from there; a filling that breaks capacity falls back to the trivial mapping.
    const filled = spread(start, r)
    let g0 = legal(filled) ? filled : start
    if (k % 2 === 1)
      for (let i = 0; i < 200; i++) {
        const g = mutate(g0, r)
        if (g !== g0 && legal(g)) g0 = g
      }
    let cur = evaluate(g0)
    const budgetEnd = evaluated + perRestart
    let temperature = 0.05
    let proposals = 0
    while (evaluated < budgetEnd && proposals < perRestart * 50) {
      proposals++
      let g = mutate(cur.g, r)
      // Two moves at once now and then: a factor move often needs a loop swap to pay off.
      if (r() < 0.3) g = mutate(g, r)
      if (g === cur.g) continue
      if (!legal(g)) {
        rejected++
        continue
      }
      const next = evaluate(g)
      const gain = Math.log(cur.score / next.score)
      if (gain >= 0 || r() < Math.exp(gain / temperature)) cur = next
      if (cur.score < best.score) best = cur
      temperature = Math.max(0.002, temperature * 0.995)
      options.onProgress?.(evaluated, best.score)
    }
  }
  return { mapping: toMapping(best.g), result: best.r, score: best.score, evaluated, rejected }
}
