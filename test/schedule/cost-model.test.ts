import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  accessesFromVisits,
  convProblem,
  costArch,
  denseStats,
  energyPjOf,
  gemmProblem,
  loopNestCost,
  loopNestVisits,
  onChipWords,
  sparseScales,
  walkLoopNest,
  type Mapping,
  type Problem,
} from "../../src/cost/index.ts"
import {
  compile,
  freeConstraints,
  gemmDramLowerBoundWords,
  gemmTwoLevelDramOptimum,
  searchSync,
  smithAccumulateLowerBoundWords,
  twoLevelDramWords,
} from "../../src/schedule/index.ts"
import { mulberry32 } from "../../src/tensor/index.ts"
import { accelerator, acceleratorNames, smallArch, gemmDimsArb } from "./helpers.ts"

/** Any mapping of the padded nest (capacity ignored): factors up to 4 per position, random orders and bypass. */
const mappingArb = (p: Problem, hasRf: boolean): fc.Arbitrary<Mapping> => {
  const nd = p.sizes.length
  const perm = fc.shuffledSubarray([...Array(nd).keys()], { minLength: nd, maxLength: nd })
  return fc
    .record({
      inner: fc.array(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 4, maxLength: 4 }), { minLength: nd, maxLength: nd }),
      orders: fc.tuple(perm, perm, perm),
      keep: fc.tuple(fc.boolean(), fc.boolean(), fc.boolean()),
    })
    .map(({ inner, orders, keep }) => {
      const F = [0, 1, 2, 3, 4].map(() => new Array<number>(nd).fill(1))
      // Innermost first: RF, cols, rows, GLB; a factor never exceeds the iterations left (no empty loops).
      const positions = [4, 3, 2, 1]
      for (let d = 0; d < nd; d++) {
        let t = 1
        for (const [i, pos] of positions.entries()) {
          if (pos === 4 && !hasRf) continue
          const f = Math.min(inner[d]![i]!, Math.ceil(p.sizes[d]! / t))
          F[pos]![d] = f
          t *= f
        }
        F[0]![d] = Math.ceil(p.sizes[d]! / t)
      }
      return { factors: F, orders: [...orders], keep: [[true, true, true], keep, [true, true, true]] }
    })
}

const gemmArb = gemmDimsArb(7).map(gemmProblem)
const convArb = fc
  .record({
    batch: fc.integer({ min: 1, max: 2 }),
    filterHeight: fc.integer({ min: 1, max: 3 }),
    filterWidth: fc.integer({ min: 1, max: 3 }),
    extraH: fc.integer({ min: 0, max: 3 }),
    extraW: fc.integer({ min: 0, max: 2 }),
    channels: fc.integer({ min: 1, max: 3 }),
    numFilters: fc.integer({ min: 1, max: 3 }),
    stride: fc.integer({ min: 1, max: 3 }),
    padding: fc.integer({ min: 0, max: 1 }),
  })
  .map((c) => convProblem({ ...c, ifmapHeight: c.filterHeight + c.extraH, ifmapWidth: c.filterWidth + c.extraW }))

