import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import {
  acceleratorFacts,
  BASE_TABLE_COLUMNS,
  DERIVE,
  type DeriveContext,
  defineExperiment,
  deriveTables,
  ENERGY_COMPONENTS,
  planExperiment,
  TABLES,
} from "../../src/experiment/index.ts"

type Row = Record<string, string | number | null>

const PASSES = ["forward", "backward-data", "backward-weight"]

/** Results rows shaped like a run's: two layers, three passes, each (method, accelerator, replay). */
const results = (): Row[] => {
  const out: Row[] = []
  for (const method of ["dense", "nm:2:4"])
    for (const accelerator of ["sat", "twin"])
      for (const replay of ["weight-stationary", "mapper"])
        for (const [l, layer] of ["fc1", "fc2"].entries())
          for (const [p, pass] of PASSES.entries()) {
            // The SAT-like array halves the 2:4 method's cycles and energy; its twin does not.
            const scale = method === "nm:2:4" && accelerator === "sat" ? 0.5 : 1
            const cycles = (1000 * (l + 1) + 100 * p + (replay === "mapper" ? 7 : 0)) * scale
            out.push({
              experiment: "e",
              model: "m",
              dataset: "d",
              method,
              step: 40,
              accelerator,
              timing: "default",
              replay,
              masks: "trace",
              peArrayRows: 32,
              layer,
              pass,
              layerPass: `${layer} ${pass}`,
              dataflow: "weight-stationary",
              cycles,
              timeUs: cycles / 200,
              energyPj: cycles * 1000,
              energyMacPj: cycles * 100,
              energySramPj: cycles * 200,
              energyDramPj: cycles * 600,
              energyLeakagePj: cycles * 10,
              energyOtherPj: cycles * 90,
              macs: cycles * 900,
              dramBytes: l === 0 ? cycles * 10 : 0,
            })
          }
  return out
}

const ctx: DeriveContext = {
  axes: ["peArrayRows"],
  facts: (r) =>
    r.accelerator === "sat" || r.accelerator === "twin"
      ? { datatype: "fp16", clockGhz: 0.2, macCount: 1024, dramBytesPerCycle: 128 }
      : undefined,
}

describe("speedups: each method against dense on the same accelerator and replay", () => {
  const rows = results()
  const speedups = DERIVE.speedups(rows, ctx)

  it("one row per (method ≠ dense, accelerator, replay) and pass, plus the whole network", () => {
    expect(speedups).toHaveLength(2 * 2 * 4)
    expect(new Set(speedups.map((r) => r.method))).toEqual(new Set(["nm:2:4"]))
    expect(speedups.filter((r) => r.accelerator === "sat" && r.replay === "mapper").map((r) => r.pass)).toEqual([
      "all",
      ...PASSES,
    ])
    for (const r of speedups)
      expect(Object.keys(r).sort()).toEqual([...BASE_TABLE_COLUMNS.speedups, "peArrayRows"].sort())
  })

  it("sums cycles, time and energy over layers and passes, and divides like for like", () => {
    for (const r of speedups) {
      const mine = rows.filter(
        (x) =>
          x.method === r.method &&
          x.accelerator === r.accelerator &&
          x.replay === r.replay &&
          (r.pass === "all" || x.pass === r.pass),
      )
      const dense = rows.filter(
        (x) =>
          x.method === "dense" &&
          x.accelerator === r.accelerator &&
          x.replay === r.replay &&
          (r.pass === "all" || x.pass === r.pass),
      )
      const sum = (xs: Row[], f: string) => xs.reduce((a, x) => a + Number(x[f]), 0)
      expect(r.layers).toBe(mine.length)
      expect(r.cycles).toBe(sum(mine, "cycles"))
      expect(r.denseCycles).toBe(sum(dense, "cycles"))
      expect(r.timeUs).toBeCloseTo(sum(mine, "timeUs"))
      expect(r.denseEnergyPj).toBe(sum(dense, "energyPj"))
      expect(r.speedup).toBeCloseTo(sum(dense, "cycles") / sum(mine, "cycles"))
      expect(r.energySaving).toBeCloseTo(1 - sum(mine, "energyPj") / sum(dense, "energyPj"))
    }
    const all = (accelerator: string) =>
      speedups.find((r) => r.accelerator === accelerator && r.pass === "all" && r.replay === "weight-stationary")!
    expect(all("sat").speedup).toBeCloseTo(2)
    expect(all("sat").energySaving).toBeCloseTo(0.5)
    expect(all("twin").speedup).toBe(1)
    expect(all("twin").energySaving).toBe(0)
  })

  it("never pairs across sweep points or masks, and leaves out a run missing a dense twin", () => {
    const swept = [...rows, ...rows.map((r) => ({ ...r, peArrayRows: 16, cycles: Number(r.cycles) * 3 }))]
    const bySweep = DERIVE.speedups(swept, ctx)
    expect(bySweep).toHaveLength(2 * speedups.length)
    // Three times the cycles on both sides at 16 rows: the same ratio, not 3 or 1/3.
    for (const r of bySweep.filter((x) => x.peArrayRows === 16)) {
      const at32 = speedups.find((x) => x.accelerator === r.accelerator && x.replay === r.replay && x.pass === r.pass)!
      expect(r.speedup).toBeCloseTo(Number(at32.speedup))
    }
    const uniform = rows.map((r) => (r.method === "dense" ? r : { ...r, masks: "uniform" }))
    expect(DERIVE.speedups(uniform, ctx)).toEqual([])
    const partial = rows.filter((r) => !(r.method === "dense" && r.layer === "fc2" && r.accelerator === "sat"))
    expect(new Set(DERIVE.speedups(partial, ctx).map((r) => r.accelerator))).toEqual(new Set(["twin"]))
    expect(
      DERIVE.speedups(
        rows.filter((r) => r.method !== "dense"),
        ctx,
      ),
    ).toEqual([])
  })

  it("pairs a simulation listed twice copy for copy: twice the layers, the same ratios", () => {
    const twice = DERIVE.speedups([...rows, ...rows], ctx)
    expect(twice.map((r) => r.speedup)).toEqual(speedups.map((r) => r.speedup))
    expect(twice.map((r) => r.layers)).toEqual(speedups.map((r) => 2 * Number(r.layers)))
  })
})

