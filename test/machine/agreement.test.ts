import { Effect, Either } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { Accelerator } from "../../src/hardware/index.ts"
import {
  machineOf,
  mappingFromNamed,
  mappingIssue,
  namedMapping,
  prepare,
  resolveConstraints,
  statisticalLayer,
  workloadFromGemm,
  type Layer,
  type OperandSpec,
} from "../../src/machine/index.ts"
import { mapLayer, type Objective } from "../../src/schedule/index.ts"
import { simulateLayer } from "../../src/sim/index.ts"
import { accelerators, dataflow } from "../sim/helpers.ts"

/**
 * Issue 12's three properties, on random layers, operands and accelerators of every family:
 * agreement (the mapper's evaluation of a mapping is what the simulator reports for it), legality
 * (every mapping the mapper returns runs) and consistency (one layer, one answer).
 */
const all = accelerators()

/** A GEMM small enough to map in milliseconds, big enough to fold on a 32×32 array. */
const gemmArb = fc.record({
  m: fc.integer({ min: 1, max: 80 }),
  n: fc.integer({ min: 1, max: 80 }),
  k: fc.integer({ min: 1, max: 160 }),
})

const specArb: fc.Arbitrary<OperandSpec> = fc.oneof(
  fc.constant<OperandSpec>({ kind: "dense" }),
  fc.double({ min: 0.05, max: 0.95, noNaN: true }).map((density): OperandSpec => ({ kind: "uniform", density })),
)
const weightArb: fc.Arbitrary<OperandSpec> = fc.oneof(
  specArb,
  fc.constantFrom<OperandSpec>({ kind: "nm", n: 2, m: 4 }, { kind: "nm", n: 2, m: 8 }, { kind: "nm", n: 1, m: 4 }),
)

const caseArb = fc.record({
  acc: fc.constantFrom(...all),
  gemm: gemmArb,
  a: specArb,
  b: weightArb,
  seed: fc.integer({ min: 1, max: 1 << 20 }),
  objective: fc.constantFrom<Objective>("cycles", "energy", "edp", "dram"),
})

const layerOf = (c: {
  gemm: { m: number; n: number; k: number }
  a: OperandSpec
  b: OperandSpec
  seed: number
}): Layer => statisticalLayer(workloadFromGemm("fc", c.gemm), c.a, c.b, c.seed)

const search = (acc: Accelerator, layer: Layer, objective: Objective, seed: number) =>
  Effect.runSync(
    mapLayer(acc, {}, layer, acc.dataflows.map(dataflow), objective, {
      strategy: "anneal",
      budget: 240,
      seed,
      chunks: 4,
      concurrency: 1,
    }),
  )

describe("agreement: the mapper and the simulator evaluate one machine model", () => {
  it("the mapper's best mapping, replayed by the simulator, gives the mapper's cycles, energy and DRAM words exactly", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const layer = layerOf(c)
        const best = search(c.acc, layer, c.objective, c.seed)
        const run = simulateLayer(machineOf(c.acc), layer, dataflow(best.dataflow), {
          mapping: best.mapping,
          source: "mapper",
        })
        expect(Either.isRight(run), Either.isLeft(run) ? run.left.message : "").toBe(true)
        const row = Either.getOrThrow(run).row
        expect([row.cycles, row.energyPj, row.dramReads + row.dramWrites]).toEqual([
          best.evaluation.cycles,
          best.evaluation.energyPj,
          best.evaluation.dramWords,
        ])
        // Through the mapping file's named form (what `spade map --json` writes), the same numbers.
        const named = namedMapping(best.problem, best.arch, best.mapping)
        const back = mappingFromNamed(
          prepare(machineOf(c.acc), layer).problem,
          Object.fromEntries(best.problem.dimNames.map((d, i) => [d, best.problem.sizes[i]!])),
          named,
        )
        expect(typeof back).not.toBe("string")
        const again = Either.getOrThrow(
          simulateLayer(machineOf(c.acc), layer, dataflow(best.dataflow), { mapping: back as never, source: "file" }),
        ).row
        expect([again.cycles, again.energyPj]).toEqual([row.cycles, row.energyPj])
      }),
      { numRuns: 60 },
    )
  })

  it("with statistical operands the simulator's cycles are the mapper's: never below, and within 5% (here, equal)", () => {
    // The mapper's statistical operands are seeded masks where positions matter (skipping, events),
    // closed forms where they do not: the simulator given the same operands runs the same masks.
    fc.assert(
      fc.property(caseArb, (c) => {
        const layer = layerOf(c)
        const best = search(c.acc, layer, "cycles", c.seed)
        const row = Either.getOrThrow(
          simulateLayer(machineOf(c.acc), layer, dataflow(best.dataflow), { mapping: best.mapping, source: "mapper" }),
        ).row
        expect(row.cycles).toBeGreaterThanOrEqual(best.evaluation.cycles)
        expect(row.cycles).toBeLessThanOrEqual(1.05 * best.evaluation.cycles)
      }),
      { numRuns: 30 },
    )
  })
})

