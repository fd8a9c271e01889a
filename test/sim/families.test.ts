import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { OFMAP, POS_ROWS, relevance, walkLoopNest } from "../../src/cost/index.ts"
import { loadModel } from "../../src/engine/index.ts"
import type {
  Accelerator,
  NmTrainingAccelerator,
  OneSidedAccelerator,
  RowStationaryAccelerator,
  TwoSidedAccelerator,
} from "../../src/hardware/index.ts"
import {
  encodedSize,
  gemmFromConv,
  layerShapesOf,
  materializeMask,
  operandNnz,
  packRows,
  statisticalLayer,
  trainingGemms,
  trainingStepLayers,
  twoSidedCycles,
  twoSidedGeometry,
  workloadFromConv,
  workloadFromGemm,
  type Layer,
  type OperandSpec,
} from "../../src/machine/index.ts"
import { iterationSummary, simulate, type SimulateOptions } from "../../src/sim/index.ts"
import type { ConvDims, GemmDims } from "../../src/trace/index.ts"
import { Effect } from "effect"
import { blockyLayer, loadAcc, maskOperand, traceOf } from "./helpers.ts"
import { oneSidedTwin, twoSidedTwin } from "./twins.ts"

const sat28 = loadAcc("sat-like-2x8") as NmTrainingAccelerator
const sat24 = loadAcc("sat-like-2x4") as NmTrainingAccelerator
const eyeriss = loadAcc("eyeriss-like") as RowStationaryAccelerator
const eyerissV1 = loadAcc("eyeriss-v1-like") as RowStationaryAccelerator
const cnvlutin = loadAcc("cnvlutin-like") as OneSidedAccelerator
const sparten = loadAcc("sparten-like") as TwoSidedAccelerator
const loihi = loadAcc("loihi-like")
const systolic = loadAcc("systolic-32x32")

const dims = fc.record({
  m: fc.integer({ min: 1, max: 24 }),
  n: fc.integer({ min: 1, max: 24 }),
  k: fc.integer({ min: 1, max: 40 }),
})
const density = fc.double({ min: 0, max: 1, noNaN: true })
const seed = fc.integer({ min: 0, max: 2 ** 31 - 1 })
const layerOf = (g: GemmDims, a: OperandSpec, b: OperandSpec, s: number, pass: Layer["pass"] = null): Layer =>
  statisticalLayer(workloadFromGemm("l", g, pass), a, b, s)

/** Small arrays so the brute-force checks stay quick. */
const small = { rows: 4, cols: 4 }

// -------------------------------------------------------------------------------------------
// Independent counts from the masks and the accelerator file

/** Σ over (i, f, j) of a[i,j]·b[j,f]: MACs with both operands nonzero. */
const bruteEffectual = (l: Layer): number => {
  const { m, n, k } = l.gemm
  const a = materializeMask(l.a)
  const b = materializeMask(l.b)
  let t = 0
  for (let i = 0; i < m; i++)
    for (let j = 0; j < k; j++) if (a[i * k + j] === 1) for (let f = 0; f < n; f++) t += b[j * n + f]!
  return t
}

/** Whether every aligned group of `gm` down each column of b (along K) has at most `gn` nonzeros. */
const bColumnsNm = (l: Layer, gn: number, gm: number): boolean => {
  const { n, k } = l.gemm
  const b = materializeMask(l.b)
  for (let f = 0; f < n; f++)
    for (let g0 = 0; g0 < k; g0 += gm) {
      let c = 0
      for (let j = g0; j < Math.min(k, g0 + gm); j++) c += b[j * n + f]!
      if (c > gn) return false
    }
  return true
}

/** The MACs (issued, gated) each family performs, from the masks and the file alone. */
const expectedMacs = (acc: Accelerator, l: Layer): [number, number] => {
  const { m, n, k } = l.gemm
  const dense = m * n * k
  const nnzA = materializeMask(l.a).reduce((s, x) => s + x, 0)
  switch (acc.family) {
    case "dense-systolic":
      return [dense, 0]
    case "nm-training": {
      const hw = acc.peArray.nmSupport!
      if (!bColumnsNm(l, hw.n, hw.m)) return [dense, 0]
      return [m * n * (Math.floor(k / hw.m) * hw.n + Math.min(hw.n, k % hw.m)), 0]
    }
    case "row-stationary":
      return acc.rowStationary.gating === "zero-ifmap" ? [nnzA * n, dense - nnzA * n] : [dense, 0]
    case "one-sided-skipping":
      return [nnzA * n, 0]
    case "two-sided-skipping":
    case "neuromorphic":
      // SparTen performs the matched pairs; Loihi one synaptic op per event per existing synapse.
      return [bruteEffectual(l), 0]
  }
}

/** Energy per cycle of every component's static power: mW / GHz = pJ per cycle. */
const leakPerCycle = (acc: Accelerator, rows: number, cols: number): number => {
  const rf = acc.family === "row-stationary" ? acc.rowStationary.rfLeakage.milliwatts : 0
  return (
    (acc.memory.reduce((s, l) => s + l.leakage.milliwatts, 0) + rows * cols * (acc.energy.peLeakage.milliwatts + rf)) /
    acc.clockGhz
  )
}

/** A counted action's energy as the accelerator file gives it. */
const fileActionEnergy = (acc: Accelerator, name: string): number => {
  if (name === "mux") return acc.energy.mux!.energyPj
  if (name === "metadata") return acc.energy.metadata!.energyPj
  if (name === "maskGeneration" && acc.family === "nm-training") return acc.nmTraining.maskGeneration.compare.energyPj
  if (acc.family === "neuromorphic") {
    const nc = acc.neuromorphic as unknown as Record<string, { energyPj: number } | undefined>
    if (nc[name] !== undefined) return nc[name].energyPj
  }
  throw new Error(`${acc.name}: no energy for action ${name} in the file`)
}

