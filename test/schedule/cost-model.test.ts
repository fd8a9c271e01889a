import { Either } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  BELOW,
  convProblem,
  gemmProblem,
  glbOccupancy,
  loopNestVisits,
  onChipWords,
  tileWords,
  walkLoopNest,
  type Mapping,
  type Problem,
} from "../../src/cost/index.ts"
import { machineOf, resultOf, runLayer, type SimRow } from "../../src/machine/index.ts"
import {
  compile,
  gemmDramLowerBoundWords,
  gemmTwoLevelDramOptimum,
  searchSync,
  smithAccumulateLowerBoundWords,
  twoLevelDramWords,
} from "../../src/schedule/index.ts"
import { mulberry32 } from "../../src/tensor/index.ts"
import { accelerator, acceleratorNames, dataflow, gemmDimsArb, gemmLayer, smallMachine, spaceOf } from "./helpers.ts"

/** Any mapping of the padded nest (capacity ignored): factors up to 4 per position, random orders, bypass and buffering. */
const mappingArb = (p: Problem, hasRf: boolean): fc.Arbitrary<Mapping> => {
  const nd = p.sizes.length
  const perm = fc.shuffledSubarray([...Array(nd).keys()], { minLength: nd, maxLength: nd })
  return fc
    .record({
      inner: fc.array(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 4, maxLength: 4 }), {
        minLength: nd,
        maxLength: nd,
      }),
      orders: fc.tuple(perm, perm, perm),
      keep: fc.tuple(fc.boolean(), fc.boolean(), fc.boolean()),
      doubleBuffer: fc.boolean(),
    })
    .map(({ inner, orders, keep, doubleBuffer }): Mapping => {
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
      return {
        factors: F,
        orders: [...orders],
        keep: [[true, true, true], [...keep], [true, true, true]],
        doubleBuffer,
      }
    })
}

const gemmArb = gemmDimsArb(7).map((g) => gemmProblem(g))
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

/** Operands that every family's mechanism can use: sparse activations, and weights N:M at the array's own N:M (2:4 elsewhere). */
const sparseSpecs = (name: string) => {
  const nm = accelerator(name).peArray.nmSupport ?? { n: 2, m: 4 }
  return { a: { kind: "uniform", density: 0.3 } as const, b: { kind: "nm", n: nm.n, m: nm.m } as const }
}

describe("loop-nest cost model", () => {
  it("closed-form visit counts equal a brute-force walk of the loop nest (GEMM and conv, with and without RFs)", () => {
    fc.assert(
      fc.property(
        fc
          .oneof(gemmArb, convArb)
          .chain((p) => fc.boolean().chain((hasRf) => mappingArb(p, hasRf).map((m) => ({ p, m, hasRf })))),
        ({ p, m, hasRf }) => {
          expect(loopNestVisits(p, m, hasRf)).toEqual(walkLoopNest(p, m, hasRf))
        },
      ),
      { numRuns: 400 },
    )
  })

  it("double buffering takes a second tile exactly for the kept tensors the GLB refills more than once", () => {
    // Refilled is read off the brute-force walk: the GLB takes in more words of the tensor than one tile holds.
    const { arch } = smallMachine("systolic-32x32", 4, 4, 1 << 20)
    fc.assert(
      fc.property(
        fc.oneof(gemmArb, convArb).chain((p) => mappingArb(p, false).map((m) => ({ p, m }))),
        ({ p, m }) => {
          const walk = walkLoopNest(p, m, false)
          const single = glbOccupancy(p, arch, { ...m, doubleBuffer: false })
          const double = glbOccupancy(p, arch, { ...m, doubleBuffer: true })
          let second = 0
          let kept = 0
          for (let t = 0; t < 3; t++) {
            if (!m.keep[1]![t]) continue
            const tile = tileWords(p, m.factors, t, BELOW.dram)
            kept += tile
            if (walk.glbFill[t]! > tile) second += tile
          }
          expect(single).toEqual([kept])
          expect(double).toEqual([kept + second])
        },
      ),
      { numRuns: 300 },
    )
  })
})

