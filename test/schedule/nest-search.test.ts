import { Effect } from "effect"
import * as fc from "fast-check"
import * as fs from "node:fs"
import { describe, expect, it } from "vitest"
import {
  DESIGNS,
  type Einsum,
  evaluateNest,
  fanouts,
  type Hierarchy,
  type LevelConstraints,
  NO_CONSTRAINTS,
  type NestMapping,
  nestMappingIssue,
  parseReferenceStats,
  readTimeloopSpec,
  referenceCase,
  referenceEnergyPj,
} from "../../src/machine/index.ts"
import { scoreOf, searchNestMapping } from "../../src/schedule/index.ts"
import { gemmEinsum } from "../machine/nest-fixtures.ts"

/**
 * Spade's mapper on Timeloop's own dense example designs, under their architecture constraints:
 * the mapping it finds has an energy-delay product no worse than the one Timeloop's mapper found
 * (the reference run's), and it is legal.
 */
describe("nest mapper against Timeloop's mapper", () => {
  for (const id of DESIGNS.filter((d) => d !== "sparse_tensor_core_like"))
    it(`${id}: EDP no worse than the reference mapping's`, { timeout: 120_000 }, async () => {
      const c = referenceCase(id)
      const spec = await Effect.runPromise(readTimeloopSpec(c.inputs))
      const ref = parseReferenceStats(fs.readFileSync(c.stats, "utf8"))
      const found = searchNestMapping(spec.einsum, spec.hierarchy, spec.constraints, { seed: 1, evaluations: 1200 })
      expect(found).toBeDefined()
      expect(nestMappingIssue(spec.einsum, spec.hierarchy, spec.constraints, found!.mapping)).toBeUndefined()
      expect(found!.score).toBeLessThanOrEqual(referenceEnergyPj(ref) * ref.cycles)
      // The score is the model's evaluation of the mapping returned, not a stale one.
      const again = evaluateNest(spec.einsum, spec.hierarchy, found!.mapping)
      expect(again.energyPj * again.cycles).toBeCloseTo(found!.score, 6)
    })
})

const energy = (read: number) => ({ read, write: read, update: read, leak: 0 })
/** PEs (pes × rows of them) with a register each, a fan-out, a shared buffer and DRAM. */
const hierarchy = (pes: number, bufferWords: number, regWords: number, rows = 1): Hierarchy => ({
  name: "test",
  compute: { name: "mac", meshX: pes, meshY: rows, energy: 1 },
  storage: [
    {
      name: "reg",
      meshX: pes,
      meshY: rows,
      blockSize: 1,
      wordBits: 8,
      sizeWords: regWords,
      clusterSize: 1,
      multipleBuffering: 1,
      energy: energy(0.1),
      marker: false,
    },
    {
      name: "fan",
      meshX: 1,
      meshY: 1,
      blockSize: 1,
      wordBits: 1,
      clusterSize: 1,
      multipleBuffering: 1,
      energy: energy(0),
      marker: true,
    },
    {
      name: "buffer",
      meshX: 1,
      meshY: 1,
      blockSize: 4,
      wordBits: 8,
      sizeWords: bufferWords,
      clusterSize: 1,
      readBandwidth: 4,
      multipleBuffering: 1,
      energy: energy(2),
      marker: false,
    },
    {
      name: "dram",
      meshX: 1,
      meshY: 1,
      blockSize: 8,
      wordBits: 8,
      clusterSize: 1,
      multipleBuffering: 1,
      energy: energy(100),
      marker: false,
    },
  ],
})

describe("nest mapper legality", () => {
  it("every mapping it returns is legal and computes the whole problem", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 24 }),
        fc.integer({ min: 1, max: 24 }),
        fc.integer({ min: 1, max: 24 }),
        fc.constantFrom(1, 2, 4, 8),
        fc.integer({ min: 8, max: 512 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 1000 }),
        (m, n, k, pes, buffer, reg, seed) => {
          const e = gemmEinsum(m, n, k)
          const h = hierarchy(pes, buffer, reg)
          const constraints: LevelConstraints[] = h.storage.map(() => NO_CONSTRAINTS)
          const found = searchNestMapping(e, h, constraints, { seed, evaluations: 40, restarts: 2 })
          expect(found).toBeDefined()
          expect(nestMappingIssue(e, h, constraints, found!.mapping)).toBeUndefined()
          expect(found!.result.computes).toBe(m * n * k)
        },
      ),
      { numRuns: 25, seed: 7 },
    )
  })
})

