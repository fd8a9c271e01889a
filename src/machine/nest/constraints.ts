import { type Einsum, projectBox } from "./einsum.ts"
import { fanouts, type Hierarchy } from "./hierarchy.ts"
import type { NestMapping } from "./nest.ts"

/**
 * What an architecture allows a mapping to do, per storage level (innermost first), as Timeloop's
 * architecture constraints state it: factors fixed or capped per dim, loop orders fixed innermost
 * first, which dims spread over the X or Y axis, and data spaces a level must keep or bypass.
 */
export type FactorRule =
  | { readonly kind: "exact"; readonly value: number }
  | { readonly kind: "max"; readonly value: number }

export interface LevelConstraints {
  /** Per dim, temporal factor rules. */
  readonly temporal: ReadonlyMap<number, FactorRule>
  /** Dims that must be the level's innermost temporal loops, in this order. */
  readonly permutation: ReadonlyArray<number>
  readonly spatial: ReadonlyMap<number, FactorRule>
  /** Per dim, the axis its spatial loop must use (where the constraint fixes it). */
  readonly axis: ReadonlyMap<number, "x" | "y">
  readonly keep: ReadonlySet<number>
  readonly bypass: ReadonlySet<number>
}

export const NO_CONSTRAINTS: LevelConstraints = {
  temporal: new Map(),
  permutation: [],
  spatial: new Map(),
  axis: new Map(),
  keep: new Set(),
  bypass: new Set(),
}

const product = (xs: ReadonlyArray<number>): number => xs.reduce((a, b) => a * b, 1)

/** Words each level's tile of each data space takes (the box its loops cover), innermost first. */
export const tileWords = (e: Einsum, m: NestMapping): number[][] => {
  const extent = e.dims.map(() => 1)
  return m.levels.map((level) => {
    for (const s of level.spatial) extent[s.dim]! *= s.bound
    for (const t of level.temporal) extent[t.dim]! *= t.bound
    const high = extent.map((x) => x - 1)
    return e.dataSpaces.map((ds) => {
      const { min, max } = projectBox(
        ds,
        extent.map(() => 0),
        high,
      )
      return product(min.map((lo, i) => max[i]! - lo))
    })
  })
}

const ruleIssue = (rule: FactorRule | undefined, factor: number): string | undefined => {
  if (rule === undefined) return undefined
  if (rule.kind === "exact" && factor !== rule.value) return `must be ${rule.value}`
  if (rule.kind === "max" && factor > rule.value) return `must be at most ${rule.value}`
  return undefined
}

/** Why a mapping breaks the hierarchy or its constraints, or undefined when it is legal. */
export const nestMappingIssue = (
  e: Einsum,
  h: Hierarchy,
  constraints: ReadonlyArray<LevelConstraints>,
  m: NestMapping,
): string | undefined => {
  const n = h.storage.length
  if (m.levels.length !== n) return `the mapping has ${m.levels.length} levels, the hierarchy ${n}`
  for (let d = 0; d < e.dims.length; d++) {
    let p = 1
    for (const l of m.levels) {
      for (const t of l.temporal) if (t.dim === d) p *= t.bound
      for (const s of l.spatial) if (s.dim === d) p *= s.bound
    }
    if (p !== e.bounds[d]) return `the factors of ${e.dims[d]} multiply to ${p}, not ${e.bounds[d]}`
  }
  const words = tileWords(e, m)
  for (let i = 0; i < n; i++) {
    const s = h.storage[i]!
    const c = constraints[i] ?? NO_CONSTRAINTS
    const l = m.levels[i]!
    const where = (what: string) => `${s.name}: ${what}`
    for (const t of l.temporal) {
      const issue = ruleIssue(c.temporal.get(t.dim), t.bound)
      if (issue !== undefined) return where(`temporal factor of ${e.dims[t.dim]} ${issue}`)
      if (s.marker && t.bound > 1) return where("a fan-out marker has no temporal loops")
    }
    for (const sp of l.spatial) {
      const issue = ruleIssue(c.spatial.get(sp.dim), sp.bound)
      if (issue !== undefined) return where(`spatial factor of ${e.dims[sp.dim]} ${issue}`)
      const axis = c.axis.get(sp.dim)
      if (sp.bound > 1 && axis !== undefined && axis !== sp.axis)
        return where(`${e.dims[sp.dim]} must spread over ${axis.toUpperCase()}`)
    }
    const fan = fanouts(h)[i]!
    const x = product(l.spatial.filter((sp) => sp.axis === "x").map((sp) => sp.bound))
    const y = product(l.spatial.filter((sp) => sp.axis === "y").map((sp) => sp.bound))
    if (x > fan.x || y > fan.y) return where(`spreads ${x}×${y} over a ${fan.x}×${fan.y} fan-out`)
    // The fixed innermost loops come first among the loops that iterate.
    const order = l.temporal.filter((t) => t.bound > 1).map((t) => t.dim)
    const fixed = c.permutation.filter((d) => order.includes(d))
    if (fixed.some((d, k) => order[k] !== d))
      return where(`innermost loops must be ${c.permutation.map((d) => e.dims[d]).join(", ")}`)
    for (const [pv, ds] of e.dataSpaces.entries()) {
      const keeps = l.keep[pv] === true
      if (c.keep.has(pv) && !keeps) return where(`must keep ${ds.name}`)
      if ((c.bypass.has(pv) || s.marker) && keeps) return where(`must bypass ${ds.name}`)
      if (i === n - 1 && !keeps) return where(`the outermost level must keep ${ds.name}`)
    }
    if (s.sizeWords !== undefined) {
      const used = words[i]!.reduce((a, w, pv) => a + (l.keep[pv] === true ? w : 0), 0)
      if (used > s.sizeWords / s.multipleBuffering) return where(`tiles take ${used} words of ${s.sizeWords}`)
    }
  }
  return undefined
}
