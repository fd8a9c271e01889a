import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { decodeValue, isUserError } from "../../src/config/index.ts"
import {
  BASE_TABLE_COLUMNS,
  ChartSpec,
  checkCharts,
  compileChart,
  defineExperiment,
  runExperiment,
  sweepColumn,
  tableColumns,
  type ExperimentSpec,
} from "../../src/experiment/index.ts"
import defaultSpec from "../../experiments/default.ts"

const base = defineExperiment({
  name: "charts-check",
  description: "charts only",
  dataset: { name: "mnist-digits", testFraction: 0.2, seed: 1 },
  model: "mlp-784-128-10",
  methods: ["dense"],
  training: {
    epochs: 1,
    batchSize: 64,
    learningRate: 0.05,
    momentum: 0.9,
    weightDecay: 0,
    seed: 1,
    traceEverySteps: 10,
  },
  simulate: [{ accelerator: "systolic-32x32" }],
  charts: [
    { title: "Accuracy", mark: "line", table: "training", x: "epoch", y: "testAccuracy", color: "method" },
    { title: "Density", mark: "bar", table: "operands", x: "operand", y: "density", column: "pass" },
    { title: "Cycles per layer", mark: "bar", table: "results", x: "layer", y: "cycles", color: "method" },
  ],
})

const withChart = (i: number, patch: Record<string, unknown>): ExperimentSpec =>
  ({ ...base, charts: base.charts.map((c, j) => (j === i ? { ...c, ...patch } : c)) }) as ExperimentSpec

const failure = (spec: ExperimentSpec): string => {
  const r = Effect.runSync(Effect.either(checkCharts(spec)))
  if (Either.isRight(r)) throw new Error("expected the charts to be refused")
  expect(isUserError(r.left)).toBe(true)
  return r.left.message
}

describe("chart fields are checked against their table's columns before any work", () => {
  it("accepts the default experiment's and a valid spec's charts", () => {
    expect(Effect.runSync(Effect.either(checkCharts(base)))._tag).toBe("Right")
    expect(Effect.runSync(Effect.either(checkCharts(defaultSpec)))._tag).toBe("Right")
  })

  it("names the chart, the field path, the bad value, a near column and the columns there are", () => {
    const message = failure(withChart(2, { y: "cycle" }))
    expect(message).toContain("experiment charts-check at charts[2].y")
    expect(message).toContain('chart "Cycles per layer"')
    expect(message).toContain('"cycle" is not a column of table results')
    expect(message).toContain('did you mean "cycles"?')
    expect(message).toContain("its columns: experiment, model, method, step, layer, pass")
    expect(message).not.toContain("\n")
  })

  it("checks x, color, column and where keys alike", () => {
    expect(failure(withChart(0, { x: "epochs" }))).toContain("charts[0].x")
    expect(failure(withChart(0, { color: "methods" }))).toContain("charts[0].color")
    expect(failure(withChart(1, { column: "passes" }))).toContain("charts[1].column")
    expect(failure(withChart(2, { where: { dataflow: "ws", acclerator: "x" } }))).toContain(
      "charts[2].where.acclerator",
    )
  })

  it("knows each table's columns and the sweep's axis columns", () => {
    expect(BASE_TABLE_COLUMNS.results).toContain("energyPj")
    expect(BASE_TABLE_COLUMNS.mapped).toContain("mappedCycles")
    expect(sweepColumn({ path: "accelerator.peArray.rows" })).toBe("peArrayRows")
    expect(sweepColumn({ path: "accelerator.memory.ifmap-sram.sizeBytes" })).toBe("memoryIfmapSramSizeBytes")
    expect(sweepColumn({ path: "operands.density", column: "actDensity" })).toBe("actDensity")
    const swept = {
      ...base,
      sweep: [
        { path: "accelerator.peArray.rows", values: [16, 32] },
        { path: "training.seed", values: [1, 2] },
      ],
    } as ExperimentSpec
    const cols = tableColumns(swept)
    expect(cols.results).toContain("peArrayRows")
    expect(cols.results).toContain("seed")
    expect(cols.training).toContain("seed")
    expect(cols.training).not.toContain("peArrayRows")
    const chart = { title: "By rows", mark: "bar" as const, table: "results" as const, x: "peArrayRows", y: "cycles" }
    expect(Effect.runSync(Effect.either(checkCharts({ ...swept, charts: [chart] })))._tag).toBe("Right")
    expect(failure({ ...base, charts: [chart] })).toContain('"peArrayRows" is not a column of table results')
  })

  it("decodes aggregate and point charts, and names a bad aggregate", () => {
    const ok = decodeValue(ChartSpec)("x.ts", { ...base.charts[2], aggregate: "sum", mark: "point" })
    expect(Either.isRight(ok)).toBe(true)
    const bad = decodeValue(ChartSpec)("x.ts", { ...base.charts[2], aggregate: "total" })
    expect(Either.isLeft(bad) && bad.left.message).toMatch(/aggregate.*"sum"/)
  })

  it("fails a run with a misspelt field before training: no trace directory, within seconds", async () => {
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "spade-chart-check-"))
    const t0 = performance.now()
    const r = await Effect.runPromise(Effect.either(runExperiment(withChart(2, { y: "cycle" }), { outDir })))
    expect(r._tag).toBe("Left")
    if (r._tag === "Left") expect(r.left.message).toContain("charts[2].y")
    expect(performance.now() - t0).toBeLessThan(3000)
    expect(fs.readdirSync(outDir)).toEqual([])
    fs.rmSync(outDir, { recursive: true, force: true })
  })
})