/** A memory level's energies as the file gives them (the PEs' scratchpads for "rf"). */
const levelEnergy = (acc: Accelerator, level: string): { rd: number; wr: number } => {
  const l = acc.memory.find((x) => x.name === level)
  if (l !== undefined) return { rd: l.readEnergyPjPerWord, wr: l.writeEnergyPjPerWord }
  if (acc.family === "row-stationary" && level === "rf")
    return { rd: acc.rowStationary.rfReadEnergyPjPerWord, wr: acc.rowStationary.rfWriteEnergyPjPerWord }
  throw new Error(`${acc.name}: no level ${level}`)
}

type Fam = { name: string; acc: Accelerator; a: fc.Arbitrary<OperandSpec>; b: fc.Arbitrary<OperandSpec> }
const uniform = density.map((d): OperandSpec => ({ kind: "uniform", density: d }))
const nm = fc.constantFrom<OperandSpec>(
  { kind: "nm", n: 2, m: 8 },
  { kind: "nm", n: 1, m: 8 },
  { kind: "nm", n: 2, m: 4 },
  { kind: "dense" },
)
const families: ReadonlyArray<Fam> = [
  { name: "dense systolic", acc: systolic, a: uniform, b: uniform },
  { name: "SAT-like N:M", acc: sat28, a: uniform, b: nm },
  { name: "Eyeriss-like", acc: eyeriss, a: uniform, b: uniform },
  { name: "Eyeriss v1-like (gating)", acc: eyerissV1, a: uniform, b: uniform },
  { name: "Cnvlutin-like", acc: cnvlutin, a: uniform, b: uniform },
  { name: "SparTen-like", acc: sparten, a: uniform, b: uniform },
  { name: "Loihi-like", acc: loihi, a: uniform, b: uniform },
]

/** M ≥ 2 and K ≥ 2: the systolic families cannot yet run a streamed dim of 1 (see scalesim.test.ts). */
const runnable = dims.map((g) => ({ ...g, m: Math.max(2, g.m), k: Math.max(2, g.k) }))

describe.each(families)("$name: counts and energy from the masks and the file", ({ acc, a, b }) => {
  it("MAC counts are exact, and effectual MACs are the masks' matched pairs", () => {
    fc.assert(
      fc.property(runnable, a, b, seed, (g, as, bs, s) => {
        const layer = layerOf(g, as, bs, s)
        const r = simulate(acc, layer, small).row
        expect([r.macs, r.gatedMacs]).toEqual(expectedMacs(acc, layer))
        expect(r.macs + r.gatedMacs).toBeLessThanOrEqual(r.denseMacs)
        expect(r.denseMacs).toBe(g.m * g.n * g.k)
        expect(r.effectualMacs).toBe(bruteEffectual(layer))
      }),
      { numRuns: 25 },
    )
  })

  it("energy is Σ count × the file's per-action energies, plus every component's leakage over the layer's cycles", () => {
    fc.assert(
      fc.property(runnable, a, b, seed, (g, as, bs, s) => {
        const r = simulate(acc, layerOf(g, as, bs, s), small)
        const row = r.row
        let memory = 0
        for (const x of r.accesses) {
          const e = levelEnergy(acc, x.level)
          memory += x.reads * e.rd + x.writes * e.wr
        }
        const mac = row.macs * acc.energy.mac.energyPj + row.gatedMacs * acc.energy.gatedMac.energyPj
        let actions = 0
        for (const x of r.run.cost.actions) {
          expect(x.energyPjEach, x.name).toBe(fileActionEnergy(acc, x.name))
          actions += x.count * x.energyPjEach
        }
        // Counts that follow from the layer alone.
        const count = (name: string) => r.run.cost.actions.find((x) => x.name === name)?.count
        if (acc.family === "two-sided-skipping")
          expect(count("metadata")).toBe(g.m * g.n * Math.ceil(g.k / acc.twoSided.chunkSize))
        if (acc.family === "nm-training") expect(count("mux")).toBe(row.mechanism === "dense" ? undefined : row.macs)
        if (acc.family === "neuromorphic") {
          expect([count("synop"), count("neuronUpdateActive"), count("neuronUpdateIdle")]).toEqual([
            row.synops,
            row.neuronUpdatesActive,
            row.neuronUpdatesIdle,
          ])
          // A neuromorphic core has no MACs: the MAC comparison below is 0 = 0 here, and its compute
          // energy is the synaptic ops', which the total must carry.
          expect(row.macs + row.gatedMacs).toBe(0)
          const synopPj = row.synops * fileActionEnergy(acc, "synop")
          if (row.synops > 0) expect(synopPj).toBeGreaterThan(0)
          expect(row.energyPj).toBeGreaterThanOrEqual(
            synopPj + row.cycles * leakPerCycle(acc, row.arrayRows, row.arrayCols),
          )
        }
        const leak = row.cycles * leakPerCycle(acc, row.arrayRows, row.arrayCols)
        expect(row.energyMacPj).toBeCloseTo(mac, 6)
        expect(row.energyLeakagePj).toBeCloseTo(leak, 6)
        expect(row.energyPj).toBeCloseTo(mac + memory + actions + leak, 6)
        // The long form (by level and component) adds up to the same total.
        expect(r.energy.totalPj).toBeCloseTo(row.energyPj, 6)
      }),
      { numRuns: 20 },
    )
  })
})

// -------------------------------------------------------------------------------------------
// SparTen-like: the broadcast schedule against the cycle-stepped FIFOs

