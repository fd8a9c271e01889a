import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { Accelerator, NmTrainingAccelerator, RowStationaryAccelerator, TwoSidedAccelerator } from "../../src/hardware/index.ts"
import {
  effectualMacs,
  iterationSummary,
  operandNnz,
  pipelineCycles,
  pipelineCyclesStepped,
  rsComputeCyclesStepped,
  rsShape,
  simulate,
  statisticalLayer,
  systolicFoldPlan,
  gemmFromConv,
  loweredIfmapWords,
  systolicFoldPlanInOrder,
  trainingGemms,
  trainingStepLayers,
  type OperandSpec,
  type SimLayer,
} from "../../src/sim/index.ts"
import type { ConvDims } from "../../src/trace/index.ts"
import { loadAcc } from "./helpers.ts"

const sat28 = loadAcc("sat-like-2x8") as NmTrainingAccelerator
const sat24 = loadAcc("sat-like-2x4") as NmTrainingAccelerator
const eyeriss = loadAcc("eyeriss-like")
const eyerissV1 = loadAcc("eyeriss-v1-like") as RowStationaryAccelerator
const cnvlutin = loadAcc("cnvlutin-like")
const sparten = loadAcc("sparten-like") as TwoSidedAccelerator
const loihi = loadAcc("loihi-like")
const systolic = loadAcc("systolic-32x32")

const dims = fc.record({ m: fc.integer({ min: 1, max: 24 }), n: fc.integer({ min: 1, max: 24 }), k: fc.integer({ min: 1, max: 40 }) })
const density = fc.double({ min: 0, max: 1, noNaN: true })
const seed = fc.integer({ min: 0, max: 2 ** 31 - 1 })
const within = (fast: number, slow: number, tol = 0.02): boolean => Math.abs(fast - slow) <= tol * Math.max(1, slow)

/** Small arrays so the cycle-stepped twins stay quick. */
const small = { rows: 4, cols: 4 }

describe("the fold pipeline's closed form and its cycle-stepped twin", () => {
  it("agree within 2% for random GEMMs, dataflows, N:M ratios and ports", () => {
    fc.assert(
      fc.property(dims, fc.constantFrom("os" as const, "ws" as const, "is" as const), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 8 }), fc.constantFrom(1, 2, 4), fc.integer({ min: 1, max: 40 }), (g, df, rows, cols, ratio, port) => {
        const fast = pipelineCycles(systolicFoldPlan(g, df, rows, cols, ratio), port)
        const slow = pipelineCyclesStepped(systolicFoldPlanInOrder(g, df, rows, cols, ratio), port)
        expect(within(fast, slow), `${fast} vs ${slow}`).toBe(true)
      }),
      { numRuns: 200 },
    )
  })
})

type Fam = { name: string; acc: Accelerator; a: fc.Arbitrary<OperandSpec>; b: fc.Arbitrary<OperandSpec> }
const uniform = density.map((d): OperandSpec => ({ kind: "uniform", density: d }))
const dense = fc.constant<OperandSpec>({ kind: "dense" })
const nm = fc.constantFrom<OperandSpec>({ kind: "nm", n: 2, m: 8 }, { kind: "nm", n: 1, m: 8 }, { kind: "dense" })
const families: ReadonlyArray<Fam> = [
  { name: "dense systolic", acc: systolic, a: uniform, b: uniform },
  { name: "SAT-like N:M", acc: sat28, a: uniform, b: nm },
  { name: "Eyeriss-like", acc: eyeriss, a: uniform, b: uniform },
  { name: "Eyeriss v1-like (gating)", acc: eyerissV1, a: uniform, b: uniform },
  { name: "Cnvlutin-like", acc: cnvlutin, a: uniform, b: uniform },
  { name: "SparTen-like", acc: sparten, a: uniform, b: uniform },
  { name: "Loihi-like", acc: loihi, a: uniform, b: uniform },
]