describe("legality: every mapping the mapper returns runs on the simulator", () => {
  it("the best and every point of the Pareto front pass the machine's rules and simulate to their evaluations", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const layer = layerOf(c)
        const best = search(c.acc, layer, c.objective, c.seed)
        const machine = machineOf(c.acc)
        const p = prepare(machine, layer)
        for (const point of [
          { dataflow: best.dataflow, mapping: best.mapping, evaluation: best.evaluation },
          ...best.paretoFront,
        ]) {
          const constraints = Either.getOrThrow(resolveConstraints(dataflow(point.dataflow), p.problem))
          expect(mappingIssue(p, point.mapping, constraints)).toBeNull()
          const row = Either.getOrThrow(
            simulateLayer(machine, layer, dataflow(point.dataflow), { mapping: point.mapping, source: "front" }),
          ).row
          expect([row.cycles, row.energyPj]).toEqual([point.evaluation.cycles, point.evaluation.energyPj])
        }
      }),
      { numRuns: 40 },
    )
  })

  it("a systolic array never reduces along both axes, even under `free`, and no best is dominated by an equal-objective point", () => {
    const systolic = all.find((a) => a.name === "systolic-32x32")!
    for (const [m, n, k] of [
      [4, 4, 4096],
      [8, 8, 8],
      [64, 128, 784],
    ] as const) {
      const layer = layerOf({ gemm: { m, n, k }, a: { kind: "dense" }, b: { kind: "dense" }, seed: 1 })
      const best = Effect.runSync(
        mapLayer(systolic, {}, layer, [...systolic.dataflows, "free"].map(dataflow), "cycles", {
          strategy: "anneal",
          budget: 2000,
          seed: 1,
          chunks: 4,
          concurrency: 1,
        }),
      )
      const row = Either.getOrThrow(
        simulateLayer(machineOf(systolic), layer, dataflow(best.dataflow), { mapping: best.mapping, source: "mapper" }),
      ).row
      expect(row.cycles).toBe(best.evaluation.cycles)
      const kDim = 2
      expect(best.mapping.factors[2]![kDim]! > 1 && best.mapping.factors[3]![kDim]! > 1).toBe(false)
      for (const p of best.paretoFront)
        if (p.evaluation.cycles === best.evaluation.cycles)
          expect(p.evaluation.energyPj).toBeGreaterThanOrEqual(best.evaluation.energyPj)
    }
  })
})

describe("consistency: one layer, one answer", () => {
  const canonicalRow = (acc: Accelerator, layer: Layer) =>
    Either.getOrThrow(simulateLayer(machineOf(acc), layer, dataflow(acc.dataflows[0]))).row

  it("a density of 1 is the dense operand: the same row on every accelerator", () => {
    fc.assert(
      fc.property(fc.constantFrom(...all), gemmArb, (acc, gemm) => {
        const dense = canonicalRow(acc, layerOf({ gemm, a: { kind: "dense" }, b: { kind: "dense" }, seed: 1 }))
        const one = canonicalRow(
          acc,
          layerOf({ gemm, a: { kind: "uniform", density: 1 }, b: { kind: "uniform", density: 1 }, seed: 1 }),
        )
        expect(one).toEqual(dense)
      }),
      { numRuns: 40 },
    )
  })

  it("a 2:8 mask on a 2:4 array runs sparse and beats dense (every aligned group of 8 with 2 nonzeros is two 2:4 groups)", () => {
    const sat = all.find((a) => a.name === "sat-like-2x4")!
    // A reduction longer than the array's 32 rows: dense folds it, the compressed one folds less.
    fc.assert(
      fc.property(
        fc.integer({ min: 64, max: 256 }),
        fc.integer({ min: 16, max: 96 }),
        fc.integer({ min: 5, max: 12 }),
        (m, n, k8) => {
          const gemm = { m, n, k: 8 * k8 }
          const sparse = canonicalRow(
            sat,
            layerOf({ gemm, a: { kind: "dense" }, b: { kind: "nm", n: 2, m: 8 }, seed: 3 }),
          )
          const dense = canonicalRow(sat, layerOf({ gemm, a: { kind: "dense" }, b: { kind: "dense" }, seed: 3 }))
          expect(sparse.mechanism).toBe("nm:2:4")
          expect(sparse.cycles).toBeLessThan(dense.cycles)
          expect(sparse.macs).toBe(dense.macs / 2)
        },
      ),
      { numRuns: 30 },
    )
  })

  it("a layer that only gets bigger never costs less energy", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...all),
        gemmArb,
        fc.constantFrom(0, 1, 2),
        fc.integer({ min: 1, max: 40 }),
        (acc, gemm, dim, grow) => {
          const bigger = {
            ...gemm,
            ...(dim === 0 ? { m: gemm.m + grow } : dim === 1 ? { n: gemm.n + grow } : { k: gemm.k + grow }),
          }
          const small = canonicalRow(acc, layerOf({ gemm, a: { kind: "dense" }, b: { kind: "dense" }, seed: 1 }))
          const big = canonicalRow(acc, layerOf({ gemm: bigger, a: { kind: "dense" }, b: { kind: "dense" }, seed: 1 }))
          expect(big.energyPj).toBeGreaterThanOrEqual(small.energyPj)
        },
      ),
      { numRuns: 60 },
    )
  })
})
