import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { SystolicDataflow } from "../../src/hardware/index.ts"
import { dramTraffic, energyOf, simulateSystolic, workloadFromConv, workloadFromGemm, type DramTraffic, type LayerWorkload } from "../../src/sim/index.ts"
import type { GemmDims } from "../../src/trace/index.ts"
import { loadAcc, toyAcc } from "./helpers.ts"

const dataflows: ReadonlyArray<SystolicDataflow> = ["os", "ws", "is"]
const gemm = (m: number, n: number, k: number): LayerWorkload => workloadFromGemm("g", { m, n, k })

describe("simulateSystolic", () => {
  it("scalesim timing reports SCALE-Sim's cycles and SRAM counts", () => {
    const r = simulateSystolic(toyAcc(), gemm(5, 7, 3), { dataflow: "os", timing: "scalesim" })
    // See scalesim.test.ts: 4 folds × 9 cycles; 30 / 42 reads; 35 writes + 32 (os quirk).
    // cycles is SCALE-Sim's printed Total Cycles: the last demand row's index, 36 − 1.
    expect([r.cycles, r.computeCycles, r.stallCycles]).toEqual([35, 36, 0])
    expect(r.sram).toEqual({ ifmapReads: 30, filterReads: 42, ofmapWrites: 67 })
    expect([r.macs, r.denseMacs, r.arrayRows, r.arrayCols]).toEqual([105, 105, 4, 4])
    expect(r.utilization).toBeCloseTo(105 / (36 * 16), 12)
  })

  it("default timing overlaps folds: one fill/drain plus max(T, R) per later fold", () => {
    // os 5,7,3 on 4×4: first fold T+R+C−2 = 9, three more at max(T=3, R=4) = 4 → 21.
    const os = simulateSystolic(toyAcc(), gemm(5, 7, 3), { dataflow: "os", timing: "default" })
    expect([os.computeCycles, os.stallCycles, os.cycles]).toEqual([21, 0, 21])
    expect(os.sram).toEqual({ ifmapReads: 30, filterReads: 42, ofmapWrites: 35 })
    // ws 5,7,3: first fold 2R+C+T−2 = 15, one more at max(T=5, R=4) = 5 → 20.
    expect(simulateSystolic(toyAcc(), gemm(5, 7, 3), { dataflow: "ws", timing: "default" }).computeCycles).toBe(20)
    // is 5,7,3: first fold 17, one more at max(T=7, 4) = 7 → 24.
    expect(simulateSystolic(toyAcc(), gemm(5, 7, 3), { dataflow: "is", timing: "default" }).computeCycles).toBe(24)
  })

  it("rows/cols override the accelerator's array", () => {
    const r = simulateSystolic(toyAcc(), gemm(4, 4, 4), { dataflow: "os", timing: "scalesim", rows: 2, cols: 1 })
    // Sr=4 → 2 row folds, Sc=4 → 4 col folds: 8 folds × (4+2+1−2) = 40.
    expect([r.arrayRows, r.arrayCols, r.computeCycles, r.cycles]).toEqual([2, 1, 40, 39])
  })

  it("energy is the hand-computed sum", () => {
    // os 4,4,4 on 4×4, everything fits: SRAM 16 ifmap reads, 16 filter reads, 16 ofmap writes;
    // DRAM 16 + 16 words read, 16 written.
    //   MAC:  64 × 1 pJ                                              =   64
    //   SRAM: ifmap 16×2 (array reads) + 16×3 (fills)               =   80
    //         filter 16×4 + 16×5                                      =  144
    //         ofmap 16×7 (array writes) + 16×6 (write-back reads)    =  208
    //   DRAM: 32 reads × 100 + 16 writes × 200                        = 6400
    const r = simulateSystolic(toyAcc(), gemm(4, 4, 4), { dataflow: "os", timing: "default" })
    expect(r.dram).toEqual({ ifmapReads: 16, filterReads: 16, ofmapWrites: 16, ofmapReads: 0 })
    expect(r.energyByComponentPj).toEqual({ mac: 64, sram: 432, dram: 6400 })
    expect(r.energyPj).toBe(6896)
    expect(r.dramBytes).toBe(48)
  })

  it("energyOf charges gated MACs and skips tensors without an SRAM", () => {
    const acc = toyAcc()
    const noOfmapSram = { ...acc, memory: [acc.memory[0], acc.memory[1]!, acc.memory[2]!] as const }
    const e = energyOf(noOfmapSram, {
      macs: 10,
      gatedMacs: 4,
      sramReads: { ifmap: 1, filter: 1, ofmap: 0 },
      sramWrites: { ifmap: 0, filter: 0, ofmap: 5 },
      dramReads: { ifmap: 1, filter: 0, ofmap: 0 },
      dramWrites: { ifmap: 0, filter: 0, ofmap: 2 },
    })
    // MAC 10×1 + 4×0.5 = 12; SRAM ifmap 1×2 + 1×3, filter 1×4 → 9 (ofmap has no SRAM); DRAM 100 + 2×200.
    expect(e.byComponentPj).toEqual({ mac: 12, sram: 9, dram: 500 })
    expect(e.byLevelPj).toEqual({ "ifmap-sram": 5, "filter-sram": 4, dram: 500 })
    expect(e.totalPj).toBe(521)
  })

  it("DRAM traffic follows SRAM capacity and each dataflow's reuse", () => {
    // 16-byte SRAMs: nothing but tiny blocks fits.
    const small = toyAcc({ sramBytes: 16 })
    // os 8,8,8 on 4×4: ifmap (64 words) re-read per col fold (2) → 128; filter column block
    // 8×4 = 32 > 16 → re-read per row fold (2) → 128; outputs written once.
    expect(simulateSystolic(small, gemm(8, 8, 8), { dataflow: "os", timing: "default" }).dram).toEqual({
      ifmapReads: 128, filterReads: 128, ofmapWrites: 64, ofmapReads: 0,
    })
    // ws 8,8,8: weights once; ifmap per col fold → 128; the 8×4 output block spills across the
    // 2 K folds: 2×64 writes, 1×64 reads.
    expect(simulateSystolic(small, gemm(8, 8, 8), { dataflow: "ws", timing: "default" }).dram).toEqual({
      ifmapReads: 128, filterReads: 64, ofmapWrites: 128, ofmapReads: 64,
    })
    expect(simulateSystolic(small, gemm(8, 8, 8), { dataflow: "is", timing: "default" }).dram).toEqual({
      ifmapReads: 64, filterReads: 128, ofmapWrites: 128, ofmapReads: 64,
    })
    // Large SRAMs: every tensor moves once.
    for (const df of dataflows)
      expect(simulateSystolic(toyAcc(), gemm(8, 8, 8), { dataflow: df, timing: "default" }).dram).toEqual({
        ifmapReads: 64, filterReads: 64, ofmapWrites: 64, ofmapReads: 0,
      })
  })

  it("a DRAM bandwidth shortfall turns into stall cycles; word size scales bytes", () => {
    // os 8,8,8 on 4×4 default: 4 folds, 8+4+4−2 = 14 + 3×8 = 38 compute cycles. 192 DRAM words at
    // 1 word/cycle = 192 cycles → 154 stall cycles.
    const r = simulateSystolic(toyAcc({ dramWordsPerCycle: 1 }), gemm(8, 8, 8), { dataflow: "os", timing: "default" })
    expect([r.computeCycles, r.stallCycles, r.cycles]).toEqual([38, 154, 192])
    const wide = simulateSystolic(toyAcc({ wordBytes: 2 }), gemm(8, 8, 8), { dataflow: "os", timing: "default" })
    expect(wide.dramBytes).toBe(192 * 2)
    // scalesim timing keeps SCALE-Sim's one-byte words and never stalls.
    const s = simulateSystolic(toyAcc({ wordBytes: 2, dramWordsPerCycle: 1 }), gemm(8, 8, 8), { dataflow: "os", timing: "scalesim" })
    expect([s.stallCycles, s.dramBytes]).toEqual([0, 192])
  })

  it("conv layers are lowered SCALE-Sim's way", () => {
    // 7×7×192 ifmap, 3×3 filters, 384 of them, stride 1: ofmap 5×5 → M=25, K=3·3·192=1728, N=384.
    const l = workloadFromConv("Inc5b_3x3", {
      batch: 1, ifmapHeight: 7, ifmapWidth: 7, filterHeight: 3, filterWidth: 3, channels: 192, numFilters: 384, stride: 1, padding: 0,
    })
    expect(l.gemm).toEqual({ m: 25, n: 384, k: 1728 })
    const r = simulateSystolic(loadAcc("systolic-32x32"), l, { dataflow: "os", timing: "scalesim" })
    // os: Sr=25 → 1 row fold, Sc=384 → 12 col folds; each 1728+32+32−2 = 1790 → 21480.
    expect([r.computeCycles, r.cycles]).toEqual([21480, 21479])
  })

  it("rejects non-positive array dims as a bug", () => {
    expect(() => simulateSystolic(toyAcc(), gemm(2, 2, 2), { dataflow: "os", timing: "default", rows: 0 })).toThrow(/rows/)
  })
})

