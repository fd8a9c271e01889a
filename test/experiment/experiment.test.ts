import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { chromium } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { loadConfig } from "../../src/config/index.ts"
import { defineExperiment, runExperiment, type ExperimentOutput } from "../../src/experiment/index.ts"
import { Accelerator } from "../../src/hardware/index.ts"
import { tableFromIPC } from "@uwdata/flechette"
import { readReportData, rowsToCsv } from "../../src/report/index.ts"
import { tableColumns } from "../../src/experiment/index.ts"
import { readTrace } from "../../src/trace/index.ts"

const spec = defineExperiment({
  name: "e2e-mini",
  description: "A one-epoch run of the default pipeline, small enough for the test suite.",
  dataset: { name: "mnist-digits", testFraction: 0.2, seed: 3 },
  model: "mlp-784-128-10",
  methods: ["dense", "nm:2:4"],
  training: {
    epochs: 1,
    batchSize: 64,
    learningRate: 0.05,
    momentum: 0.9,
    weightDecay: 0.0001,
    seed: 3,
    traceEverySteps: 40,
  },
  simulate: [
    { accelerator: "systolic-32x32-fp16", dataflows: ["os", "ws"], timing: "default" },
    { accelerator: "sat-like-2x4" },
    { accelerator: "systolic-32x32-fp16", mapping: "mapper" },
  ],
  map: [
    {
      accelerator: "systolic-32x32-fp16",
      objective: "edp",
      budget: 400,
      dataflows: ["weight-stationary", "free"],
      seed: 3,
    },
  ],
  charts: [
    { title: "Test accuracy", mark: "line", table: "training", x: "epoch", y: "testAccuracy", color: "method" },
    {
      title: "Cycles",
      mark: "bar",
      table: "results",
      // Not `dataflow`: the mapper's replay may be weight-stationary too, and would overdraw (refused).
      where: { replay: "weight-stationary", accelerator: "systolic-32x32-fp16" },
      x: "layer",
      y: "cycles",
      color: "method",
      column: "pass",
    },
    // x "operand" (layer and tensor), not "layer": three operands per layer would overdraw (refused).
    { title: "Density", mark: "bar", table: "operands", x: "operand", y: "density", color: "method", column: "pass" },
    // Like with like: systolic-32x32-fp16 is the SAT-like array's dense twin (fp16, 0.2 GHz, 1024 MACs).
    {
      title: "Energy per step",
      mark: "bar",
      table: "results",
      where: { replay: "weight-stationary" },
      x: "accelerator",
      y: "energyPj",
      color: "method",
      aggregate: "sum",
    },
    {
      title: "Speedup over dense",
      mark: "bar",
      table: "speedups",
      where: { replay: "weight-stationary" },
      x: "pass",
      y: "speedup",
      color: "accelerator",
      baseline: 1,
    },
    {
      title: "Energy by component",
      mark: "bar",
      table: "energy",
      where: { replay: "weight-stationary" },
      x: "accelerator",
      y: "energyPj",
      color: "component",
      column: "method",
      aggregate: "sum",
      stack: true,
    },
    {
      title: "Roofline",
      mark: "roofline",
      table: "roofline",
      where: { replay: "weight-stationary" },
      x: "macsPerDramByte",
      y: "gmacPerSecond",
      color: "pass",
      column: "accelerator",
    },
    {
      title: "Operand density",
      mark: "rect",
      table: "operands",
      where: { pass: "forward" },
      x: "layer",
      y: "role",
      color: "density",
      column: "method",
    },
    { title: "Mappings", mark: "point", table: "mappings", x: "cycles", y: "energyPj", color: "pass", pareto: true },
  ],
})

const chromiumPath = "/usr/bin/chromium"
let outDir: string
let first: ExperimentOutput
let firstSeconds: number

beforeAll(async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spade-e2e-"))
  process.env.SPADE_CACHE_DIR = path.join(tmp, "cache")
  outDir = path.join(tmp, "reports")
  const t0 = performance.now()
  first = await Effect.runPromise(runExperiment(spec, { outDir }))
  firstSeconds = (performance.now() - t0) / 1000
}, 180_000)

afterAll(() => {
  delete process.env.SPADE_CACHE_DIR
})