type Objective = "edp" | "energy" | "cycles"
const primeFactors = (n: number): number[] => {
  const out: number[] = []
  for (let p = 2, m = n; m > 1; p++)
    while (m % p === 0) {
      out.push(p)
      m /= p
    }
  return out
}
const permutations = (xs: ReadonlyArray<number>): number[][] =>
  xs.length <= 1 ? [[...xs]] : xs.flatMap((x, i) => permutations(xs.filter((_, j) => j !== i)).map((p) => [x, ...p]))

/**
 * The best score over every legal mapping of a tiny einsum, by brute force: each prime factor of each
 * dim at any level's temporal loops or any axis of a fan-out (one axis per dim and level, as a mapping
 * spreads a dim), every order of each level's non-trivial loops, and every keep choice of the levels
 * inside the outermost (a fan-out keeps nothing). Spatial loops go X first, then Y, by dim.
 */
const bruteForceBest = (e: Einsum, h: Hierarchy, objective: Objective): number => {
  const L = h.storage.length
  const fan = fanouts(h)
  const constraints = h.storage.map(() => NO_CONSTRAINTS)
  type Slot = { readonly level: number; readonly kind: "t" | "x" | "y" }
  const slots: Slot[] = []
  for (let l = 0; l < L; l++) {
    if (!h.storage[l]!.marker) slots.push({ level: l, kind: "t" })
    if (fan[l]!.x > 1) slots.push({ level: l, kind: "x" })
    if (fan[l]!.y > 1) slots.push({ level: l, kind: "y" })
  }
  // Per dim, the distinct ways to place its prime factors: a factor per slot.
  const placements = e.bounds.map((b) => {
    const out = new Map<string, number[]>()
    const rec = (ps: ReadonlyArray<number>, at: number[]): void => {
      if (ps.length === 0) {
        out.set(at.join(","), [...at])
        return
      }
      for (let s = 0; s < slots.length; s++) {
        at[s]! *= ps[0]!
        rec(ps.slice(1), at)
        at[s]! /= ps[0]!
      }
    }
    rec(
      primeFactors(b),
      slots.map(() => 1),
    )
    // A dim spreads over one axis of a fan-out, not both.
    return [...out.values()].filter((at) =>
      slots.every(
        (s, i) =>
          s.kind !== "x" || at[i] === 1 || slots.every((o, j) => o.level !== s.level || o.kind !== "y" || at[j] === 1),
      ),
    )
  })
  const keeps = (l: number): boolean[][] => {
    const P = e.dataSpaces.length
    if (l === L - 1) return [e.dataSpaces.map(() => true)]
    if (h.storage[l]!.marker) return [e.dataSpaces.map(() => false)]
    return Array.from({ length: 1 << P }, (_, bits) => e.dataSpaces.map((_, pv) => (bits & (1 << pv)) !== 0))
  }
  let best = Number.POSITIVE_INFINITY
  const withLevels = (at: ReadonlyArray<ReadonlyArray<number>>): void => {
    const factor = (l: number, kind: Slot["kind"], d: number) => {
      const i = slots.findIndex((s) => s.level === l && s.kind === kind)
      return i < 0 ? 1 : at[d]![i]!
    }
    const dims = e.dims.map((_, d) => d)
    const perLevel = h.storage.map((_, l) => {
      const spatial = (["x", "y"] as const).flatMap((axis) =>
        dims.filter((d) => factor(l, axis, d) > 1).map((d) => ({ dim: d, bound: factor(l, axis, d), axis })),
      )
      const busy = dims.filter((d) => factor(l, "t", d) > 1)
      return permutations(busy).flatMap((order) =>
        keeps(l).map((keep) => ({ temporal: order.map((d) => ({ dim: d, bound: factor(l, "t", d) })), spatial, keep })),
      )
    })
    const rec = (l: number, levels: NestMapping["levels"][number][]): void => {
      if (l === L) {
        const m: NestMapping = { levels }
        if (nestMappingIssue(e, h, constraints, m) !== undefined) return
        const r = evaluateNest(e, h, m)
        best = Math.min(
          best,
          objective === "energy" ? r.energyPj : objective === "cycles" ? r.cycles : r.energyPj * r.cycles,
        )
        return
      }
      for (const level of perLevel[l]!) rec(l + 1, [...levels, level])
    }
    rec(0, [])
  }
  const rec = (d: number, at: number[][]): void => {
    if (d === e.dims.length) withLevels(at)
    else for (const p of placements[d]!) rec(d + 1, [...at, p])
  }
  rec(0, [])
  return best
}