describe("the machine model's energy", () => {
  /** Random legal mappings of the space (the canonical one first), each run through the machine as the simulator runs it. */
  const runs = (name: string, g: { m: number; n: number; k: number }, seed: number, count: number) => {
    const acc = accelerator(name)
    const { a, b } = sparseSpecs(name)
    const layer = gemmLayer(g, a, b, seed)
    const df = dataflow(acc.dataflows[0])
    const c = compile(spaceOf(acc, {}, layer, df, "cycles"))
    const r = mulberry32(seed)
    const mappings = [c.canonical(), ...Array.from({ length: count }, () => c.random(r))].filter(
      (m): m is Mapping => m !== null,
    )
    return mappings.map((m) => {
      const run = runLayer(machineOf(acc), layer, df, { mapping: m, source: "test" })
      if (Either.isLeft(run))
        throw new Error(`${name}: a mapping the mapspace produced does not run: ${run.left.message}`)
      return { mapping: m, evaluation: c.evaluate(m), result: resultOf(run.right) }
    })
  }

  it("the fast sum the mapper ranks by equals Σ count × energy of every listed access and action, plus leakage, on every accelerator", () => {
    for (const name of acceleratorNames())
      fc.assert(
        // Every dim at least 2: a dim of 1 leaves the systolic dataflows nothing to stream (see search.test.ts).
        fc.property(gemmDimsArb(40, 2), fc.integer({ min: 1, max: 1 << 20 }), (g, seed) => {
          const out = runs(name, g, seed, 4)
          expect(out.length, name).toBeGreaterThan(0)
          for (const { evaluation, result } of out) {
            const { row, energy } = result
            // The mapper's number is the simulator's row, and the long form adds up to it.
            expect(evaluation.energyPj).toBe(row.energyPj)
            expect(energy.totalPj).toBeCloseTo(row.energyPj, 6)
            expect(energy.byComponentPj.mac).toBeCloseTo(row.energyMacPj, 6)
            expect(energy.byComponentPj.dram).toBeCloseTo(row.energyDramPj, 6)
            expect(energy.byComponentPj.sram).toBeCloseTo(row.energySramPj, 6)
            expect(energy.byComponentPj.leakage).toBe(row.energyLeakagePj)
            expect(Object.values(energy.byLevelPj).reduce((s, x) => s + x, 0)).toBeCloseTo(
              row.energyDramPj + row.energySramPj + (energy.byComponentPj.rf ?? 0),
              6,
            )
          }
        }),
        { numRuns: 6 },
      )
  })

  it("leakage is charged per cycle: every level's and every PE's static power over the layer's cycles", () => {
    for (const name of acceleratorNames()) {
      const acc = accelerator(name)
      // Restated from the file: every memory level, and every PE with its scratchpads if it has them.
      const peMw =
        acc.energy.peLeakage.milliwatts + (acc.family === "row-stationary" ? acc.rowStationary.rfLeakage.milliwatts : 0)
      const perCycle =
        (acc.memory.reduce((s, l) => s + l.leakage.milliwatts, 0) + acc.peArray.rows * acc.peArray.cols * peMw) /
        acc.clockGhz
      expect(perCycle, name).toBeGreaterThan(0)
      for (const { result } of runs(name, { m: 24, n: 20, k: 36 }, 7, 6)) {
        const row: SimRow = result.row
        expect(row.energyLeakagePj, name).toBeCloseTo(row.cycles * perCycle, 6)
      }
    }
  })

  it("sparsity lowers work where the family exploits it and nowhere else", () => {
    const g = { m: 64, n: 64, k: 64 }
    for (const name of acceleratorNames()) {
      const acc = accelerator(name)
      // Loihi's energies are all-in per synaptic op and neuron update, outside the loop-nest model.
      if (acc.family === "neuromorphic") continue
      const machine = machineOf(acc)
      const df = dataflow(acc.dataflows[0])
      const { a, b } = sparseSpecs(name)
      const denseLayer = gemmLayer(g)
      const sparseLayer = gemmLayer(g, a, b, 3)
      const dense = Either.getOrThrow(runLayer(machine, denseLayer, df))
      // The same mapping on both, where the layer is the same problem; an N:M array compresses K, so it runs its own.
      const s = Either.getOrThrow(
        acc.family === "nm-training"
          ? runLayer(machine, sparseLayer, df)
          : runLayer(machine, sparseLayer, df, { mapping: dense.mapping, source: "dense canonical" }),
      )
      const sparseRow = resultOf(s).row
      const denseRow = resultOf(dense).row
      const exploits = sparseRow.mechanism !== "dense"
      expect(exploits, name).toBe(
        acc.family !== "dense-systolic" &&
          !(
            acc.family === "row-stationary" &&
            acc.rowStationary.gating === "none" &&
            acc.rowStationary.ifmapEncoding === "none"
          ),
      )
      if (exploits) expect(sparseRow.energyPj, name).toBeLessThan(denseRow.energyPj)
      else {
        // Nothing but the operands' labels, densities and effectual MACs may differ.
        const { aOperand: _a, bOperand: _b, aDensity: _d, bDensity, effectualMacs, mapping: _m, ...same } = sparseRow
        expect(effectualMacs, name).toBeLessThan(denseRow.effectualMacs)
        expect({ ...denseRow, ...same }, name).toEqual(denseRow)
        expect(bDensity).toBe(b.n / b.m)
      }
      // Gating saves energy, never time; skipping and N:M compression save both.
      if (sparseRow.mechanism === "dense" || sparseRow.mechanism === "gating")
        expect(sparseRow.computeCycles, name).toBe(denseRow.computeCycles)
      else expect(sparseRow.computeCycles, name).toBeLessThan(denseRow.computeCycles)
    }
  })
})