describe("compiled charts never overdraw or draw nothing", () => {
  const rows = ["fc1", "fc2"].flatMap((layer, i) =>
    ["forward", "backward-data", "backward-weight"].map((pass, j) => ({
      layer,
      pass,
      method: "dense",
      cycles: 100 * (i + 1) + j,
      energyPj: 1e6 * (j + 1),
    })),
  )
  const chart = { title: "Cycles per layer", mark: "bar" as const, table: "results" as const, x: "layer", y: "cycles" }

  it("refuses bars with several rows each and no aggregate, naming the chart and the group", () => {
    const r = compileChart("exp", chart, 4, rows)
    expect(Either.isLeft(r)).toBe(true)
    if (Either.isLeft(r)) {
      expect(r.left.message).toContain('experiment exp at charts[4] (chart "Cycles per layer")')
      expect(r.left.message).toContain('3 rows would draw one bar at layer "fc1"')
      expect(r.left.message).toContain("set aggregate")
    }
    // A line through several rows per x is refused alike.
    expect(Either.isLeft(compileChart("exp", { ...chart, mark: "line" }, 4, rows))).toBe(true)
    // One row per bar is fine without an aggregate.
    expect(Either.isRight(compileChart("exp", { ...chart, color: "pass" }, 4, rows))).toBe(true)
  })

  it("aggregates as the spec says: each bar is its rows' sum or mean", () => {
    const values = (how: "sum" | "mean") => {
      const r = compileChart("exp", { ...chart, aggregate: how }, 0, rows)
      if (Either.isLeft(r)) throw r.left
      return (r.right as { data: { values: Array<Record<string, unknown>> } }).data.values
    }
    expect(values("sum")).toEqual([
      { layer: "fc1", cycles: 100 + 101 + 102 },
      { layer: "fc2", cycles: 200 + 201 + 202 },
    ])
    expect(values("mean")).toEqual([
      { layer: "fc1", cycles: 101 },
      { layer: "fc2", cycles: 201 },
    ])
  })

  it("names a where value that selects nothing, with the values there are", () => {
    const r = compileChart("exp", { ...chart, color: "pass", where: { pass: "fwd" } }, 1, rows)
    expect(Either.isLeft(r) && r.left.message).toContain(
      'charts[1].where.pass (chart "Cycles per layer"): no row of table results has pass "fwd"; it has "forward", "backward-data", "backward-weight"',
    )
  })

  it("refuses a y that is not a number, and a declared column this run left empty", () => {
    const r = compileChart("exp", { ...chart, y: "pass", aggregate: "sum" }, 0, rows)
    expect(Either.isLeft(r) && r.left.message).toContain("charts[0].y")
    const empty = compileChart("exp", { ...chart, color: "mapping" }, 0, rows)
    expect(Either.isLeft(empty) && empty.left.message).toContain(
      'charts[0].color (chart "Cycles per layer"): "mapping" has no values',
    )
  })
})