describe("simulateSystolic properties", () => {
  const dim = fc.integer({ min: 1, max: 5000 })
  const arr = fc.integer({ min: 1, max: 256 })
  const df = fc.constantFrom<SystolicDataflow>("os", "ws", "is")
  it("default cycles ≤ scalesim cycles (ample bandwidth); both ≥ ceil(MACs / PEs)", () => {
    const acc = toyAcc()
    fc.assert(
      fc.property(dim, dim, dim, arr, arr, df, (m, n, k, rows, cols, dataflow) => {
        const d = simulateSystolic(acc, gemm(m, n, k), { dataflow, timing: "default", rows, cols })
        const s = simulateSystolic(acc, gemm(m, n, k), { dataflow, timing: "scalesim", rows, cols })
        const bound = Math.ceil((m * n * k) / (rows * cols))
        expect(d.cycles).toBeLessThanOrEqual(s.computeCycles)
        expect(d.cycles).toBeGreaterThanOrEqual(bound)
        // s.cycles is SCALE-Sim's printed total (last row index); the busy cycles are computeCycles.
        expect(s.computeCycles).toBeGreaterThanOrEqual(bound)
        expect(s.cycles).toBe(s.computeCycles - 1)
        expect(d.utilization).toBeLessThanOrEqual(1)
        expect(s.utilization).toBeLessThanOrEqual(1)
      }),
      { numRuns: 1000 },
    )
  })

  it("default compute cycles never exceed scalesim's, whatever the bandwidth; stalls only add", () => {
    const acc = toyAcc({ dramWordsPerCycle: 2, sramBytes: 4096 })
    fc.assert(
      fc.property(dim, dim, dim, arr, arr, df, (m, n, k, rows, cols, dataflow) => {
        const d = simulateSystolic(acc, gemm(m, n, k), { dataflow, timing: "default", rows, cols })
        const s = simulateSystolic(acc, gemm(m, n, k), { dataflow, timing: "scalesim", rows, cols })
        expect(d.computeCycles).toBeLessThanOrEqual(s.computeCycles)
        expect(d.cycles).toBe(d.computeCycles + d.stallCycles)
        expect(d.cycles).toBeGreaterThanOrEqual(Math.ceil((d.dramBytes / acc.datatype.wordBytes) / 2))
      }),
      { numRuns: 500 },
    )
  })
})