const withFifo = (
  depth: number,
  balancing: "none" | "greedy" = sparten.twoSided.balancing,
  chunkSize = sparten.twoSided.chunkSize,
): TwoSidedAccelerator => ({
  ...sparten,
  twoSided: { ...sparten.twoSided, bufferChunks: depth, balancing, chunkSize },
})

describe("SparTen-like units decoupled by input FIFOs", () => {
  // Chunks of 128 over K up to 400 give several windows per position; 2 units with up to 12 filters
  // exercise both one filter per unit (spare units take more positions) and balanced placement.
  const twoSidedDims = fc.record({
    m: fc.integer({ min: 1, max: 6 }),
    n: fc.integer({ min: 1, max: 12 }),
    k: fc.integer({ min: 1, max: 400 }),
  })

  it("the closed-form schedule and the cycle-stepped FIFOs agree exactly at every depth", () => {
    fc.assert(
      fc.property(
        twoSidedDims,
        density,
        density,
        seed,
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.constantFrom("none" as const, "greedy" as const),
        fc.constantFrom(32, 64, 128),
        fc.boolean(),
        (g, da, db, s, units, clusters, balancing, chunk, blocky) => {
          const layer = blocky
            ? blockyLayer(g, s)
            : layerOf(g, { kind: "uniform", density: da }, { kind: "uniform", density: db }, s)
          const aMask = materializeMask(layer.a)
          const bMask = materializeMask(layer.b)
          const a = packRows(aMask, g.m, g.k)
          const b = packRows(bMask, g.k, g.n, true)
          const filterNnz = Int32Array.from({ length: g.n }, (_, f) => {
            let t = 0
            for (let j = 0; j < g.k; j++) t += bMask[j * g.n + f]!
            return t
          })
          for (let depth = 1; depth <= 5; depth++) {
            const fast = twoSidedCycles(
              a,
              b,
              twoSidedGeometry(filterNnz, units, chunk / 32, balancing, depth, clusters),
            )
            const slow = twoSidedTwin(withFifo(depth, balancing, chunk), aMask, bMask, g, units, clusters)
            expect(fast, `depth ${depth}`).toEqual(slow)
          }
        },
      ),
      { numRuns: 60 },
    )
  })

  it("the family's runs are the stepped FIFOs' on the clusters its mapping uses", () => {
    fc.assert(
      fc.property(
        twoSidedDims,
        density,
        density,
        seed,
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 4 }),
        fc.boolean(),
        (g, da, db, s, rows, cols, depth, blocky) => {
          const layer = blocky
            ? blockyLayer(g, s)
            : layerOf(g, { kind: "uniform", density: da }, { kind: "uniform", density: db }, s)
          const acc = withFifo(depth)
          const r = simulate(acc, layer, { rows, cols })
          const clusters = r.run.mapping.factors[POS_ROWS]![0]!
          expect(clusters).toBeLessThanOrEqual(rows)
          const twin = twoSidedTwin(acc, materializeMask(layer.a), materializeMask(layer.b), g, cols, clusters)
          expect([r.row.computeCycles, r.row.macs]).toEqual([twin.cycles, twin.macs])
          expect(r.row.imbalanceCycles).toBe(twin.cycles - Math.ceil(twin.macs / (clusters * cols)))
        },
      ),
      { numRuns: 50 },
    )
  })

  it("deeper FIFOs never cost cycles, and no depth beats the busiest unit's own work", () => {
    const units = { rows: 2, cols: 2 }
    fc.assert(
      fc.property(twoSidedDims, density, density, seed, (g, da, db, s) => {
        const layer = layerOf(g, { kind: "uniform", density: da }, { kind: "uniform", density: db }, s)
        const rows = [1, 2, 3, 8].map((d) => simulate(withFifo(d), layer, units).row)
        for (let i = 1; i < rows.length; i++)
          expect(rows[i]!.computeCycles).toBeLessThanOrEqual(rows[i - 1]!.computeCycles)
        const deepest = rows[rows.length - 1]!
        const dense = simulate(withFifo(1), layerOf(g, { kind: "dense" }, { kind: "dense" }, s), units).row
        expect(deepest.computeCycles).toBeLessThanOrEqual(dense.computeCycles)
        // Four units at one matched pair a cycle at best.
        expect(deepest.computeCycles).toBeGreaterThanOrEqual(Math.ceil(deepest.macs / 4))
      }),
      { numRuns: 40 },
    )
  })

  it("hand-computed: two units with opposite dense chunks take 8 cycles in lockstep and 5 with a 2-chunk FIFO", () => {
    // One position, K = 256 (two chunks), two filters on two units. Filter 0 matches 4 then 1
    // elements, filter 1 matches 1 then 4. Lockstep: max(4,1) + max(1,4) = 8. With room for two
    // chunks, filter 1's unit starts chunk 2 at cycle 1 and both finish at cycle 5.
    const k = 256
    const bits = new Uint8Array(k * 2)
    for (const j of [0, 1, 2, 3, 128]) bits[j * 2] = 1
    for (const j of [0, 128, 129, 130, 131]) bits[j * 2 + 1] = 1
    const layer: Layer = {
      name: "h",
      pass: null,
      conv: null,
      gemm: { m: 1, n: 2, k },
      a: { kind: "dense", rows: 1, cols: k },
      b: maskOperand(k, 2, bits),
    }
    const lockstep = simulate(withFifo(1), layer, { rows: 1, cols: 2 }).row
    const fifo = simulate(withFifo(2), layer, { rows: 1, cols: 2 }).row
    expect([lockstep.computeCycles, fifo.computeCycles, fifo.macs]).toEqual([8, 5, 10])
    // The ideal is 10 pairs over 2 units = 5: the FIFO hides the imbalance that lockstep pays.
    expect([lockstep.imbalanceCycles, fifo.imbalanceCycles]).toEqual([3, 0])
    const dense = Uint8Array.from({ length: k }, () => 1)
    expect(twoSidedTwin(withFifo(1), dense, bits, layer.gemm, 2, 1).cycles).toBe(8)
    expect(twoSidedTwin(withFifo(2), dense, bits, layer.gemm, 2, 1).cycles).toBe(5)
  })

  it("hand-computed: clusters run their own positions independently; a cluster's units share a broadcast", () => {
    // Four positions, one 128-wide chunk, two filters: filter 0 matches 4 elements at every
    // position, filter 1 matches 1. Two clusters of one unit: greedy places both filters on the
    // unit, so each position costs 5 and each cluster takes two positions: 10 cycles. One cluster of
    // two units: each position is a broadcast window costing max(4, 1) = 4: 16 cycles.
    const k = 128
    const bits = new Uint8Array(k * 2)
    for (const j of [0, 1, 2, 3]) bits[j * 2] = 1
    bits[5 * 2 + 1] = 1
    const layer: Layer = {
      name: "c",
      pass: null,
      conv: null,
      gemm: { m: 4, n: 2, k },
      a: { kind: "dense", rows: 4, cols: k },
      b: maskOperand(k, 2, bits),
    }
    const twoClusters = simulate(withFifo(1), layer, { rows: 2, cols: 1 })
    const oneCluster = simulate(withFifo(1), layer, { rows: 1, cols: 2 })
    expect([twoClusters.run.mapping.factors[POS_ROWS]![0], oneCluster.run.mapping.factors[POS_ROWS]![0]]).toEqual([
      2, 1,
    ])
    expect([twoClusters.row.computeCycles, oneCluster.row.computeCycles]).toEqual([10, 16])
    const dense = new Uint8Array(4 * k).fill(1)
    expect([
      twoSidedTwin(withFifo(1), dense, bits, layer.gemm, 1, 2).cycles,
      twoSidedTwin(withFifo(1), dense, bits, layer.gemm, 2, 1).cycles,
    ]).toEqual([10, 16])
  })
})