describe.each(families)("$name: fast model vs cycle-stepped reference", ({ acc, a, b }) => {
  it("cycles agree within 2% and MAC counts exactly, on random small layers and masks", () => {
    fc.assert(
      fc.property(dims, a, b, seed, (g, as, bs, s) => {
        const layer = statisticalLayer("l", null, g, as, bs, s)
        const fast = simulate(acc, layer, small).row
        const slow = simulate(acc, layer, { ...small, reference: true }).row
        expect(within(fast.computeCycles, slow.computeCycles), `${fast.computeCycles} vs ${slow.computeCycles}`).toBe(true)
        expect(fast.macs).toBe(slow.macs)
        expect(fast.gatedMacs).toBe(slow.gatedMacs)
        expect(fast.macs + fast.gatedMacs).toBeLessThanOrEqual(fast.denseMacs)
        expect(fast.effectualMacs).toBe(effectualMacs(layer.a, layer.b))
      }),
      { numRuns: 40 },
    )
  })

  it("energy is Σ count × per-action energy from the accelerator file", () => {
    fc.assert(
      fc.property(dims, a, b, seed, (g, as, bs, s) => {
        const r = simulate(acc, statisticalLayer("l", null, g, as, bs, s), small)
        const levelEnergy = (name: string, rd: boolean): number => {
          const l = acc.memory.find((x) => x.name === name)
          if (l !== undefined) return rd ? l.readEnergyPjPerWord : l.writeEnergyPjPerWord
          if (acc.family === "row-stationary" && name === "rf") return rd ? acc.rowStationary.rfReadEnergyPjPerWord : acc.rowStationary.rfWriteEnergyPjPerWord
          throw new Error(`no level ${name}`)
        }
        let memory = 0
        for (const x of r.accesses) memory += x.reads * levelEnergy(x.level, true) + x.writes * levelEnergy(x.level, false)
        const mac = r.row.macs * acc.energy.mac.energyPj + r.row.gatedMacs * acc.energy.gatedMac.energyPj
        expect(r.row.energyMacPj).toBeCloseTo(mac, 6)
        const actions = actionEnergy(acc, r)
        // Loihi's routing counts are not all on the row; its energy is checked by hand below.
        if (actions !== null) expect(r.row.energyPj).toBeCloseTo(mac + memory + actions, 6)
        else expect(r.row.energyPj - r.row.energyOtherPj).toBeCloseTo(mac + memory, 6)
      }),
      { numRuns: 30 },
    )
  })
})

/** The non-MAC, non-memory actions, recomputed from the row's counts and the file's constants. */
const actionEnergy = (acc: Accelerator, r: ReturnType<typeof simulate>): number | null => {
  const row = r.row
  switch (acc.family) {
    case "nm-training": {
      const mux = row.mechanism.startsWith("nm:") ? row.macs * (acc.energy.mux?.energyPj ?? 0) : 0
      const nm = acc.peArray.nmSupport!
      const compares = row.maskGenCycles > 0 ? Math.ceil(row.k / nm.m) * row.n * (nm.m - 1) * nm.n : 0
      return mux + compares * acc.nmTraining.maskGeneration.compare.energyPj
    }
    case "one-sided-skipping": {
      // One decode per metadata word read on chip.
      const onChip = r.accesses.filter((x) => x.tensor === "ifmap-metadata" && x.level !== acc.memory[0].name).reduce((s, x) => s + x.reads, 0)
      return onChip * (acc.energy.metadata?.energyPj ?? 0)
    }
    case "two-sided-skipping":
      return row.m * row.n * Math.ceil(row.k / 128) * (acc.energy.metadata?.energyPj ?? 0)
    case "neuromorphic":
      return null
    default:
      return 0
  }
}

const withFifo = (depth: number, balancing: "none" | "greedy" = sparten.twoSided.balancing): TwoSidedAccelerator => ({ ...sparten, twoSided: { ...sparten.twoSided, bufferChunks: depth, balancing } })