/**
 * The slow twin of `dramTraffic`: the fold-reuse rules written out as closed forms, independent of the
 * cost stage's loop-nest counting that `dramTraffic` now goes through.
 */
const dramTrafficClosedForm = (
  g: GemmDims,
  dataflow: SystolicDataflow,
  rows: number,
  cols: number,
  cap: Readonly<Record<"ifmap" | "filter" | "ofmap", number>>,
  ifmapDistinctWords?: number,
): DramTraffic => {
  const { m, n, k } = g
  const fits = (t: "ifmap" | "filter" | "ofmap", words: number): boolean => words <= cap[t]
  const distinct = Math.min(m * k, ifmapDistinctWords ?? m * k)
  const ifmapOnce = (otherwise: number): number => (fits("ifmap", distinct) ? distinct : otherwise)
  const kFolds = Math.ceil(k / rows)
  const accumulate = (blockWords: number): { ofmapWrites: number; ofmapReads: number } =>
    fits("ofmap", blockWords) ? { ofmapWrites: m * n, ofmapReads: 0 } : { ofmapWrites: kFolds * m * n, ofmapReads: (kFolds - 1) * m * n }
  switch (dataflow) {
    case "os":
      return {
        ifmapReads: ifmapOnce(Math.ceil(n / cols) * m * k),
        filterReads: fits("filter", k * Math.min(cols, n)) ? k * n : Math.ceil(m / rows) * k * n,
        ofmapWrites: m * n,
        ofmapReads: 0,
      }
    case "ws":
      return { ifmapReads: ifmapOnce(Math.ceil(n / cols) * m * k), filterReads: k * n, ...accumulate(m * Math.min(cols, n)) }
    case "is":
      return { ifmapReads: ifmapOnce(m * k), filterReads: fits("filter", k * n) ? k * n : Math.ceil(m / cols) * k * n, ...accumulate(Math.min(cols, m) * n) }
  }
}