// -------------------------------------------------------------------------------------------
// Cnvlutin-like: lanes against the lane-stepping twin

describe("Cnvlutin-like lanes", () => {
  it("the family's compute cycles, MACs and imbalance are the lane-stepping twin's on random masks", () => {
    fc.assert(
      fc.property(
        fc.record({
          m: fc.integer({ min: 1, max: 10 }),
          n: fc.integer({ min: 1, max: 12 }),
          k: fc.integer({ min: 1, max: 150 }),
        }),
        density,
        seed,
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        (g, d, s, rows, cols) => {
          const layer = layerOf(g, { kind: "uniform", density: d }, { kind: "dense" }, s)
          const r = simulate(cnvlutin, layer, { rows, cols }).row
          const twin = oneSidedTwin(cnvlutin, materializeMask(layer.a), g, rows, cols)
          expect([r.computeCycles, r.macs, r.imbalanceCycles]).toEqual([
            twin.cycles,
            twin.macs,
            twin.cycles - twin.balancedCycles,
          ])
        },
      ),
      { numRuns: 80 },
    )
  })

  it("at the file's 16 lanes × 256 filters too", () => {
    fc.assert(
      fc.property(
        fc.record({
          m: fc.integer({ min: 1, max: 6 }),
          n: fc.integer({ min: 1, max: 300 }),
          k: fc.integer({ min: 1, max: 600 }),
        }),
        density,
        seed,
        (g, d, s) => {
          const layer = layerOf(g, { kind: "uniform", density: d }, { kind: "dense" }, s)
          const r = simulate(cnvlutin, layer).row
          const twin = oneSidedTwin(cnvlutin, materializeMask(layer.a), g, cnvlutin.peArray.rows, cnvlutin.peArray.cols)
          expect([r.computeCycles, r.macs]).toEqual([twin.cycles, twin.macs])
        },
      ),
      { numRuns: 25 },
    )
  })
})

// -------------------------------------------------------------------------------------------
// Row-stationary

const conv = fc.record({
  batch: fc.integer({ min: 1, max: 2 }),
  ifmapHeight: fc.integer({ min: 3, max: 8 }),
  ifmapWidth: fc.integer({ min: 3, max: 8 }),
  filterHeight: fc.integer({ min: 1, max: 3 }),
  filterWidth: fc.integer({ min: 1, max: 3 }),
  channels: fc.integer({ min: 1, max: 4 }),
  numFilters: fc.integer({ min: 1, max: 5 }),
  stride: fc.integer({ min: 1, max: 2 }),
  padding: fc.integer({ min: 0, max: 1 }),
})