describe("SparTen-like units decoupled by input FIFOs", () => {
  // Chunks of 128 over K up to 400 give several windows per position; 2×2 units with up to 12
  // filters exercise both one filter per unit (spare units take more positions) and greedy placement.
  const twoSidedDims = fc.record({ m: fc.integer({ min: 1, max: 6 }), n: fc.integer({ min: 1, max: 12 }), k: fc.integer({ min: 1, max: 400 }) })
  const units = { rows: 2, cols: 2 }

  it("the closed-form schedule and the cycle-stepped FIFOs agree exactly at every depth", () => {
    fc.assert(
      fc.property(twoSidedDims, density, density, seed, fc.integer({ min: 1, max: 5 }), fc.constantFrom("none" as const, "greedy" as const), (g, da, db, s, depth, balancing) => {
        const layer = statisticalLayer("l", null, g, { kind: "uniform", density: da }, { kind: "uniform", density: db }, s)
        const acc = withFifo(depth, balancing)
        const fast = simulate(acc, layer, units).row
        const slow = simulate(acc, layer, { ...units, reference: true }).row
        expect(fast.computeCycles).toBe(slow.computeCycles)
        expect(fast.macs).toBe(slow.macs)
      }),
      { numRuns: 60 },
    )
  })

  it("deeper FIFOs never cost cycles, and no depth beats the busiest unit's own work", () => {
    fc.assert(
      fc.property(twoSidedDims, density, density, seed, (g, da, db, s) => {
        const layer = statisticalLayer("l", null, g, { kind: "uniform", density: da }, { kind: "uniform", density: db }, s)
        const cycles = [1, 2, 3, 8].map((d) => simulate(withFifo(d), layer, units).row.computeCycles)
        for (let i = 1; i < cycles.length; i++) expect(cycles[i]!).toBeLessThanOrEqual(cycles[i - 1]!)
        // Every unit spends at least max(1, pairs) cycles per window it takes part in.
        const dense = simulate(withFifo(1), statisticalLayer("l", null, g, { kind: "dense" }, { kind: "dense" }, s), units).row
        expect(cycles[cycles.length - 1]!).toBeLessThanOrEqual(dense.computeCycles)
        expect(cycles[cycles.length - 1]!).toBeGreaterThanOrEqual(Math.ceil(simulate(withFifo(8), layer, units).row.macs / 4))
      }),
      { numRuns: 40 },
    )
  })

  it("hand-computed: two units with opposite dense chunks take 8 cycles in lockstep and 5 with a 2-chunk FIFO", () => {
    // One position, K = 256 (two chunks), two filters on two units. Filter 0 matches 4 then 1
    // elements, filter 1 matches 1 then 4. Lockstep: max(4,1) + max(1,4) = 8. With room for two
    // chunks, filter 1's unit starts chunk 2 at cycle 1 and both finish at cycle 5.
    const k = 256
    const bits = new Array<number>(k * 2).fill(0)
    const set = (j: number, f: number) => { bits[j * 2 + f] = 1 }
    for (const j of [0, 1, 2, 3, 128]) set(j, 0)
    for (const j of [0, 128, 129, 130, 131]) set(j, 1)
    const layer: SimLayer = { name: "h", pass: null, gemm: { m: 1, n: 2, k }, a: { kind: "dense", rows: 1, cols: k }, b: { kind: "trace", trace: traceOf(k, 2, bits) } }
    const lockstep = simulate(withFifo(1), layer, { rows: 1, cols: 2 }).row
    const fifo = simulate(withFifo(2), layer, { rows: 1, cols: 2 }).row
    expect([lockstep.computeCycles, fifo.computeCycles, fifo.macs]).toEqual([8, 5, 10])
    expect(simulate(withFifo(2), layer, { rows: 1, cols: 2, reference: true }).row.computeCycles).toBe(5)
  })

  it("hand-computed: clusters run their own positions independently; a cluster's units share a broadcast", () => {
    // Four positions, one 128-wide chunk, two filters: filter 0 matches 4 elements at every
    // position, filter 1 matches 1. Two clusters of one unit: greedy places both filters on the
    // unit, so each position costs 5 and each cluster takes two positions: 10 cycles. One cluster of
    // two units: each position is a broadcast window costing max(4, 1) = 4: 16 cycles.
    const k = 128
    const bits = new Array<number>(k * 2).fill(0)
    for (const j of [0, 1, 2, 3]) bits[j * 2] = 1
    bits[5 * 2 + 1] = 1
    const layer: SimLayer = { name: "c", pass: null, gemm: { m: 4, n: 2, k }, a: { kind: "dense", rows: 4, cols: k }, b: { kind: "trace", trace: traceOf(k, 2, bits) } }
    for (const reference of [false, true]) {
      expect(simulate(withFifo(1), layer, { rows: 2, cols: 1, reference }).row.computeCycles).toBe(10)
      expect(simulate(withFifo(1), layer, { rows: 1, cols: 2, reference }).row.computeCycles).toBe(16)
    }
  })
})