describe("dramTraffic counts through the cost stage's loop-nest model", () => {
  it("equals the closed-form fold-reuse rules on random GEMMs, arrays and SRAM sizes (0 = no SRAM)", () => {
    const dim = fc.integer({ min: 1, max: 3000 })
    const arr = fc.integer({ min: 1, max: 200 })
    const capacity = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1 << 22 }), fc.integer({ min: 1, max: 4096 }))
    fc.assert(
      fc.property(dim, dim, dim, arr, arr, fc.constantFrom<SystolicDataflow>("os", "ws", "is"), capacity, capacity, capacity, fc.option(fc.integer({ min: 1, max: 1 << 24 })), (m, n, k, rows, cols, dataflow, ci, cf, co, distinct) => {
        const g = { m, n, k }
        const cap = { ifmap: ci, filter: cf, ofmap: co }
        expect(dramTraffic(g, dataflow, rows, cols, cap, distinct ?? undefined)).toEqual(dramTrafficClosedForm(g, dataflow, rows, cols, cap, distinct ?? undefined))
      }),
      { numRuns: 3000 },
    )
  })
})

describe("speed", () => {
  it("simulates ResNet-18's conv layers in microseconds each", () => {
    // ResNet-18 at 224×224 (padding folded in as larger ifmaps so SCALE-Sim's no-padding lowering
    // gives the real output sizes).
    const spec: ReadonlyArray<[string, number, number, number, number, number, number]> = [
      ["conv1", 229, 7, 3, 64, 2, 1], ["l1", 58, 3, 64, 64, 1, 4], ["l2a", 58, 3, 64, 128, 2, 1], ["l2", 30, 3, 128, 128, 1, 3],
      ["l2d", 56, 1, 64, 128, 2, 1], ["l3a", 30, 3, 128, 256, 2, 1], ["l3", 16, 3, 256, 256, 1, 3], ["l3d", 28, 1, 128, 256, 2, 1],
      ["l4a", 16, 3, 256, 512, 2, 1], ["l4", 9, 3, 512, 512, 1, 3], ["l4d", 14, 1, 256, 512, 2, 1],
    ]
    const layers = spec.flatMap(([name, hw, r, c, k, s, times]) =>
      Array.from({ length: times }, (_, i) =>
        workloadFromConv(`${name}.${i}`, { batch: 1, ifmapHeight: hw, ifmapWidth: hw, filterHeight: r, filterWidth: r, channels: c, numFilters: k, stride: s, padding: 0 }),
      ),
    )
    expect(layers.length).toBe(20)
    const acc = loadAcc("systolic-32x32")
    const t0 = performance.now()
    let sims = 0
    for (let rep = 0; rep < 100; rep++)
      for (const l of layers)
        for (const dataflow of dataflows)
          for (const timing of ["default", "scalesim"] as const) {
            simulateSystolic(acc, l, { dataflow, timing })
            sims++
          }
    const usPerLayer = ((performance.now() - t0) * 1000) / sims
    expect(usPerLayer).toBeLessThan(50)
  })
})