describe("marks check their own options and needs before any work", () => {
  const chart = (patch: Record<string, unknown>) =>
    ({
      ...base,
      charts: [{ title: "C", mark: "bar", table: "results", x: "layer", y: "cycles", ...patch }],
    }) as ExperimentSpec

  it("refuses an option the mark does not take, naming who takes it", () => {
    expect(failure(chart({ mark: "line", stack: true }))).toContain(
      'charts[0].stack (chart "C"): stack is for bar charts, and this one is a line',
    )
    expect(failure(chart({ mark: "bar", pareto: true }))).toContain("pareto is for point charts")
    expect(
      failure(
        chart({ mark: "roofline", table: "roofline", x: "macsPerDramByte", y: "gmacPerSecond", aggregate: "sum" }),
      ),
    ).toContain("charts[0].aggregate")
  })

  it("a rect needs a colour, a roofline its own table and axes", () => {
    expect(failure(chart({ mark: "rect", y: "pass" }))).toContain("charts[0].color")
    expect(failure(chart({ mark: "roofline", x: "macs", y: "cycles" }))).toContain("charts[0].table")
    expect(failure(chart({ mark: "roofline", table: "roofline", x: "macs", y: "cycles" }))).toContain(
      'charts[0].x (chart "C"): a roofline\'s x is "macsPerDramByte"',
    )
    expect(failure(chart({ mark: "roofline", table: "roofline", x: "macsPerDramByte", y: "cycles" }))).toContain(
      'a roofline\'s y is one of "gmacPerSecond", "macsPerCycle"',
    )
    const ok = chart({ mark: "roofline", table: "roofline", x: "macsPerDramByte", y: "macsPerCycle", color: "pass" })
    expect(Effect.runSync(Effect.either(checkCharts(ok)))._tag).toBe("Right")
  })

  it("a chart on speedups needs the dense method, and says so before any work", () => {
    const speedups = { title: "S", mark: "bar", table: "speedups", x: "method", y: "speedup", baseline: 1 }
    const without = { ...base, methods: ["nm:2:4", "rigl:0.9"], charts: [speedups] } as ExperimentSpec
    const message = failure(without)
    expect(message).toContain('charts[0].table (chart "S")')
    expect(message).toContain('methods ("nm:2:4", "rigl:0.9") has no "dense"')
    const withDense = { ...without, methods: ["dense", "nm:2:4"] } as ExperimentSpec
    expect(Effect.runSync(Effect.either(checkCharts(withDense)))._tag).toBe("Right")
  })

  it("declares the derived tables' columns", () => {
    expect(BASE_TABLE_COLUMNS.speedups).toEqual(
      expect.arrayContaining(["pass", "speedup", "energySaving", "denseCycles"]),
    )
    expect(BASE_TABLE_COLUMNS.energy).toEqual(expect.arrayContaining(["component", "energyPj", "layer", "masks"]))
    expect(BASE_TABLE_COLUMNS.roofline).toEqual(
      expect.arrayContaining(["macsPerDramByte", "gmacPerSecond", "peakGmacPerSecond", "dramGBPerSecond"]),
    )
    const swept: ExperimentSpec = {
      ...base,
      sweep: [{ path: "accelerator.clockGhz", values: [0.2, 1], column: "clock" }],
    }
    for (const t of ["speedups", "energy", "roofline"]) expect(tableColumns(swept)[t]).toContain("clock")
  })
})

describe("compiled new marks", () => {
  const rows = ["fc1", "fc2"].flatMap((layer, i) =>
    ["forward", "backward-data"].map((pass, j) => ({
      layer,
      pass,
      accelerator: "a",
      method: "dense",
      density: 0.1 * (i + 1) + 0.01 * j,
      cycles: 100 * (i + 1) + j,
      energyPj: 1e6 * (2 - i) + j,
      macsPerDramByte: 4 * (i + 1),
      gmacPerSecond: 20 * (i + 1),
      peakGmacPerSecond: 204.8,
      dramGBPerSecond: 25.6,
    })),
  )
  const compiled = (c: Record<string, unknown>) =>
    compileChart("exp", { title: "T", table: "results", ...c } as ChartSpec, 3, rows)

  it("a rect with several rows per cell needs an aggregate; its colour must be a number", () => {
    const crowded = compiled({ mark: "rect", x: "layer", y: "method", color: "density" })
    expect(Either.isLeft(crowded) && crowded.left.message).toContain('2 rows would draw one cell at layer "fc1"')
    expect(Either.isRight(compiled({ mark: "rect", x: "layer", y: "pass", color: "density" }))).toBe(true)
    expect(
      Either.isRight(compiled({ mark: "rect", x: "layer", y: "method", color: "density", aggregate: "mean" })),
    ).toBe(true)
    const text = compiled({ mark: "rect", x: "layer", y: "pass", color: "method" })
    expect(Either.isLeft(text) && text.left.message).toContain('charts[3].color (chart "T"): "method" is not numeric')
  })

  it("a roofline draws its table's ceilings; a Pareto scatter marks its front", () => {
    const roof = compiled({
      mark: "roofline",
      table: "roofline",
      x: "macsPerDramByte",
      y: "gmacPerSecond",
      color: "pass",
    })
    if (Either.isLeft(roof)) throw roof.left
    const roofs = (roof.right as { data: { values: Array<Record<string, unknown>> } }).data.values.filter(
      (r) => r.roof === "a",
    )
    expect(roofs.map((r) => r.gmacPerSecond)).toContain(204.8)
    expect(roofs.map((r) => r.macsPerDramByte)).toContain(204.8 / 25.6)
    const pareto = compiled({ mark: "point", x: "cycles", y: "energyPj", pareto: true })
    if (Either.isLeft(pareto)) throw pareto.left
    const values = (pareto.right as { data: { values: Array<Record<string, unknown>> } }).data.values
    expect(values.filter((r) => r.pareto === true).map((r) => r.cycles)).toEqual([100, 200])
  })
})