describe("row-stationary on real conv shapes", () => {
  it("performs exactly the dense MACs, in the loop nest's temporal steps plus the reduction's fill", () => {
    fc.assert(
      fc.property(conv, fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), (c, rows, cols) => {
        const g = gemmFromConv(c)
        const r = simulate(eyeriss, layerOf(g, { kind: "dense" }, { kind: "dense" }, 1, "forward"), { rows, cols })
        // Without the conv the same GEMM runs as a GEMM; with it, as the 7-dim conv.
        const cr = simulate(
          eyeriss,
          statisticalLayer(workloadFromConv("c", c, "forward"), { kind: "dense" }, { kind: "dense" }, 1),
          { rows, cols },
        )
        for (const x of [r, cr]) {
          const p = x.run.prepared.problem
          expect(x.row.macs).toBe(g.m * g.n * g.k)
          const walk = walkLoopNest(p, x.run.mapping, true)
          expect(walk.macs).toBe(g.m * g.n * g.k)
          let reductionRows = 1
          relevance(p)[OFMAP]!.forEach((indexes, d) => {
            if (!indexes) reductionRows *= x.run.mapping.factors[POS_ROWS]![d]!
          })
          expect(x.row.computeCycles).toBe(walk.temporalSteps + reductionRows - 1)
          expect(x.row.computeCycles).toBeGreaterThanOrEqual(Math.ceil((g.m * g.n * g.k) / (rows * cols)))
        }
        expect(cr.run.prepared.problem.kind).toBe("conv")
      }),
      { numRuns: 30 },
    )
  })

  it("gating never changes cycles, only energy: zero activations gate their MACs and cost less", () => {
    const gatingOff: RowStationaryAccelerator = {
      ...eyerissV1,
      rowStationary: { ...eyerissV1.rowStationary, gating: "none" },
    }
    fc.assert(
      fc.property(conv, fc.double({ min: 0, max: 0.95, noNaN: true }), seed, (c, d, s) => {
        const g = gemmFromConv(c)
        const layer = statisticalLayer(
          workloadFromConv("c", c, "forward"),
          { kind: "uniform", density: d },
          { kind: "dense" },
          s,
        )
        const gated = simulate(eyerissV1, layer).row
        const plain = simulate(gatingOff, layer).row
        expect(gated.mechanism).toBe("gating")
        expect(gated.cycles).toBe(plain.cycles)
        expect(gated.macs + gated.gatedMacs).toBe(plain.macs)
        const zeros = g.m * g.k - operandNnz(layer.a)
        expect(gated.gatedMacs).toBe(zeros * g.n)
        // A density below 0.95 on at least 9 elements leaves zeros to gate, and every gated MAC saves
        // at least the difference between an active and a gated MAC (scratchpad reads drop too).
        expect(zeros).toBeGreaterThan(0)
        expect(gated.gatedMacs).toBeGreaterThan(0)
        expect(plain.energyPj - gated.energyPj).toBeGreaterThanOrEqual(
          gated.gatedMacs * (eyerissV1.energy.mac.energyPj - eyerissV1.energy.gatedMac.energyPj) - 1e-6,
        )
        expect(gated.energyLeakagePj).toBeCloseTo(plain.energyLeakagePj, 9)
        // And the compute schedule ignores density altogether.
        const denseLayer = statisticalLayer(
          workloadFromConv("c", c, "forward"),
          { kind: "dense" },
          { kind: "dense" },
          s,
        )
        expect(simulate(eyerissV1, denseLayer).row.computeCycles).toBe(gated.computeCycles)
      }),
      { numRuns: 40 },
    )
  })
})

// -------------------------------------------------------------------------------------------
// Sparsity bounds