const conv = fc.record({
  batch: fc.integer({ min: 1, max: 2 }),
  ifmapHeight: fc.integer({ min: 3, max: 10 }),
  ifmapWidth: fc.integer({ min: 3, max: 10 }),
  filterHeight: fc.integer({ min: 1, max: 3 }),
  filterWidth: fc.integer({ min: 1, max: 3 }),
  channels: fc.integer({ min: 1, max: 4 }),
  numFilters: fc.integer({ min: 1, max: 6 }),
  stride: fc.integer({ min: 1, max: 2 }),
  padding: fc.constant(0),
})
const convGemm = (c: ConvDims) => {
  const e = Math.floor((c.ifmapHeight - c.filterHeight) / c.stride) + 1
  const f = Math.floor((c.ifmapWidth - c.filterWidth) / c.stride) + 1
  return { m: c.batch * e * f, n: c.numFilters, k: c.filterHeight * c.filterWidth * c.channels }
}

describe("row-stationary on real conv shapes", () => {
  it("the stepped twin performs exactly the dense MACs, and agrees with the closed form", () => {
    fc.assert(
      fc.property(conv, fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), (c, rows, cols) => {
        const g = convGemm(c)
        const layer: SimLayer = statisticalLayer("c", "forward", g, { kind: "dense" }, { kind: "dense" }, 1)
        const sh = rsShape(layer, c)
        const stepped = rsComputeCyclesStepped(sh, rows, cols, 1)
        expect(stepped.macs).toBe(g.m * g.n * g.k)
        const fast = simulate(eyeriss, layer, { rows, cols, conv: c }).row
        expect(fast.computeCycles).toBe(stepped.cycles)
      }),
      { numRuns: 60 },
    )
  })

  it("gating never changes cycles, only energy", () => {
    const gatingOnly = { ...eyerissV1, rowStationary: { ...eyerissV1.rowStationary, gating: "none" as const } }
    fc.assert(
      fc.property(conv, density, seed, (c, d, s) => {
        const layer = statisticalLayer("c", "forward", convGemm(c), { kind: "uniform", density: d }, { kind: "dense" }, s)
        const gated = simulate(eyerissV1, layer, { conv: c }).row
        const plain = simulate(gatingOnly, layer, { conv: c }).row
        expect(gated.cycles).toBe(plain.cycles)
        expect(gated.macs + gated.gatedMacs).toBe(plain.macs)
        expect(gated.gatedMacs).toBe((convGemm(c).m * convGemm(c).k - operandNnz(layer.a)) * convGemm(c).n)
        expect(gated.energyPj).toBeLessThanOrEqual(plain.energyPj + 1e-6)
        // And the compute schedule ignores density altogether.
        const denseLayer = statisticalLayer("c", "forward", convGemm(c), { kind: "dense" }, { kind: "dense" }, s)
        expect(simulate(eyerissV1, denseLayer, { conv: c }).row.computeCycles).toBe(gated.computeCycles)
      }),
      { numRuns: 60 },
    )
  })
})

