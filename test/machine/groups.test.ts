import { Effect, Either } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { Accelerator } from "../../src/hardware/index.ts"
import {
  layerFromTrace,
  machineOf,
  statisticalLayer,
  trainingStepLayers,
  workloadFromGemm,
  workloadFromTraceRecord,
  type Layer,
  type SimRow,
} from "../../src/machine/index.ts"
import { mapLayer } from "../../src/schedule/index.ts"
import { simulateLayer } from "../../src/sim/index.ts"
import type { ConvDims, Pass } from "../../src/trace/index.ts"
import { accelerators, dataflow, maskOperand, traceOf } from "../sim/helpers.ts"

/**
 * The trace contract's `groups` and op "matmul" on every family: a record with groups g is g
 * independent GEMMs of its (m, n, k), operands stacked along rows, so what it costs is the sum of
 * what g separately simulated single-group layers cost, each built from its own slice of the masks.
 */
const all = accelerators()
const small = { rows: 4, cols: 4 }

const run = (acc: Accelerator, layer: Layer): SimRow => {
  const r = simulateLayer(machineOf(acc, small), layer, dataflow(acc.dataflows[0]))
  if (Either.isLeft(r)) throw new Error(`${acc.name}: ${r.left.message}`)
  return r.right.row
}

/** The additive columns of a row, compared to a relative 1e-9 (summation order; sparse counts are fractional). */
const additive = [
  "cycles",
  "computeCycles",
  "stallCycles",
  "fillDrainCycles",
  "imbalanceCycles",
  "maskGenCycles",
  "denseMacs",
  "macs",
  "gatedMacs",
  "effectualMacs",
  "dramReads",
  "dramWrites",
  "sramReads",
  "sramWrites",
  "ifmapSramReads",
  "filterSramReads",
  "ofmapSramWrites",
  "metadataWords",
  "events",
  "synops",
  "hops",
  "energyPj",
  "energyMacPj",
  "energySramPj",
  "energyDramPj",
  "energyLeakagePj",
] as const