describe("sparsity bounds", () => {
  // Shapes aligned to the machine, so the dense baseline itself has no ragged edges.
  const aligned = fc.record({
    m: fc.integer({ min: 1, max: 8 }),
    nBlocks: fc.integer({ min: 1, max: 2 }),
    kBlocks: fc.integer({ min: 1, max: 3 }),
  })

  it("one-sided and two-sided skipping: sparse cycles ≥ dense cycles × density, and never above dense", () => {
    fc.assert(
      fc.property(aligned, density, density, seed, ({ m, nBlocks, kBlocks }, da, db, s) => {
        // Cnvlutin at 4 lanes × 4 filters, bricks of 16: K in windows of 64.
        const g1 = { m, n: 4 * nBlocks, k: 64 * kBlocks }
        const sp = simulate(cnvlutin, layerOf(g1, { kind: "uniform", density: da }, { kind: "dense" }, s), small).row
        const dn = simulate(cnvlutin, layerOf(g1, { kind: "dense" }, { kind: "dense" }, s), small).row
        expect(sp.computeCycles).toBeGreaterThanOrEqual(dn.computeCycles * sp.aDensity - 1e-9)
        expect(sp.computeCycles).toBeLessThanOrEqual(dn.computeCycles)
        // SparTen with 4 clusters of 4 units, 128-element chunks, 16 filters (balanced over the units).
        const g2 = { m, n: 16, k: 128 * kBlocks }
        const layer = layerOf(g2, { kind: "uniform", density: da }, { kind: "uniform", density: db }, s)
        const sp2 = simulate(sparten, layer, small).row
        const dn2 = simulate(sparten, layerOf(g2, { kind: "dense" }, { kind: "dense" }, s), small).row
        expect(sp2.computeCycles).toBeGreaterThanOrEqual(dn2.computeCycles * (sp2.effectualMacs / sp2.denseMacs) - 1e-9)
        expect(sp2.computeCycles).toBeLessThanOrEqual(dn2.computeCycles)
      }),
      { numRuns: 50 },
    )
  })

  it("N:M cycles lie between (N/M) × dense and dense", () => {
    fc.assert(
      fc.property(
        runnable,
        fc.constantFrom(sat28, sat24),
        fc.integer({ min: 2, max: 8 }),
        fc.integer({ min: 2, max: 8 }),
        fc.constantFrom("os", "ws"),
        seed,
        (g, acc, rows, cols, df, s) => {
          const hw = acc.peArray.nmSupport!
          const opts: SimulateOptions = { rows, cols, dataflow: df }
          const sp = simulate(acc, layerOf(g, { kind: "dense" }, { kind: "nm", n: hw.n, m: hw.m }, s), opts).row
          const dn = simulate(acc, layerOf(g, { kind: "dense" }, { kind: "dense" }, s), opts).row
          expect(sp.mechanism).toBe(`nm:${hw.n}:${hw.m}`)
          expect(dn.mechanism).toBe("dense")
          expect(sp.cycles).toBeLessThanOrEqual(dn.cycles)
          expect(sp.cycles).toBeGreaterThanOrEqual((hw.n / hw.m) * dn.cycles - 1e-9)
        },
      ),
      { numRuns: 120 },
    )
  })

  it("a BDWP iteration's speedup never exceeds 3/(1+2N/M) (MACs; cycles when passes are balanced), and its per-pass MACs are exact", () => {
    fc.assert(
      fc.property(
        fc.record({
          batch: fc.integer({ min: 2, max: 64 }),
          inBlocks: fc.integer({ min: 1, max: 16 }),
          outBlocks: fc.integer({ min: 1, max: 16 }),
        }),
        fc.constantFrom(sat28, sat24),
        fc.integer({ min: 2, max: 8 }),
        seed,
        ({ batch, inBlocks, outBlocks }, acc, side, s) => {
          const hw = acc.peArray.nmSupport!
          const shape = {
            kind: "linear" as const,
            name: "fc",
            batch,
            inFeatures: inBlocks * hw.m,
            outFeatures: outBlocks * hw.m,
          }
          const opts = { rows: side, cols: side }
          const sparse = trainingStepLayers(shape, { kind: "bdwp", n: hw.n, m: hw.m }, s).map((layer) =>
            simulate(acc, layer, opts),
          )
          const dense = trainingStepLayers(shape, { kind: "dense" }, s).map((layer) => simulate(acc, layer, opts))
          const speedup = iterationSummary(dense).cycles / iterationSummary(sparse).cycles
          const ideal = 3 / (1 + (2 * hw.n) / hw.m)
          // In MACs the ideal bound always holds (the three GEMMs have equal MACs).
          expect(iterationSummary(dense).macs / iterationSummary(sparse).macs).toBeLessThanOrEqual(ideal + 1e-9)
          // In cycles the passes need not take equal time (a tiny batch makes dW an outer product),
          // so the bound that always holds is Amdahl's over the measured dense passes ...
          const [f, b, w] = dense.map((r) => r.row.cycles) as [number, number, number]
          expect(speedup).toBeLessThanOrEqual((f + b + w) / ((hw.n / hw.m) * (f + b) + w) + 1e-9)
          // ... which is at most 3/(1+2N/M) whenever the dense weight-gradient pass is not the fastest.
          if (w >= (f + b) / 2) expect(speedup).toBeLessThanOrEqual(ideal + 1e-9)
          const macs = batch * shape.inFeatures * shape.outFeatures
          expect(sparse.map((r) => r.row.macs)).toEqual([(macs * hw.n) / hw.m, (macs * hw.n) / hw.m, macs])
          expect(sparse.map((r) => r.row.mechanism)).toEqual([`nm:${hw.n}:${hw.m}`, `nm:${hw.n}:${hw.m}`, "dense"])
        },
      ),
      { numRuns: 100 },
    )
  })

  it("zero density costs no MACs on every skipping family, and gates every MAC on Eyeriss v1", () => {
    fc.assert(
      fc.property(dims, seed, (g, s) => {
        const layer = layerOf(g, { kind: "uniform", density: 0 }, { kind: "dense" }, s)
        for (const acc of [cnvlutin, sparten, loihi]) {
          const r = simulate(acc, layer, small).row
          expect([r.macs, r.effectualMacs], acc.name).toEqual([0, 0])
        }
        const gated = simulate(eyerissV1, layer, small).row
        expect([gated.macs, gated.gatedMacs]).toEqual([0, g.m * g.n * g.k])
      }),
      { numRuns: 30 },
    )
  })
})

// -------------------------------------------------------------------------------------------
// Hand-computed examples