describe("sparsity bounds", () => {
  // Shapes aligned to the machine, so the dense baseline itself has no ragged edges.
  const aligned = fc.record({ m: fc.integer({ min: 1, max: 8 }), nBlocks: fc.integer({ min: 1, max: 2 }), kBlocks: fc.integer({ min: 1, max: 3 }) })

  it("one-sided and two-sided skipping: sparse cycles >= dense cycles × density, and never above dense", () => {
    fc.assert(
      fc.property(aligned, density, density, seed, ({ m, nBlocks, kBlocks }, da, db, s) => {
        // Cnvlutin at 4 lanes × 4 filters, bricks of 16: K in windows of 64.
        const g1 = { m, n: 4 * nBlocks, k: 64 * kBlocks }
        const sp = simulate(cnvlutin, statisticalLayer("l", null, g1, { kind: "uniform", density: da }, { kind: "dense" }, s), small).row
        const dn = simulate(cnvlutin, statisticalLayer("l", null, g1, { kind: "dense" }, { kind: "dense" }, s), small).row
        expect(sp.computeCycles).toBeGreaterThanOrEqual(dn.computeCycles * sp.aDensity - 1e-9)
        expect(sp.computeCycles).toBeLessThanOrEqual(dn.computeCycles)
        // SparTen with 16 units, 128-element chunks, 16 filters (one per unit).
        const g2 = { m, n: 16, k: 128 * kBlocks }
        const layer = statisticalLayer("l", null, g2, { kind: "uniform", density: da }, { kind: "uniform", density: db }, s)
        const sp2 = simulate(sparten, layer, small).row
        const dn2 = simulate(sparten, statisticalLayer("l", null, g2, { kind: "dense" }, { kind: "dense" }, s), small).row
        expect(sp2.computeCycles).toBeGreaterThanOrEqual(dn2.computeCycles * (sp2.effectualMacs / sp2.denseMacs) - 1e-9)
        expect(sp2.computeCycles).toBeLessThanOrEqual(dn2.computeCycles)
      }),
      { numRuns: 60 },
    )
  })

  it("N:M cycles lie between (N/M) × dense and dense", () => {
    fc.assert(
      fc.property(dims, fc.constantFrom(sat28, sat24), fc.integer({ min: 2, max: 8 }), fc.integer({ min: 2, max: 8 }), fc.constantFrom("os" as const, "ws" as const), seed, (g, acc, rows, cols, dataflow, s) => {
        const hw = acc.peArray.nmSupport!
        const opts = { rows, cols, dataflow }
        const sp = simulate(acc, statisticalLayer("l", null, g, { kind: "dense" }, { kind: "nm", n: hw.n, m: hw.m }, s), opts).row
        const dn = simulate(acc, statisticalLayer("l", null, g, { kind: "dense" }, { kind: "dense" }, s), opts).row
        expect(sp.mechanism).toBe(`nm:${hw.n}:${hw.m}`)
        expect(sp.cycles).toBeLessThanOrEqual(dn.cycles)
        expect(sp.cycles).toBeGreaterThanOrEqual((hw.n / hw.m) * dn.cycles - 1e-9)
      }),
      { numRuns: 150 },
    )
  })

  it("a BDWP iteration's speedup never exceeds 3/(1+2N/M) (MACs; cycles when passes are balanced), and its per-pass MACs are exact", () => {
    fc.assert(
      fc.property(
        fc.record({ batch: fc.integer({ min: 1, max: 64 }), inBlocks: fc.integer({ min: 1, max: 16 }), outBlocks: fc.integer({ min: 1, max: 16 }) }),
        fc.constantFrom(sat28, sat24),
        fc.integer({ min: 2, max: 8 }),
        seed,
        ({ batch, inBlocks, outBlocks }, acc, side, s) => {
          const hw = acc.peArray.nmSupport!
          const shape = { kind: "linear" as const, name: "fc", batch, inFeatures: inBlocks * hw.m, outFeatures: outBlocks * hw.m }
          const opts = { rows: side, cols: side }
          const sparse = trainingStepLayers(shape, { kind: "bdwp", n: hw.n, m: hw.m }, s).map(({ layer }) => simulate(acc, layer, opts))
          const dense = trainingStepLayers(shape, { kind: "dense" }, s).map(({ layer }) => simulate(acc, layer, opts))
          const speedup = iterationSummary(acc, dense).cycles / iterationSummary(acc, sparse).cycles
          const ideal = 3 / (1 + (2 * hw.n) / hw.m)
          // In MACs the ideal bound always holds (the three GEMMs have equal MACs).
          expect(iterationSummary(acc, dense).macs / iterationSummary(acc, sparse).macs).toBeLessThanOrEqual(ideal + 1e-9)
          // In cycles the passes need not take equal time (a tiny batch makes dW an outer product),
          // so the bound that always holds is Amdahl's over the measured dense passes ...
          const [f, b, w] = dense.map((r) => r.row.cycles) as [number, number, number]
          expect(speedup).toBeLessThanOrEqual((f + b + w) / ((hw.n / hw.m) * (f + b) + w) + 1e-9)
          // ... which is at most 3/(1+2N/M) whenever the dense weight-gradient pass is not the fastest.
          if (w >= (f + b) / 2) expect(speedup).toBeLessThanOrEqual(ideal + 1e-9)
          const macs = batch * shape.inFeatures * shape.outFeatures
          expect(sparse.map((r) => r.row.macs)).toEqual([(macs * hw.n) / hw.m, (macs * hw.n) / hw.m, macs])
        },
      ),
      { numRuns: 150 },
    )
  })

  it("zero density costs no MACs on every skipping family", () => {
    fc.assert(
      fc.property(dims, seed, (g, s) => {
        const layer = statisticalLayer("l", null, g, { kind: "uniform", density: 0 }, { kind: "dense" }, s)
        for (const acc of [cnvlutin, sparten, loihi]) {
          const r = simulate(acc, layer, small).row
          expect(r.macs, acc.name).toBe(0)
          expect(r.effectualMacs).toBe(0)
        }
        const gated = simulate(eyerissV1, layer, small).row
        expect([gated.macs, gated.gatedMacs]).toEqual([0, g.m * g.n * g.k])
      }),
      { numRuns: 40 },
    )
  })
})