describe("DRAM lower bounds", () => {
  it("no legal mapping moves fewer DRAM words than Smith et al.'s lower bound", () => {
    fc.assert(
      fc.property(
        gemmDimsArb(300),
        fc.integer({ min: 4, max: 4096 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer(),
        (g, glbWords, side, seed) => {
          const { acc, options, arch } = smallMachine("systolic-32x32", side, side, glbWords)
          const bound = gemmDramLowerBoundWords(g, onChipWords(arch))
          const accumulate = smithAccumulateLowerBoundWords(g, onChipWords(arch))
          const check = (dramWords: number): void => {
            expect(dramWords).toBeGreaterThanOrEqual(bound * (1 - 1e-12))
            // Accumulating into C would add M·N reads: issue 5's formula for C += AB must hold then.
            expect(dramWords + g.m * g.n).toBeGreaterThanOrEqual(accumulate * (1 - 1e-12))
          }
          const space = spaceOf(acc, options, gemmLayer(g), "free", "dram")
          const s = compile(space)
          const r = mulberry32(seed)
          for (let i = 0; i < 20; i++) {
            const m = s.random(r)
            if (m !== null) check(s.evaluate(m).dramWords)
          }
          const best = searchSync(space, { strategy: "anneal", budget: 400, seed: seed >>> 0 }).best
          if (best !== null) check(best.evaluation.dramWords)
        },
      ),
      { numRuns: 60 },
    )
  })

  describe("the two-level optimum: the best any tiled GEMM does with the whole chip as one buffer", () => {
    const ORDERS = [
      [0, 1, 2],
      [0, 2, 1],
      [1, 0, 2],
      [1, 2, 0],
      [2, 0, 1],
      [2, 1, 0],
    ] as const
    const twoLevelDims = gemmDimsArb(40)

    it("twoLevelDramWords is the machine model's DRAM count of that nest", () => {
      const { acc, options } = smallMachine("systolic-32x32", 1, 1, 1 << 20)
      fc.assert(
        fc.property(
          twoLevelDims,
          fc.integer({ min: 1, max: 40 }),
          fc.integer({ min: 1, max: 40 }),
          fc.integer({ min: 1, max: 40 }),
          fc.constantFrom(...ORDERS),
          (g, a0, b0, c0, order) => {
            const tiles = [Math.min(a0, g.m), Math.min(b0, g.n), Math.min(c0, g.k)] as const
            const sizes = [g.m, g.n, g.k]
            const F = [sizes.map((s, d) => Math.ceil(s / tiles[d]!)), [...tiles], [1, 1, 1], [1, 1, 1], [1, 1, 1]]
            const m: Mapping = {
              factors: F,
              orders: [[...order], [0, 1, 2], [0, 1, 2]],
              keep: [
                [true, true, true],
                [true, true, true],
                [true, true, true],
              ],
              doubleBuffer: false,
            }
            const s = compile(spaceOf(acc, options, gemmLayer(g), "free", "dram"))
            expect(s.problem(m)).toBeNull()
            expect(twoLevelDramWords(g, tiles, order)).toBe(s.evaluate(m).dramWords)
          },
        ),
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
                if (a * b + a * c + b * c <= s)
                  for (const o of ORDERS) brute = Math.min(brute, twoLevelDramWords(g, [a, b, c], o))
          expect(gemmTwoLevelDramOptimum(g, s)?.dramWords ?? Infinity).toBe(brute)
        }),
        { numRuns: 150 },
      )
    })
  })
})