describe("hand-computed examples", () => {
  it("Loihi-like: energy is synops, neuron updates and routing at Loihi's per-op figures, plus leakage", () => {
    // 2 time steps, 3 inputs, 2 neurons, all synapses present; events: step 0 inputs {0, 2}, step 1 none.
    // One source core (node 0) and one destination core (node 1, one hop east).
    const layer: Layer = {
      name: "d",
      pass: null,
      conv: null,
      gemm: { m: 2, n: 2, k: 3 },
      a: { kind: "trace", trace: traceOf(2, 3, [1, 0, 1, 0, 0, 0]) },
      b: { kind: "dense", rows: 3, cols: 2 },
    }
    const r = simulate(loihi, layer).row
    // synops: 2 events × 2 targets = 4; active: both neurons at step 0, none at step 1; idle 2;
    // packets: 2 (one per event to the one destination core), each 1 E-W hop.
    expect([r.events, r.synops, r.neuronUpdatesActive, r.neuronUpdatesIdle, r.hops]).toEqual([2, 4, 2, 2, 2])
    // Step 0: max(4 synops at 1/cycle, 2·2 state words at 2/cycle) = 4; step 1: state only, 2.
    expect(r.cycles).toBe(6)
    // Leakage: the core memory's 1.113 mW and 8×16 cores' datapaths at 0.0074 mW, at 1 GHz, for 6 cycles.
    const leakage = 6 * (1.113 + 8 * 16 * 0.0074)
    expect(r.energyLeakagePj).toBeCloseTo(leakage, 9)
    expect(r.energyPj).toBeCloseTo(4 * 23.6 + 2 * 81 + 2 * 52 + 2 * 1.7 + 2 * 3.0 + leakage, 9)
    // All of it is events' energy: no MACs, no DRAM, and core memory charged inside the per-op figures.
    expect([r.energyMacPj, r.energyDramPj, r.energySramPj, r.dramReads + r.dramWrites]).toEqual([0, 0, 0, 0])
  })

  it("SAT-like 2:8: a fully provisioned port streams at full rate; a dense-sized port throttles by M/N", () => {
    const g = { m: 64, n: 32, k: 256 }
    const layer = layerOf(g, { kind: "dense" }, { kind: "nm", n: 2, m: 8 }, 1)
    const full = simulate(sat28, layer).row
    // K_eff = 64 = two row folds of 32; ws: load 32 + 2 × max(64, 32) + drain 62.
    expect(full.computeCycles).toBe(32 + 64 + 64 + 62)
    const narrow: NmTrainingAccelerator = {
      ...sat28,
      nmTraining: { ...sat28.nmTraining, activationPortWordsPerCycle: 32 },
    }
    // Each wave needs 32 rows × 8/2 words through a 32-word port: streams take 4× as long.
    expect(simulate(narrow, layer).row.computeCycles).toBe(32 + 256 + 256 + 62)
    // A dense filter streams one word per row whatever the port (32 rows, 32 words a cycle).
    expect(simulate(narrow, layerOf(g, { kind: "dense" }, { kind: "dense" }, 1)).row.computeCycles).toBe(
      simulate(sat28, layerOf(g, { kind: "dense" }, { kind: "dense" }, 1)).row.computeCycles,
    )
  })

  it("mask generation: overlapped hides behind the dense weight-gradient pass; otherwise it adds", () => {
    const shape = { kind: "linear" as const, name: "fc", batch: 64, inFeatures: 256, outFeatures: 128 }
    const runs = (acc: NmTrainingAccelerator) =>
      trainingStepLayers(shape, { kind: "bdwp", n: 2, m: 8 }, 1).map((layer) => simulate(acc, layer))
    const withMaskGen = (
      over: Partial<NmTrainingAccelerator["nmTraining"]["maskGeneration"]>,
    ): NmTrainingAccelerator => ({
      ...sat28,
      nmTraining: { ...sat28.nmTraining, maskGeneration: { ...sat28.nmTraining.maskGeneration, ...over } },
    })
    const over = runs(sat28)
    const serial = runs(withMaskGen({ overlapped: false }))
    // Forward and backward-data each regenerate a 256×128 mask at 64 weights a cycle.
    const perPass = Math.ceil((256 * 128) / 64)
    expect(over.map((r) => r.row.maskGenCycles)).toEqual([perPass, perPass, 0])
    // Each group of 8 along K: 2 rounds of a 7-comparator max search, 0.4 pJ each.
    const compares = over.map((r) => r.run.cost.actions.find((x) => x.name === "maskGeneration")?.count ?? 0)
    expect(compares).toEqual([(256 / 8) * 128 * 7 * 2, (128 / 8) * 256 * 7 * 2, 0])
    expect(iterationSummary(over).exposedMaskGenCycles).toBe(0)
    expect(iterationSummary(serial).cycles - iterationSummary(over).cycles).toBe(2 * perPass)
    expect(serial.map((r) => r.row.cycles - r.row.computeCycles - r.row.stallCycles)).toEqual([perPass, perPass, 0])
    // A generator 8× slower outruns the weight-gradient pass: the excess is exposed.
    const slow = runs(withMaskGen({ weightsPerCycle: 8 }))
    const bw = slow[2]!.row.cycles
    expect(2 * 4096).toBeGreaterThan(bw)
    expect(iterationSummary(slow).exposedMaskGenCycles).toBe(2 * 4096 - bw)
    expect(iterationSummary(slow).cycles).toBe(slow.reduce((t, r) => t + r.row.cycles, 0) + 2 * 4096 - bw)
  })
})

// -------------------------------------------------------------------------------------------
// Training GEMMs and conv traffic

describe("training GEMMs", () => {
  const stride1 = fc
    .record({
      batch: fc.integer({ min: 1, max: 3 }),
      ifmapHeight: fc.integer({ min: 3, max: 12 }),
      ifmapWidth: fc.integer({ min: 3, max: 12 }),
      filterHeight: fc.integer({ min: 1, max: 3 }),
      channels: fc.integer({ min: 1, max: 8 }),
      numFilters: fc.integer({ min: 1, max: 8 }),
      padding: fc.integer({ min: 0, max: 2 }),
    })
    .map(
      (c): ConvDims => ({
        ...c,
        filterWidth: c.filterHeight,
        stride: 1,
        padding: Math.min(c.padding, c.filterHeight - 1),
      }),
    )

  it("a conv's backward-data GEMM is the im2col lowering of its transposed conv, whose ifmap is dY", () => {
    fc.assert(
      fc.property(stride1, (c) => {
        const passes = trainingGemms({ kind: "conv", name: "c", conv: c })
        expect(passes.map((p) => p.pass)).toEqual(["forward", "backward-data", "backward-weight"])
        const [fwd, bd, bw] = passes as [(typeof passes)[0], (typeof passes)[0], (typeof passes)[0]]
        const f = gemmFromConv(c)
        expect(fwd.gemm).toEqual(f)
        expect(bd.gemm).toEqual({
          m: c.batch * c.ifmapHeight * c.ifmapWidth,
          n: c.channels,
          k: c.filterHeight * c.filterWidth * c.numFilters,
        })
        expect(bw.gemm).toEqual({ m: f.n, n: f.k, k: f.m })
        expect(bd.conv).not.toBeNull()
        expect(gemmFromConv(bd.conv!)).toEqual(bd.gemm)
        // The transposed conv reads dY: B·P·Q positions of Cout channels.
        expect(bd.conv!.batch * bd.conv!.ifmapHeight * bd.conv!.ifmapWidth * bd.conv!.channels).toBe(f.m * c.numFilters)
        expect(bw.conv).toBeNull()
      }),
      { numRuns: 60 },
    )
  })

  it("the layer that reads the network input has no backward-data GEMM", async () => {
    const shape = { kind: "linear" as const, name: "fc1", batch: 8, inFeatures: 16, outFeatures: 8 }
    expect(trainingGemms(shape).map((p) => p.pass)).toEqual(["forward", "backward-data", "backward-weight"])
    expect(trainingGemms({ ...shape, inputGradient: false }).map((p) => p.pass)).toEqual(["forward", "backward-weight"])
    const bdwp = trainingStepLayers({ ...shape, inputGradient: false }, { kind: "bdwp", n: 2, m: 8 }, 1).map((layer) =>
      simulate(sat28, layer),
    )
    // Only the forward mask is generated: the backward-data mask has no pass to serve.
    expect(bdwp.reduce((t, r) => t + r.row.maskGenCycles, 0)).toBe(
      Math.ceil((16 * 8) / sat28.nmTraining.maskGeneration.weightsPerCycle),
    )
    // A model's first weighted layer reads the input; every later one has an input gradient.
    const lenet = await Effect.runPromise(loadModel("lenet5"))
    const shapes = layerShapesOf(lenet, 4)
    expect(shapes.map((s) => [s.shape.name, s.shape.inputGradient])).toEqual([
      ["conv1", false],
      ["conv2", true],
      ["fc1", true],
      ["fc2", true],
      ["fc3", true],
    ])
    expect(trainingGemms(shapes[0]!.shape).map((p) => p.pass)).toEqual(["forward", "backward-weight"])
  })
})

