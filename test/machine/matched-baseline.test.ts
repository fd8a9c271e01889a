import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import { statisticalLayer, workloadFromGemm } from "../../src/machine/index.ts"
import { simulate } from "../../src/sim/index.ts"
import { loadAcc } from "../sim/helpers.ts"

/**
 * Like with like: what N:M buys on the SAT-like arrays is measured against systolic-32x32-fp16, a
 * dense systolic array of the same datatype, clock and MAC count (and, for sat-like-2x4, the same
 * memories and energies). The comparison is fair only if the two agree where N:M has nothing to
 * skip: a dense run on the SAT-like array is the baseline's run, cycle for cycle and picojoule for
 * picojoule. A baseline file that drifts (another clock, datatype, bandwidth or energy) turns this red.
 */
const baseline = loadAcc("systolic-32x32-fp16")

describe("systolic-32x32-fp16, the SAT-like arrays' dense baseline", () => {
  it.each(["sat-like-2x4", "sat-like-2x8"])("has %s's datatype, clock and MAC count", (name) => {
    const sat = loadAcc(name)
    expect(baseline.datatype).toEqual(sat.datatype)
    expect(baseline.clockGhz).toBe(sat.clockGhz)
    expect(baseline.peArray.rows * baseline.peArray.cols * baseline.peArray.macsPerPe).toBe(
      sat.peArray.rows * sat.peArray.cols * sat.peArray.macsPerPe,
    )
    expect(baseline.peArray.nmSupport).toBeNull()
  })

  const dims = fc.record({
    m: fc.integer({ min: 1, max: 300 }),
    n: fc.integer({ min: 1, max: 300 }),
    k: fc.integer({ min: 1, max: 300 }),
  })
  test.prop([dims], { numRuns: 40, seed: 15 })("runs dense GEMMs exactly as sat-like-2x4 runs them dense", (g) => {
    const layer = statisticalLayer(workloadFromGemm("g", g), { kind: "dense" }, { kind: "dense" }, 1)
    const sat = simulate(loadAcc("sat-like-2x4"), layer, { dataflow: "weight-stationary" }).row
    const dense = simulate(baseline, layer, { dataflow: "weight-stationary" }).row
    expect(dense.cycles).toBe(sat.cycles)
    expect(dense.energyPj).toBeCloseTo(sat.energyPj, 6)
    expect(dense.dramReads + dense.dramWrites).toBe(sat.dramReads + sat.dramWrites)
    expect(dense.macs).toBe(sat.macs)
  })
})