describe("loop-nest cost model", () => {
  it("closed-form visit counts equal a brute-force walk of the loop nest (GEMM and conv, with and without RFs)", () => {
    fc.assert(
      fc.property(
        fc.oneof(gemmArb, convArb).chain((p) => fc.boolean().chain((hasRf) => mappingArb(p, hasRf).map((m) => ({ p, m, hasRf })))),
        ({ p, m, hasRf }) => {
          expect(loopNestVisits(p, m, hasRf)).toEqual(walkLoopNest(p, m, hasRf))
        },
      ),
      { numRuns: 400 },
    )
  })

  it("the fast energy sum equals the shared energyOfAccesses on every accelerator", () => {
    for (const name of acceleratorNames()) {
      const acc = accelerator(name)
      const arch = costArch(acc)
      const sparsity = { ifmap: { density: 0.4, nm: null }, filter: { density: 0.5, nm: { n: 2, m: 4 } } }
      fc.assert(
        fc.property(gemmArb.chain((p) => mappingArb(p, arch.rf !== null).map((m) => ({ p, m }))), ({ p, m }) => {
          const full = loopNestCost(acc, arch, p, m, sparsity)
          const sc = sparseScales(arch, sparsity)
          const fast = energyPjOf(arch, accessesFromVisits(p, m, full.visits, arch.rf !== null, sc), full.issuedMacs, full.gatedMacs)
          expect(fast).toBeCloseTo(full.energyPj, 6)
        }),
        { numRuns: 30 },
      )
    }
  })

  it("sparsity lowers work where the family exploits it and nowhere else", () => {
    const p = gemmProblem({ m: 64, n: 64, k: 64 })
    for (const name of acceleratorNames()) {
      const acc = accelerator(name)
      // An N:M array exploits only the structure it was built for.
      const nm = acc.peArray.nmSupport ?? { n: 2, m: 4 }
      const sparse = { ifmap: { density: 0.3, nm: null }, filter: { density: nm.n / nm.m, nm } }
      // Loihi's energies are all-in per synaptic op and neuron update, outside the loop-nest model.
      if (acc.family === "neuromorphic") continue
      const arch = costArch(acc)
      const m = compile({ problem: p, arch, constraints: freeConstraints(p), sparsity: denseStats, objective: "cycles" }).random(mulberry32(3))
      if (m === null) continue
      const dense = loopNestCost(acc, arch, p, m)
      const s = loopNestCost(acc, arch, p, m, sparse)
      if (arch.mechanism.kind === "dense" && arch.encoding.every((e) => e.format === "none")) expect(s.energyPj, name).toBe(dense.energyPj)
      else expect(s.energyPj, name).toBeLessThan(dense.energyPj)
      if (arch.mechanism.kind === "dense" || arch.mechanism.kind === "gating") expect(s.computeCycles, name).toBe(dense.computeCycles)
      else expect(s.computeCycles, name).toBeLessThan(dense.computeCycles)
    }
  })

  it("no legal mapping moves fewer DRAM words than Smith et al.'s lower bound", () => {
    fc.assert(
      fc.property(
        gemmDimsArb(300),
        fc.integer({ min: 4, max: 4096 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer(),
        (g, glbWords, side, seed) => {
          const { arch } = smallArch("systolic-32x32", side, side, glbWords)
          const p = gemmProblem(g)
          const bound = gemmDramLowerBoundWords(g, onChipWords(arch))
          const accumulate = smithAccumulateLowerBoundWords(g, onChipWords(arch))
          const check = (dramWords: number): void => {
            expect(dramWords).toBeGreaterThanOrEqual(bound * (1 - 1e-12))
            // Accumulating into C would add M·N reads: issue 5's formula for C += AB must hold then.
            expect(dramWords + g.m * g.n).toBeGreaterThanOrEqual(accumulate * (1 - 1e-12))
          }
          const s = compile({ problem: p, arch, constraints: freeConstraints(p), sparsity: denseStats, objective: "dram" })
          const r = mulberry32(seed)
          for (let i = 0; i < 20; i++) {
            const m = s.random(r)
            if (m !== null) check(s.evaluate(m).dramWords)
          }
          const best = searchSync(s.space, { strategy: "anneal", budget: 400, seed: seed >>> 0 }).best
          if (best !== null) check(best.evaluation.dramWords)
        },
      ),
      { numRuns: 60 },
    )
  })

  describe("the two-level optimum: the best any tiled GEMM does with the whole chip as one buffer", () => {
    const ORDERS = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] as const
    const twoLevelDims = gemmDimsArb(40)

    it("twoLevelDramWords is the shared cost model's DRAM count of that nest", () => {
      fc.assert(
        fc.property(twoLevelDims, fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.constantFrom(...ORDERS), (g, a0, b0, c0, order) => {
          const tiles = [Math.min(a0, g.m), Math.min(b0, g.n), Math.min(c0, g.k)] as const
          const sizes = [g.m, g.n, g.k]
          const F = [sizes.map((s, d) => Math.ceil(s / tiles[d]!)), [...tiles], [1, 1, 1], [1, 1, 1], [1, 1, 1]]
          const m: Mapping = { factors: F, orders: [[...order], [0, 1, 2], [0, 1, 2]], keep: [[true, true, true], [true, true, true], [true, true, true]] }
          const { acc, arch } = smallArch("systolic-32x32", 1, 1, 1 << 20)
          expect(twoLevelDramWords(g, tiles, order)).toBe(loopNestCost(acc, arch, gemmProblem(g), m).dramWords)
        }),
        { numRuns: 400 },
      )
    })

    it("the pruned enumeration equals a brute force over every tile size and order", () => {
      fc.assert(
        fc.property(twoLevelDims, fc.integer({ min: 3, max: 600 }), (g, s) => {
          let brute = Infinity
          for (let a = 1; a <= g.m; a++)
            for (let b = 1; b <= g.n; b++)
              for (let c = 1; c <= g.k; c++)
                if (a * b + a * c + b * c <= s) for (const o of ORDERS) brute = Math.min(brute, twoLevelDramWords(g, [a, b, c], o))
          expect(gemmTwoLevelDramOptimum(g, s)?.dramWords ?? Infinity).toBe(brute)
        }),
        { numRuns: 150 },
      )
    })
  })
})