describe("dense baselines and sparse rivals read a conv's ifmap alike", () => {
  it("the dense systolic array and the SAT-like array both fetch the raw ifmap once, not its im2col copies", () => {
    const conv: ConvDims = { batch: 1, ifmapHeight: 14, ifmapWidth: 14, filterHeight: 3, filterWidth: 3, channels: 16, numFilters: 32, stride: 1, padding: 1 }
    const g = gemmFromConv(conv)
    const raw = loweredIfmapWords(g, conv)!
    expect(raw).toBeLessThan(g.m * g.k)
    const layer = statisticalLayer("c", "forward", g, { kind: "dense" }, { kind: "dense" }, 1)
    const dramIfmap = (acc: Accelerator, c: ConvDims | null): number => simulate(acc, layer, { conv: c }).accesses.filter((x) => x.level === acc.memory[0].name && x.tensor === "ifmap").reduce((w, x) => w + x.reads, 0)
    for (const acc of [systolic, sat28]) {
      expect(dramIfmap(acc, conv), acc.name).toBe(raw)
      // Without the conv the operand is just a matrix, and every row of it is fetched.
      expect(dramIfmap(acc, null), acc.name).toBeGreaterThanOrEqual(g.m * g.k)
    }
  })
})

describe("hand-computed examples", () => {
  it("Loihi-like: energy is synops, neuron updates and routing at Loihi's per-op figures", () => {
    // 2 time steps, 3 inputs, 2 neurons, all synapses present; events: step 0 inputs {0, 2}, step 1 none.
    // One source core (node 0) and one destination core (node 1, one hop east).
    const layer: SimLayer = {
      name: "d", pass: null, gemm: { m: 2, n: 2, k: 3 },
      a: { kind: "trace", trace: traceOf(2, 3, [1, 0, 1, 0, 0, 0]) },
      b: { kind: "dense", rows: 3, cols: 2 },
    }
    const r = simulate(loihi, layer).row
    // synops: 2 events × 2 targets = 4; active: both neurons at step 0, none at step 1; idle 2;
    // packets: 2 (one per event to the one destination core), each 1 E-W hop.
    expect([r.events, r.synops, r.neuronUpdatesActive, r.neuronUpdatesIdle, r.hops]).toEqual([2, 4, 2, 2, 2])
    expect(r.energyPj).toBeCloseTo(4 * 23.6 + 2 * 81 + 2 * 52 + 2 * 1.7 + 2 * 3.0, 9)
    // Step 0: max(4 synops at 1/cycle, 2·2 state words at 2/cycle) = 4; step 1: state only, 2.
    expect(r.cycles).toBe(6)
  })

  it("SAT-like 2:8: a fully provisioned port streams at full rate; a dense-sized port throttles by M/N", () => {
    const g = { m: 64, n: 32, k: 256 }
    const layer = statisticalLayer("l", null, g, { kind: "dense" }, { kind: "nm", n: 2, m: 8 }, 1)
    const full = simulate(sat28, layer).row
    // K_eff = 64 = two row folds of 32; ws: load 32 + 2 × max(64, 32) + drain 62.
    expect(full.computeCycles).toBe(32 + 64 + 64 + 62)
    const narrow = { ...sat28, nmTraining: { ...sat28.nmTraining, activationPortWordsPerCycle: 32 } }
    // Each wave needs 32 rows × 4 words through a 32-word port: streams take 4× as long.
    expect(simulate(narrow, layer).row.computeCycles).toBe(32 + 256 + 256 + 62)
  })

  it("mask generation: overlapped hides behind the dense weight-gradient pass; otherwise it adds", () => {
    const shape = { kind: "linear" as const, name: "fc", batch: 64, inFeatures: 256, outFeatures: 128 }
    const rows = (acc: NmTrainingAccelerator) => trainingStepLayers(shape, { kind: "bdwp", n: 2, m: 8 }, 1).map(({ layer }) => simulate(acc, layer))
    const over = rows(sat28)
    const serial = { ...sat28, nmTraining: { ...sat28.nmTraining, maskGeneration: { ...sat28.nmTraining.maskGeneration, overlapped: false } } }
    const ser = rows(serial)
    const maskGen = 2 * Math.ceil((256 * 128) / 64)
    expect(over.reduce((s, r) => s + r.row.maskGenCycles, 0)).toBe(maskGen)
    expect(iterationSummary(serial, ser).cycles - iterationSummary(sat28, over).cycles).toBe(maskGen)
  })
})