describe("a lowered conv's raw ifmap comes from DRAM once, on dense and sparse arrays alike", () => {
  const dramIfmap = (acc: Accelerator, layer: Layer, opts: SimulateOptions = {}): number =>
    simulate(acc, layer, opts)
      .accesses.filter((x) => x.level === acc.memory[0].name && x.tensor === "ifmap")
      .reduce((w, x) => w + x.reads, 0)

  it("dense systolic, SAT, Cnvlutin and SparTen fetch the raw ifmap (in their format), not its im2col copies", () => {
    const c: ConvDims = {
      batch: 1,
      ifmapHeight: 14,
      ifmapWidth: 14,
      filterHeight: 3,
      filterWidth: 3,
      channels: 16,
      numFilters: 32,
      stride: 1,
      padding: 1,
    }
    const g = gemmFromConv(c)
    const raw = 14 * 14 * 16
    expect(g.m * g.k).toBe(9 * raw)
    const lowered = statisticalLayer(workloadFromConv("c", c, "forward"), { kind: "dense" }, { kind: "dense" }, 1)
    const matrix = statisticalLayer(workloadFromGemm("c", g, "forward"), { kind: "dense" }, { kind: "dense" }, 1)
    // Words per ifmap word in each array's DRAM format: dense, CSR (16-bit words), bitmap (8-bit).
    const perWord = (format: "none" | "csr" | "bitmap", wordBits: number): number => {
      const e = encodedSize(lowered.a, format, wordBits)
      return (e.dataWords + e.metadataWords) / (g.m * g.k)
    }
    const cases: ReadonlyArray<[Accelerator, number]> = [
      [systolic, 1],
      [sat28, 1],
      [cnvlutin, perWord("csr", 16)],
      [sparten, perWord("bitmap", 8)],
    ]
    for (const [acc, scale] of cases) {
      expect(dramIfmap(acc, lowered) / (raw * scale), acc.name).toBeCloseTo(1, 6)
      // Without the conv the operand is just a matrix, and every row of it is fetched.
      expect(dramIfmap(acc, matrix), acc.name).toBeGreaterThanOrEqual(g.m * g.k * scale - 1e-6)
    }
    // Eyeriss keeps the conv whole and moves the padded input once: 16·16·16 words.
    expect(dramIfmap(eyeriss, lowered)).toBe(16 * 16 * 16)
  })

  it("LeNet-5's conv2 at batch 64 on SAT-like 2:8: once when the raw ifmap fits, whatever the N:M compression", () => {
    // The raw ifmap (64·14·14·6 words) fits the 256 KiB ifmap SRAM; its im2col copy (6400 × 150) does not.
    const c: ConvDims = {
      batch: 64,
      ifmapHeight: 14,
      ifmapWidth: 14,
      filterHeight: 5,
      filterWidth: 5,
      channels: 6,
      numFilters: 16,
      stride: 1,
      padding: 0,
    }
    const g = gemmFromConv(c)
    const raw = 64 * 14 * 14 * 6
    const dense = statisticalLayer(workloadFromConv("conv2", c, "forward"), { kind: "dense" }, { kind: "dense" }, 1)
    expect(dramIfmap(sat28, dense)).toBe(raw)
    expect(dramIfmap(sat28, { ...dense, conv: null })).toBeGreaterThanOrEqual(g.m * g.k)
    // 2:8 along K = 150: the array runs K_eff = 18·2 + 2 = 38 slot rows, each reading 150/38 ifmap
    // words; the tile is counted in whole slot words, so the raw ifmap comes within one slot's worth.
    const sparse = statisticalLayer(
      workloadFromConv("conv2", c, "forward"),
      { kind: "dense" },
      { kind: "nm", n: 2, m: 8 },
      1,
    )
    expect(Math.abs(dramIfmap(sat28, sparse) - raw)).toBeLessThanOrEqual(150 / 38)
    expect(dramIfmap(sat28, { ...sparse, conv: null })).toBeGreaterThanOrEqual(g.m * g.k)
    // A conv that does not lower to the GEMM (a backward pass handed its forward conv) changes nothing.
    const other = statisticalLayer(
      { name: "conv2", pass: "backward-weight", gemm: { m: g.n, n: g.k, k: g.m }, conv: c },
      { kind: "dense" },
      { kind: "dense" },
      1,
    )
    expect(dramIfmap(sat28, other)).toBe(dramIfmap(sat28, { ...other, conv: null }))
  })
})