describe("an experiment end to end", () => {
  it("trains for real: 2:4 halves the hidden layer's weights and both models learn", () => {
    const training = first.tables.training
    const last = (method: string) => training.filter((r) => r.method === method).at(-1)!
    expect(Number(last("dense").testAccuracy)).toBeGreaterThan(0.85)
    expect(Number(last("nm:2:4").testAccuracy)).toBeGreaterThan(0.8)
    const weightDensity = (method: string, layer: string) =>
      first.tables.operands.find(
        (r) => r.method === method && r.layer === layer && r.pass === "forward" && r.role === "b",
      )!.density
    expect(weightDensity("nm:2:4", "fc1")).toBeLessThanOrEqual(0.5)
    expect(weightDensity("dense", "fc1")).toBeGreaterThan(0.9)
  })

  it("simulates every layer and pass of every method, from the trace files", async () => {
    const rows = first.tables.results
    // The dataflow column names the dataflow file the aliases os and ws stand for.
    for (const method of spec.methods)
      for (const pass of ["forward", "backward-data", "backward-weight"])
        for (const dataflow of ["output-stationary", "weight-stationary"])
          expect(
            rows.filter(
              (r) => r.method === method && r.pass === pass && r.dataflow === dataflow && r.mapping === "canonical",
            ).length,
          ).toBeGreaterThan(0)
    // sat-like-2x4 runs the first dataflow its file declares.
    expect(new Set(rows.filter((r) => r.accelerator === "sat-like-2x4").map((r) => r.dataflow))).toEqual(
      new Set([Effect.runSync(loadConfig("accelerators", Accelerator)("sat-like-2x4")).dataflows[0]]),
    )
    expect(first.traceFiles).toHaveLength(2)
    for (const file of first.traceFiles) {
      const { meta, records } = await Effect.runPromise(readTrace(file))
      expect(meta.model).toBe("mlp-784-128-10")
      expect(records.length).toBeGreaterThan(0)
    }
    // A dense array issues every MAC; the 2:4 masks halve the effectual ones in the weight passes.
    const fwd = (method: string, accelerator: string = "systolic-32x32-fp16") =>
      rows.find(
        (r) =>
          r.method === method &&
          r.layer === "fc1" &&
          r.pass === "forward" &&
          r.accelerator === accelerator &&
          r.mapping === "canonical" &&
          (accelerator !== "systolic-32x32-fp16" || r.dataflow === "weight-stationary"),
      )!
    expect(fwd("nm:2:4").macs).toBe(fwd("dense").macs)
    expect(fwd("nm:2:4").cycles).toBe(fwd("dense").cycles)
    expect(Number(fwd("nm:2:4").effectualMacs)).toBeLessThan(Number(fwd("dense").effectualMacs))
    // The SAT-like 2:4 array, replaying the same traces, turns the traced 2:4 masks into half the MACs.
    const sat = (method: string) => fwd(method, "sat-like-2x4")
    expect(sat("nm:2:4").mechanism).toBe("nm:2:4")
    expect(sat("dense").mechanism).toBe("dense")
    expect(Number(sat("nm:2:4").macs)).toBe(Number(sat("dense").macs) / 2)
    expect(Number(sat("nm:2:4").computeCycles)).toBeLessThan(Number(sat("dense").computeCycles))
  })

  it("a simulate entry that does not fit its accelerator's family fails before training, naming the field", async () => {
    const bad = defineExperiment({
      ...spec,
      name: "e2e-bad",
      simulate: [spec.simulate[0], { accelerator: "sparten-like", dataflows: ["ws"] }],
    })
    const t0 = performance.now()
    const r = await Effect.runPromise(Effect.either(runExperiment(bad, { outDir })))
    expect(r._tag).toBe("Left")
    if (r._tag === "Left")
      expect(String(r.left.message)).toMatch(/simulate\.1\.dataflows.*sparten-like.*two-sided-skipping/)
    expect(performance.now() - t0).toBeLessThan(5000)
    // Training runs would have created the experiment's trace directory (a cached run is fast too).
    expect(fs.existsSync(path.join(outDir, "e2e-bad"))).toBe(false)
  })

  it("maps every traced layer and pass, and joins each simulated row with its best mapping on the same accelerator", () => {
    const { results, mappings, mapped } = first.tables
    const key = (r: Record<string, unknown>) => `${r.method} ${r.step} ${r.layer} ${r.pass}`
    expect(new Set(mappings.map(key))).toEqual(new Set(results.map(key)))
    expect(mappings).toHaveLength(new Set(results.map(key)).size)
    for (const r of mappings) {
      expect(r.accelerator).toBe("systolic-32x32-fp16")
      expect(["weight-stationary", "free"]).toContain(r.dataflow)
      expect(Number(r.dramWords)).toBeGreaterThanOrEqual(Number(r.lowerBoundDramWords))
    }
    // Only the systolic array was mapped: the join keeps its rows (every replay of them) and no SAT-like row.
    const systolic = results.filter((r) => r.accelerator === "systolic-32x32-fp16")
    expect(mapped).toHaveLength(systolic.length)
    for (const j of mapped) {
      const m = mappings.find((r) => key(r) === key(j))!
      expect(j.accelerator).toBe("systolic-32x32-fp16")
      expect(j.mappedCycles).toBe(m.cycles)
      expect(j.mappedEnergyPj).toBe(m.energyPj)
      expect(j.mappedDataflow).toBe(m.dataflow)
    }
  })

  it("a mapping: \"mapper\" entry replays the mapper's mappings on the real masks, with the mapper's numbers on a dense array", () => {
    const { results, mappings } = first.tables
    const key = (r: Record<string, unknown>) => `${r.method} ${r.step} ${r.layer} ${r.pass}`
    const replays = results.filter((r) => r.accelerator === "systolic-32x32-fp16" && r.mapping !== "canonical")
    expect(replays).toHaveLength(mappings.length)
    // Charts tell the replays apart by `replay`: the canonical mapping's dataflow, or "mapper".
    for (const r of results) expect(r.replay).toBe(replays.includes(r) ? "mapper" : r.dataflow)
    for (const r of replays) {
      const m = mappings.find((x) => key(x) === key(r))!
      // "mapper", not a fallback to the canonical mapping: the mapping found runs on the real masks.
      expect(r.mapping, key(r)).toBe("mapper")
      expect(r.dataflow).toBe(m.dataflow)
      // Where the nonzeros are does not change a dense array's cycles, traffic or energy.
      expect([r.cycles, r.energyPj, Number(r.dramReads) + Number(r.dramWrites)], key(r)).toEqual([
        m.cycles,
        m.energyPj,
        m.dramWords,
      ])
    }
  })

  it("derives speedups against dense on the same array, energy by component and the roofline from the results", () => {
    const { results, speedups, energy, roofline } = first.tables
    const ws = (r: Record<string, unknown>) => r.replay === "weight-stationary"
    const all = (accelerator: string) =>
      speedups.find((r) => ws(r) && r.accelerator === accelerator && r.pass === "all" && r.method === "nm:2:4")!
    const sum = (method: string, accelerator: string, field: string) =>
      results
        .filter((r) => ws(r) && r.method === method && r.accelerator === accelerator)
        .reduce((a, r) => a + Number(r[field]), 0)
    for (const acc of ["systolic-32x32-fp16", "sat-like-2x4"]) {
      expect(all(acc).cycles).toBe(sum("nm:2:4", acc, "cycles"))
      expect(all(acc).denseCycles).toBe(sum("dense", acc, "cycles"))
      expect(all(acc).energySaving).toBeCloseTo(1 - sum("nm:2:4", acc, "energyPj") / sum("dense", acc, "energyPj"))
    }
    // A dense array issues every MAC whatever the masks; the SAT-like array skips the 2:4 zeros.
    expect(all("systolic-32x32-fp16").speedup).toBe(1)
    expect(Number(all("sat-like-2x4").speedup)).toBeGreaterThan(1)
    expect(new Set(speedups.map((r) => r.pass))).toEqual(
      new Set(["all", "forward", "backward-data", "backward-weight"]),
    )
    expect(energy).toHaveLength(results.length * 5)
    const total = energy.reduce((a, r) => a + Number(r.energyPj), 0)
    expect(total).toBeCloseTo(
      results.reduce((a, r) => a + Number(r.energyPj), 0),
      -2,
    )
    expect(roofline.length).toBeGreaterThan(0)
    for (const r of roofline) {
      expect(Number(r.gmacPerSecond)).toBeLessThanOrEqual(Number(r.peakGmacPerSecond) * (1 + 1e-9))
      expect(r.peakGmacPerSecond).toBeCloseTo(1024 * 0.2)
    }
  })

  it("a second run resumes from the cache and gives identical rows", async () => {
    const t0 = performance.now()
    const again = await Effect.runPromise(runExperiment(spec, { outDir }))
    const seconds = (performance.now() - t0) / 1000
    expect(again.tables).toEqual(first.tables)
    expect(seconds).toBeLessThan(firstSeconds / 2)
  }, 120_000)

  it("every table has the columns declared for it, so chart fields are checked against the truth", () => {
    const declared = tableColumns(spec)
    for (const [table, rows] of Object.entries(first.tables)) {
      const seen = new Set(rows.flatMap((r) => Object.keys(r)))
      expect(
        [...seen].filter((c) => !declared[table]?.includes(c)),
        table,
      ).toEqual([])
      // Declared columns all occur, but for those of features this spec does not use.
      if (rows.length > 0)
        expect(
          declared[table]?.filter((c) => !seen.has(c)),
          table,
        ).toEqual([])
    }
  })

  it("writes every table beside the report as CSV and Arrow, and closes the report with its provenance", () => {
    const dir = path.join(outDir, spec.name, "tables")
    for (const [table, rows] of Object.entries(first.tables)) {
      expect(fs.readFileSync(path.join(dir, `${table}.csv`), "utf8")).toBe(rowsToCsv(rows))
      const arrow = tableFromIPC(fs.readFileSync(path.join(dir, `${table}.arrow`)))
      expect(arrow.numRows).toBe(rows.length)
      expect(arrow.schema.metadata?.get("experiment")).toBe(spec.name)
      if (rows.length > 0) expect({ ...arrow.get(0) }).toEqual({ ...rows[0] })
    }
    expect(fs.readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([])
    const html = fs.readFileSync(first.reportFile, "utf8")
    const data = readReportData(html)
    expect(data.provenance?.config).toEqual(JSON.parse(JSON.stringify(spec)))
    expect(data.provenance?.seeds).toMatchObject({ "dataset.seed": 3, "training.seed": 3, "map[0].seed": 3 })
    expect(data.provenance?.durationSeconds).toBeGreaterThan(0)
    expect(html).toContain(`href="${spec.name}/tables/results.arrow"`)
    // Provenance is the last section.
    expect(html.lastIndexOf("<section")).toBe(html.indexOf('<section id="provenance"'))
  })

  it("the report opens in a real browser with its charts, offline", async () => {
    const browser = await chromium.launch({
      executablePath: chromiumPath,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    })
    try {
      const page = await browser.newPage()
      const requests: string[] = []
      const errors: string[] = []
      page.on("request", (r) => requests.push(r.url()))
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text())
      })
      const url = `file://${first.reportFile}`
      await page.goto(url)
      expect(requests).toEqual([url])
      expect(errors).toEqual([])
      // Every declared chart is drawn with marks.
      const marks = await page.$$eval("figure.chart > svg", (els) =>
        els.map(
          (el) =>
            el.querySelectorAll(
              '[aria-roledescription="bar"], [aria-roledescription="point"], [aria-roledescription="rect mark"]',
            ).length,
        ),
      )
      expect(marks).toHaveLength(spec.charts.length)
      for (const m of marks) expect(m).toBeGreaterThan(0)
      // The aggregated bars are the sums of their rows, in the unit the axis states.
      const labels = await page.$$eval(
        'figure.chart[aria-label="Energy per step"] [aria-roledescription="bar"]',
        (els) => els.map((el) => el.getAttribute("aria-label") ?? ""),
      )
      const ws = first.tables.results.filter((r) => r.replay === "weight-stationary")
      const groups = new Set(ws.map((r) => `${r.accelerator}|${r.method}`))
      expect(labels).toHaveLength(groups.size)
      for (const label of labels) {
        const m = /Accelerator: ([^;]+); Energy \((pJ|nJ|µJ|mJ|J)\): ([\d.,]+)[^;]*; method: ([^;]+);/.exec(label)
        expect(m, label).not.toBeNull()
        const [, acc, unit, shown, method] = m!
        const scale = { pJ: 1, nJ: 1e3, µJ: 1e6, mJ: 1e9, J: 1e12 }[unit as "pJ"]
        const sum = ws
          .filter((r) => r.accelerator === acc && r.method === method)
          .reduce((a, r) => a + Number(r.energyPj), 0)
        expect(Number(shown!.replaceAll(",", "")) * scale).toBeCloseTo(sum, -Math.floor(Math.log10(sum)) + 2)
      }
      const charts = await page
        .locator("svg")
        .evaluateAll(
          (els) => els.map((e) => e.getBoundingClientRect()).filter((r) => r.width > 50 && r.height > 50).length,
        )
      expect(charts).toBeGreaterThanOrEqual(3)
      expect(await page.locator("table tbody tr").count()).toBeGreaterThanOrEqual(first.tables.results.length)
      const speedupRows = await page.$$eval(
        'section:has(h2:text-is("Speedup and energy saving against dense")) tbody tr',
        (trs) => trs.length,
      )
      expect(speedupRows).toBe(first.tables.speedups.length)
    } finally {
      await browser.close()
    }
  })
})