describe("training GEMMs and the N:M array's conv traffic", () => {
  const stride1 = fc.record({
    batch: fc.integer({ min: 1, max: 3 }),
    ifmapHeight: fc.integer({ min: 3, max: 12 }),
    ifmapWidth: fc.integer({ min: 3, max: 12 }),
    filterHeight: fc.integer({ min: 1, max: 3 }),
    channels: fc.integer({ min: 1, max: 8 }),
    numFilters: fc.integer({ min: 1, max: 8 }),
    padding: fc.integer({ min: 0, max: 2 }),
  }).map((c): ConvDims => ({ ...c, filterWidth: c.filterHeight, stride: 1, padding: Math.min(c.padding, c.filterHeight - 1) }))

  it("a conv's backward-data GEMM is the im2col lowering of its transposed conv, whose ifmap is dY", () => {
    fc.assert(
      fc.property(stride1, (c) => {
        const bd = trainingGemms({ kind: "conv", name: "c", conv: c }).find((p) => p.pass === "backward-data")!
        expect(bd.conv).not.toBeNull()
        expect(gemmFromConv(bd.conv!)).toEqual(bd.gemm)
        const f = gemmFromConv(c)
        expect(loweredIfmapWords(bd.gemm, bd.conv)).toBe(f.m * c.numFilters)
      }),
      { numRuns: 60 },
    )
  })

  it("the layer that reads the network input has no backward-data GEMM", () => {
    const shape = { kind: "linear" as const, name: "fc1", batch: 8, inFeatures: 16, outFeatures: 8 }
    expect(trainingGemms(shape).map((p) => p.pass)).toEqual(["forward", "backward-data", "backward-weight"])
    expect(trainingGemms({ ...shape, inputGradient: false }).map((p) => p.pass)).toEqual(["forward", "backward-weight"])
    const bdwp = trainingStepLayers({ ...shape, inputGradient: false }, { kind: "bdwp", n: 2, m: 8 }, 1).map(({ layer }) => simulate(sat28, layer))
    // Only the forward mask is generated: the backward-data mask has no pass to serve.
    expect(bdwp.reduce((t, r) => t + r.row.maskGenCycles, 0)).toBe(Math.ceil((16 * 8) / sat28.nmTraining.maskGeneration.weightsPerCycle))
  })

  it("a lowered conv's ifmap comes from DRAM once when the raw ifmap fits, whatever the N:M compression", () => {
    // LeNet-5's conv2 at batch 64: the raw ifmap (64·14·14·6 words) fits the 256 KiB ifmap SRAM; its
    // im2col copy (6400 × 150) does not.
    const c: ConvDims = { batch: 64, ifmapHeight: 14, ifmapWidth: 14, filterHeight: 5, filterWidth: 5, channels: 6, numFilters: 16, stride: 1, padding: 0 }
    const g = gemmFromConv(c)
    const dramIfmap = (r: ReturnType<typeof simulate>) => r.accesses.filter((x) => x.level === "dram" && x.tensor === "ifmap").reduce((t, x) => t + x.reads, 0)
    for (const b of [{ kind: "dense" }, { kind: "nm", n: 2, m: 8 }] as const) {
      const layer = statisticalLayer("conv2", "forward", g, { kind: "dense" }, b, 1)
      expect(dramIfmap(simulate(sat28, layer, { conv: c }))).toBe(64 * 14 * 14 * 6)
      expect(dramIfmap(simulate(sat28, layer))).toBe(g.m * g.k)
      // A conv that does not lower to this GEMM (a backward pass handed its forward conv) changes nothing.
      const other = statisticalLayer("conv2", "backward-weight", { m: g.n, n: g.k, k: g.m }, { kind: "dense" }, { kind: "dense" }, 1)
      expect(dramIfmap(simulate(sat28, other, { conv: c }))).toBe(dramIfmap(simulate(sat28, other)))
    }
  })
})

const traceOf = (rows: number, cols: number, bits: ReadonlyArray<number>) => {
  const mask = new Uint8Array(Math.ceil((rows * cols) / 8))
  bits.forEach((b, i) => { if (b === 1) mask[i >>> 3]! |= 0x80 >>> (i & 7) })
  const nnz = bits.reduce((s, b) => s + b, 0)
  const rowNnz = Int32Array.from({ length: rows }, (_, r) => bits.slice(r * cols, (r + 1) * cols).reduce((s, b) => s + b, 0))
  return { tensor: "activation", rows, cols, nnz, density: nnz / (rows * cols), mask, rowNnz, tileNnz: Int32Array.of(nnz), nm: null }
}