describe("energy breakdown and roofline", () => {
  const rows = results()

  it("melts each row's energy into its components, which sum to the row's energy", () => {
    const energy = DERIVE.energy(rows, ctx)
    expect(energy).toHaveLength(rows.length * ENERGY_COMPONENTS.length)
    expect(new Set(energy.map((r) => r.component))).toEqual(new Set(["MAC", "SRAM", "DRAM", "leakage", "other"]))
    for (const r of rows) {
      const parts = energy.filter(
        (e) =>
          e.method === r.method &&
          e.accelerator === r.accelerator &&
          e.replay === r.replay &&
          e.layerPass === r.layerPass,
      )
      expect(parts.reduce((a, e) => a + Number(e.energyPj), 0)).toBeCloseTo(Number(r.energyPj))
      expect(parts.find((e) => e.component === "DRAM")?.energyPj).toBe(r.energyDramPj)
    }
    for (const r of energy) expect(Object.keys(r).sort()).toEqual([...BASE_TABLE_COLUMNS.energy, "peArrayRows"].sort())
  })

  it("places each row with DRAM traffic under its accelerator's ceilings", () => {
    const roofline = DERIVE.roofline(rows, ctx)
    expect(roofline).toHaveLength(rows.filter((r) => Number(r.dramBytes) > 0).length)
    for (const r of roofline) {
      expect(r.macsPerDramByte).toBeCloseTo(90)
      expect(r.macsPerCycle).toBeCloseTo(900)
      expect(r.gmacPerSecond).toBeCloseTo(900 * 0.2)
      expect([r.peakMacsPerCycle, r.dramBytesPerCycle, r.peakGmacPerSecond, r.dramGBPerSecond]).toEqual([
        1024,
        128,
        1024 * 0.2,
        128 * 0.2,
      ])
      expect(Object.keys(r).sort()).toEqual([...BASE_TABLE_COLUMNS.roofline, "peArrayRows"].sort())
    }
    // Without the accelerator's facts there is no ceiling to draw under: no row.
    expect(DERIVE.roofline(rows, { ...ctx, facts: () => undefined })).toEqual([])
  })

  it("derives every derived table, each declared as a simulation table", () => {
    const all = deriveTables(rows, ctx)
    expect(Object.keys(all).sort()).toEqual(["energy", "roofline", "speedups"])
    for (const name of Object.keys(all)) expect(TABLES[name as keyof typeof TABLES].rows).toBe("simulation")
  })
})

describe("accelerator facts of a plan", () => {
  it("knows each variant a sweep makes, by name and sweep point", () => {
    const spec = defineExperiment({
      name: "facts",
      description: "planning only",
      model: "mlp-784-128-10",
      methods: ["dense"],
      operands: { batch: 8, seed: 1 },
      sweep: [
        { path: "accelerator.clockGhz", values: [0.2, 1], accelerators: ["systolic-32x32-fp16"], column: "clock" },
        { path: "accelerator.peArray.rows", values: [16, 32], accelerators: ["systolic-32x32-fp16"] },
      ],
      simulate: [{ accelerator: "systolic-32x32-fp16" }, { accelerator: "sat-like-2x4" }],
      charts: [],
    })
    const facts = acceleratorFacts(Effect.runSync(planExperiment(spec)))
    expect(facts({ accelerator: "systolic-32x32-fp16", clock: 1, peArrayRows: 16 })).toEqual({
      datatype: "fp16",
      clockGhz: 1,
      macCount: 16 * 32,
      // The DRAM level's 64 words per cycle of 2 bytes.
      dramBytesPerCycle: 128,
    })
    expect(facts({ accelerator: "sat-like-2x4", clock: 1, peArrayRows: 16 })?.clockGhz).toBe(0.2)
    expect(facts({ accelerator: "systolic-32x32-fp16", clock: 3, peArrayRows: 16 })).toBeUndefined()
  })
})