const expectSum = (grouped: SimRow, singles: ReadonlyArray<SimRow>, label: string): void => {
  for (const f of additive) {
    const sum = singles.reduce((s, r) => s + r[f], 0)
    expect(Math.abs(grouped[f] - sum), `${label}: ${f}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(sum)))
  }
}

const bits = (n: number, density: number) =>
  fc
    .array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: n, maxLength: n })
    .map((u) => Uint8Array.from(u, (x) => (x < density ? 1 : 0)))

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** g random mask pairs for an (m, n, k) GEMM: group i's a is m×k, its b k×n. */
const groupedCase = fc
  .record({
    m: fc.integer({ min: 2, max: 9 }),
    n: fc.integer({ min: 1, max: 9 }),
    k: fc.integer({ min: 2, max: 12 }),
    g: fc.integer({ min: 2, max: 4 }),
    da: fc.double({ min: 0.1, max: 1, noNaN: true }),
    db: fc.double({ min: 0.1, max: 1, noNaN: true }),
    pass: fc.constantFrom<Pass | null>(null, "forward", "backward-data", "backward-weight"),
    acc: fc.constantFrom(...all),
  })
  .chain((c) =>
    fc.record({
      c: fc.constant(c),
      a: fc.array(bits(c.m * c.k, c.da), { minLength: c.g, maxLength: c.g }),
      b: fc.array(bits(c.k * c.n, c.db), { minLength: c.g, maxLength: c.g }),
    }),
  )

describe("groups: a record with groups g runs as g independent GEMMs", () => {
  it("on every family, a grouped layer's row is the sum of g single-group layers built from the slices", () => {
    fc.assert(
      fc.property(groupedCase, ({ c, a, b }) => {
        const w = workloadFromGemm("g", { m: c.m, n: c.n, k: c.k }, c.pass)
        const grouped: Layer = {
          ...w,
          groups: c.g,
          a: maskOperand(c.g * c.m, c.k, concat(a)),
          b: maskOperand(c.g * c.k, c.n, concat(b)),
        }
        const singles = a.map((ai, i) =>
          run(c.acc, { ...w, a: maskOperand(c.m, c.k, ai), b: maskOperand(c.k, c.n, b[i]!) }),
        )
        const row = run(c.acc, grouped)
        expect(row.groups).toBe(c.g)
        expect([row.m, row.n, row.k]).toEqual([c.m, c.n, c.k])
        expectSum(row, singles, `${c.acc.name} ${c.g}×(${c.m},${c.n},${c.k})`)
      }),
      { numRuns: 120 },
    )
  })

  it("a grouped conv's passes from a trace equal its channel groups traced one by one (backward-data re-expressed per group)", () => {
    // Depthwise-style: 2 groups of a 5×5 conv, 3×3 filters, padding 1; each group 2 channels → 3 filters.
    const g = 2
    const conv: ConvDims = {
      batch: 1,
      ifmapHeight: 5,
      ifmapWidth: 5,
      filterHeight: 3,
      filterWidth: 3,
      channels: 2 * g,
      numFilters: 3 * g,
      stride: 1,
      padding: 1,
      groups: g,
    }
    const one: ConvDims = { ...conv, channels: 2, numFilters: 3, groups: undefined }
    delete (one as { groups?: number }).groups
    const dims: Record<Pass, { m: number; n: number; k: number }> = {
      forward: { m: 25, n: 3, k: 18 },
      "backward-data": { m: 25, n: 18, k: 3 },
      "backward-weight": { m: 3, n: 18, k: 25 },
    }
    fc.assert(
      fc.property(
        fc.constantFrom<Pass>("forward", "backward-data", "backward-weight"),
        fc.constantFrom(...all),
        fc.integer({ min: 1, max: 1 << 20 }),
        (pass, acc, seed) => {
          const { m, n, k } = dims[pass]
          let s = seed
          const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32 < 0.6 ? 1 : 0)
          const as = Array.from({ length: g }, () => Array.from({ length: m * k }, rand))
          const bs = Array.from({ length: g }, () => Array.from({ length: k * n }, rand))
          const record = (c: ConvDims, groups: number, aBits: number[], bBits: number[]) => ({
            layer: "dw",
            pass,
            gemm: { m, n, k },
            conv: c,
            ...(groups === 1 ? {} : { groups }),
            a: traceOf(groups * m, k, aBits),
            b: traceOf(groups * k, n, bBits),
          })
          const grouped = layerFromTrace(record(conv, g, as.flat(), bs.flat()))
          expect(workloadFromTraceRecord(record(conv, g, as.flat(), bs.flat())).groups).toBe(g)
          const singles = as.map((ai, i) => run(acc, layerFromTrace(record(one, 1, ai, bs[i]!))))
          expectSum(run(acc, grouped), singles, `${acc.name} ${pass}`)
        },
      ),
      { numRuns: 40 },
    )
  })

  it("statistical operands: a grouped layer costs g times its first group, and the mapper maps one group's GEMM × g", () => {
    const acc = all.find((a) => a.family === "dense-systolic")!
    const w = { ...workloadFromGemm("heads", { m: 24, n: 16, k: 40 }, "forward"), groups: 6 }
    const layer = statisticalLayer(w, { kind: "uniform", density: 0.5 }, { kind: "dense" }, 3)
    const one = statisticalLayer(
      workloadFromGemm("heads", { m: 24, n: 16, k: 40 }, "forward"),
      { kind: "uniform", density: 0.5 },
      { kind: "dense" },
      3,
    )
    const row = run(acc, layer)
    const single = run(acc, one)
    for (const f of additive) expect(Math.abs(row[f] - 6 * single[f]), f).toBeLessThanOrEqual(1e-9 * row[f])
    const best = Effect.runSync(
      mapLayer(acc, small, layer, acc.dataflows.map(dataflow), "cycles", {
        strategy: "anneal",
        budget: 200,
        seed: 1,
        chunks: 2,
        concurrency: 1,
      }),
    )
    const replay = Either.getOrThrow(
      simulateLayer(machineOf(acc, small), layer, dataflow(best.dataflow), { mapping: best.mapping, source: "mapper" }),
    ).row
    expect([replay.cycles, replay.energyPj, replay.dramReads + replay.dramWrites]).toEqual([
      best.evaluation.cycles,
      best.evaluation.energyPj,
      best.evaluation.dramWords,
    ])
    const alone = Either.getOrThrow(
      simulateLayer(machineOf(acc, small), one, dataflow(best.dataflow), { mapping: best.mapping, source: "mapper" }),
    ).row
    expect(best.evaluation.cycles).toBe(6 * alone.cycles)
    expect(best.lowerBound.dramWords).toBeGreaterThan(0)
  })
})

describe('op "matmul": a GEMM of two activations', () => {
  const record = (bBits: ReadonlyArray<number>, nm: { n: number; m: number } | null) => ({
    layer: "attn.scores",
    pass: "forward" as const,
    op: "matmul" as const,
    gemm: { m: 8, n: 8, k: 16 },
    groups: 2,
    conv: null,
    a: traceOf(
      16,
      16,
      Array.from({ length: 256 }, (_, i) => (i % 3 === 0 ? 0 : 1)),
    ),
    b: traceOf(32, 8, bBits, nm === null ? null : { ...nm, axis: "col" }),
  })
  // b holds 2 nonzeros in every aligned group of 8 down each column: a 2:8 pattern, yet no sparsifier's.
  const twoOfEight = Array.from({ length: 256 }, (_, i) => (Math.floor(i / 8) % 8 < 2 ? 1 : 0))

  it("simulates on every family; a real mask's zeros count as any operand's do", () => {
    for (const acc of all) {
      const row = run(acc, layerFromTrace(record(twoOfEight, null)))
      expect(row.groups, acc.name).toBe(2)
      expect(row.denseMacs, acc.name).toBe(2 * 8 * 8 * 16)
      expect(row.cycles, acc.name).toBeGreaterThan(0)
      // Both masks' zeros are real: what two-sided skipping performs is the matched pairs only.
      if (acc.family === "two-sided-skipping") expect(row.macs).toBeLessThan(row.denseMacs / 3)
    }
  })

  it("gets no N:M weight credit: an N:M array runs b dense unless the trace declares a structure", () => {
    const sat = all.find((a) => a.family === "nm-training" && a.peArray.nmSupport?.m === 8)!
    expect(run(sat, layerFromTrace(record(twoOfEight, null))).mechanism).toBe("dense")
    // The statistical path: BDWP's N:M weights never reach a matmul's b.
    const layers = trainingStepLayers(
      { kind: "matmul", name: "attn.scores", m: 8, n: 8, k: 16, groups: 2 },
      { kind: "bdwp", n: 2, m: 8 },
      1,
    )
    expect(layers.map((l) => [l.pass, l.b.kind, l.groups, l.op])).toEqual([
      ["forward", "dense", 2, "matmul"],
      ["backward-data", "dense", 2, "matmul"],
      ["backward-weight", "dense", 2, "matmul"],
    ])
    expect(layers.map((l) => l.gemm)).toEqual([
      { m: 8, n: 8, k: 16 },
      { m: 8, n: 16, k: 8 },
      { m: 16, n: 8, k: 8 },
    ])
    for (const l of layers) expect(run(sat, l).mechanism).toBe("dense")
  })
})