describe("nest mapper on tiny problems", () => {
  it("finds the best mapping there is, by brute force, on a 2-D array, for each objective", () => {
    // Every dim a product of small primes, so each move (a factor between levels or onto either axis,
    // a loop swap, a keep flip, an axis flip) is needed somewhere.
    for (const [m, n, k, bufferWords, regWords] of [
      [2, 2, 2, 64, 4],
      [4, 2, 1, 6, 2],
      [2, 3, 2, 12, 1],
    ] as const) {
      const e = gemmEinsum(m, n, k)
      const h = hierarchy(2, bufferWords, regWords, 2)
      const constraints = h.storage.map(() => NO_CONSTRAINTS)
      for (const objective of ["edp", "energy", "cycles"] as const) {
        const best = bruteForceBest(e, h, objective)
        const found = searchNestMapping(e, h, constraints, { seed: 3, evaluations: 1500, objective })!
        expect(found, `${m}x${n}x${k}`).toBeDefined()
        expect(nestMappingIssue(e, h, constraints, found.mapping)).toBeUndefined()
        expect(found.score, `${m}x${n}x${k} ${objective}`).toBeCloseTo(best, 9)
        const r = evaluateNest(e, h, found.mapping)
        expect(found.score).toBe(scoreOf(r, objective))
      }
    }
  })

  it("scores by edp unless asked otherwise, is the same for a seed, and reports its progress", () => {
    const e = gemmEinsum(4, 6, 2)
    const h = hierarchy(2, 16, 2, 2)
    const constraints = h.storage.map(() => NO_CONSTRAINTS)
    const progress: Array<[number, number]> = []
    const options = { seed: 5, evaluations: 200, restarts: 3 }
    const found = searchNestMapping(e, h, constraints, { ...options, onProgress: (n, b) => progress.push([n, b]) })!
    const again = searchNestMapping(e, h, constraints, options)!
    expect(again).toEqual(found)
    expect(found.score).toBe(found.result.energyPj * found.result.cycles)
    // One full evaluation for the start, one per restart's climb start, then the budget split over restarts.
    expect(found.evaluated).toBeLessThanOrEqual(options.evaluations + options.restarts)
    expect(found.evaluated).toBeGreaterThan(options.evaluations / 2)
    expect(progress.length).toBeGreaterThan(0)
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i]![0]).toBeGreaterThan(progress[i - 1]![0])
      expect(progress[i]![1]).toBeLessThanOrEqual(progress[i - 1]![1])
    }
    expect(progress.at(-1)![1]).toBe(found.score)
    expect(found.rejected).toBeGreaterThan(0)
  })

  it("gives up when the exact rules cannot hold the problem", () => {
    const e = gemmEinsum(6, 2, 2)
    const h = hierarchy(2, 64, 4)
    const rules = (l: number, rule: LevelConstraints) => h.storage.map((_, i) => (i === l ? rule : NO_CONSTRAINTS))
    const exact = (d: number, value: number) => new Map([[d, { kind: "exact" as const, value }]])
    // 4 does not divide 6.
    expect(
      searchNestMapping(e, h, rules(0, { ...NO_CONSTRAINTS, temporal: exact(0, 4) }), { seed: 1, evaluations: 20 }),
    ).toBeUndefined()
    // Every temporal level pinned to 1 for M, and no fan-out to take it: nowhere for its 6 to go.
    const pinned = h.storage.map((s) =>
      s.marker ? NO_CONSTRAINTS : { ...NO_CONSTRAINTS, temporal: exact(0, 1), spatial: exact(0, 1) },
    )
    expect(searchNestMapping(e, h, pinned, { seed: 1, evaluations: 20 })).toBeUndefined()
    // Pinned to its whole bound at the register: legal, and kept there.
    const held = searchNestMapping(e, h, rules(0, { ...NO_CONSTRAINTS, temporal: exact(0, 6) }), {
      seed: 1,
      evaluations: 60,
    })!
    expect(held.mapping.levels[0]!.temporal.find((t) => t.dim === 0)!.bound).toBe(6)
  })
})
