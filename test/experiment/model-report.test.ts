import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { Effect } from "effect"
import { chromium } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ConfigError, loadConfig } from "../../src/config/index.ts"
import { loadModel } from "../../src/engine/index.ts"
import { modelReport, REPORT_ACCELERATORS, type ModelReportOutput } from "../../src/experiment/index.ts"
import { Accelerator } from "../../src/hardware/index.ts"
import { families, layerFromTrace, modelStepLayers, type SimRow } from "../../src/machine/index.ts"
import { readReportData } from "../../src/report/index.ts"
import { simulate } from "../../src/sim/index.ts"
import { readTrace, type Trace } from "../../src/trace/index.ts"
import { type Fixtures, hasTorch, makeFixtures, PYTHON, TORCH_MISSING } from "../onnx/torch-fixtures.ts"

/**
 * `spade report`: a researcher's network, from the PyTorch recorder, an ONNX export or a zoo
 * model, reported on every accelerator family. The numbers in the report are checked against what
 * `spade simulate` (or the simulators it runs) gives for the same layers, not against formulas.
 */

const root = path.resolve(import.meta.dirname, "..", "..")
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spade-model-report-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const spade = (...args: string[]) =>
  spawnSync(process.execPath, [path.join(root, "bin", "spade.js"), ...args], {
    encoding: "utf8",
    cwd: root,
    timeout: 60_000,
  })

const accelerators = Effect.runSync(
  Effect.forEach(REPORT_ACCELERATORS, (n) => loadConfig("accelerators", Accelerator)(n)),
)
const key = (r: { step: number; layer: string; pass: string | null }) => `${r.step} ${r.layer} ${r.pass}`

/** Every family of the machine model is in the default set, so "every family" is not a claim. */
it("the default accelerators cover every family", () => {
  expect(new Set(accelerators.map((a) => a.family))).toEqual(new Set(Object.keys(families)))
})

/** Every (accelerator, record) has exactly one result row, and nothing else is there. */
type Keyed = {
  readonly accelerator?: unknown
  readonly step?: unknown
  readonly layer?: unknown
  readonly pass?: unknown
}
const expectEveryRecord = (results: ReadonlyArray<Keyed>, trace: Trace) => {
  const want = accelerators.flatMap((a) => trace.records.map((r) => `${a.name} ${key(r)}`)).sort()
  const got = results.map((r) => `${r.accelerator} ${r.step} ${r.layer} ${r.pass}`).sort()
  expect(got).toEqual(want)
}

describe("model reports: PyTorch is installed", () => {
  // Always run, so a machine without torch fails here rather than skipping the tests below.
  it("/usr/bin/python3 imports torch", () => {
    expect(hasTorch, TORCH_MISSING).toBe(true)
  })
})

describe.runIf(hasTorch)("a PyTorch training run recorded with python/spade_recorder", () => {
  // Three child processes (Python, then two `spade` runs that each start tsx): minutes on a busy machine.
  it("`spade report --trace run.npz` holds every record on every family, with simulate's numbers", () => {
    const rec = spawnSync(PYTHON, [path.join(root, "test", "python", "record_resnet.py"), dir], {
      encoding: "utf8",
      timeout: 120_000,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
    })
    expect(rec.status, rec.stderr).toBe(0)
    const npz = path.join(dir, "resnet.npz")
    const html = path.join(dir, "resnet.html")
    const r = spade("report", "--trace", npz, "--step", "all", "--out", html)
    expect(r.status, r.stderr).toBe(0)
    expect(r.stderr).toContain("simulate [")
    const data = readReportData(fs.readFileSync(html, "utf8"))
    const trace = Effect.runSync(readTrace(npz))
    // Steps 0, 2 and 4 of a 5-layer residual CNN, three passes but the stem's backward-data.
    expect(trace.records).toHaveLength(42)
    expectEveryRecord(data.data.results!, trace)

    const sim = spade(
      "simulate",
      "--trace",
      npz,
      "--step",
      "all",
      "--json",
      ...accelerators.flatMap((a) => ["--accelerator", a.name]),
    )
    expect(sim.status, sim.stderr).toBe(0)
    const rows = sim.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as SimRow & { step: number })
    expect(rows).toHaveLength(42 * accelerators.length)
    const byKey = new Map(data.data.results!.map((x) => [`${x.accelerator} ${x.step} ${x.layer} ${x.pass}`, x]))
    for (const s of rows) {
      const mine = byKey.get(`${s.accelerator} ${key(s)}`)!
      expect(Object.fromEntries(Object.keys(s).map((k) => [k, mine[k]])), `${s.accelerator} ${key(s)}`).toEqual(s)
    }
    // A step's totals are its rows' sums (cycles plus any mask generation left exposed).
    const totals = data.data.totals!
    expect(totals).toHaveLength(3 * accelerators.length)
    for (const t of totals) {
      const mine = rows.filter((s) => s.accelerator === t.accelerator && s.step === t.step)
      const cycles = mine.reduce((n, s) => n + s.cycles, 0)
      expect(t.cycles).toBe(cycles + Number(t.exposedMaskGenCycles))
      expect(Number(t.energyPj)).toBeCloseTo(
        mine.reduce((n, s) => n + s.energyPj, 0),
        6,
      )
      if (t.accelerator === "systolic-32x32") expect([t.speedup, t.energyRatio]).toEqual([1, 1])
    }
    const last = totals.filter((t) => t.step === 4)
    console.info(
      `recorded CNN, step 4: ${last
        .map((t) => `${t.accelerator} ${t.cycles} cycles ${(Number(t.energyPj) / 1e6).toFixed(1)} µJ`)
        .join("; ")}`,
    )
  }, 300_000)
})

describe.runIf(hasTorch)("a PyTorch model exported to ONNX", () => {
  let fixtures: Fixtures | null = null
  beforeAll(() => {
    fixtures = makeFixtures()
  }, 120_000)
  afterAll(() => fixtures?.remove())

  /** The report's rows are the simulators' on the trace it wrote beside itself. */
  const expectSimulated = (out: ModelReportOutput, trace: Trace) => {
    expectEveryRecord(out.results, trace)
    const records = new Map(trace.records.map((r) => [key(r), r]))
    for (const row of out.results) {
      const acc = accelerators.find((a) => a.name === row.accelerator)!
      const want = simulate(acc, layerFromTrace(records.get(key(row))!)).row
      expect([row.cycles, row.energyPj, row.macs], `${row.accelerator} ${key(row)}`).toEqual([
        want.cycles,
        want.energyPj,
        want.macs,
      ])
    }
  }

  it("inference on MNIST digits: the forward pass's real masks and the checkpoint's 2:4 weights", async () => {
    const out = await Effect.runPromise(
      modelReport({ model: fixtures!.file("pruned.onnx"), samples: 32, batch: 8, out: path.join(dir, "pruned.html") }),
    )
    expect(out.source).toBe("inference")
    const trace = Effect.runSync(readTrace(out.traceFile!))
    expect(new Set(trace.records.map((r) => r.pass))).toEqual(new Set(["forward"]))
    expect(trace.records.map((r) => r.layer)).toEqual(["conv", "conv2", "fc1", "fc2", "fc3"])
    expectSimulated(out, trace)
    // The N:M the checkpoint holds reaches the SAT-like array as its mechanism.
    const sat = out.results.find((r) => r.accelerator === "sat-like-2x4" && r.layer === "conv2")!
    expect(sat.mechanism).toBe("nm:2:4")
    const data = readReportData(fs.readFileSync(out.reportFile, "utf8"))
    expect(data.meta.source).toBe("inference")
    expect(data.data.results).toHaveLength(5 * accelerators.length)
  })

  it("fine-tuning with --sparsity: the last step's three passes", async () => {
    const out = await Effect.runPromise(
      modelReport({
        model: fixtures!.file("pruned.onnx"),
        sparsity: "nm:2:4",
        samples: 32,
        batch: 16,
        out: path.join(dir, "pruned-tuned.html"),
      }),
    )
    expect(out.source).toBe("fine-tune")
    const trace = Effect.runSync(readTrace(out.traceFile!))
    // Two steps, traced at 0 and 1; the report is on the last, and conv reads the input.
    expect(new Set(trace.records.map((r) => r.step))).toEqual(new Set([0, 1]))
    const last = { ...trace, records: trace.records.filter((r) => r.step === 1) }
    expect(last.records).toHaveLength(5 * 3 - 1)
    expectSimulated(out, last)
  })
})

describe("a zoo model, shapes only", () => {
  let out: ModelReportOutput
  it("ResNet-18 at batch 1 with 2:4 weights and half-dense activations: every GEMM on every family", async () => {
    const t0 = performance.now()
    out = await Effect.runPromise(
      modelReport(
        { model: "models/zoo/resnet18.json", density: 0.5, nm: "2:4", out: path.join(dir, "resnet18.html") },
        { source: "test" },
      ),
    )
    const seconds = (performance.now() - t0) / 1000
    expect(out.source).toBe("shapes")
    const layers = modelStepLayers(
      Effect.runSync(loadModel(path.join(root, "models/zoo/resnet18.json"))),
      1,
      { kind: "operands", a: { kind: "uniform", density: 0.5 }, weight: { kind: "nm", n: 2, m: 4 } },
      1,
    )
    for (const acc of accelerators) {
      const mine = out.results.filter((r) => r.accelerator === acc.name)
      expect(mine.map((r) => `${r.layer} ${r.pass}`)).toEqual(layers.map((l) => `${l.name} ${l.pass}`))
      // Spot checks against the simulators on the same layers (same seed, so the same masks).
      for (const i of [0, Math.floor(layers.length / 2), layers.length - 1]) {
        const want = simulate(acc, layers[i]!).row
        expect([mine[i]!.cycles, mine[i]!.energyPj], `${acc.name} ${want.layer} ${want.pass}`).toEqual([
          want.cycles,
          want.energyPj,
        ])
      }
    }
    console.info(`resnet18 shapes report: ${out.results.length} rows in ${seconds.toFixed(1)} s`)
  })

  it("the report states how unlike accelerators are normalized", () => {
    const html = fs.readFileSync(out.reportFile, "utf8")
    for (const needle of ["Datatypes differ", "Clocks differ", "MAC units (peak MACs per cycle) differ", "per MAC"])
      expect(html).toContain(needle)
    const macs = new Map(out.accelerators.map((a) => [a.accelerator, a.peakMacsPerCycle]))
    expect(macs.get("systolic-32x32")).toBe(1024)
    expect(macs.get("eyeriss-like")).toBe(168)
  })

  it("a flag that does not fit the input is an error naming it", async () => {
    const e = await Effect.runPromise(
      Effect.flip(modelReport({ model: "models/zoo/resnet18.json", samples: 8 }, { source: "command line" })),
    )
    expect(e).toBeInstanceOf(ConfigError)
    expect(e.message).toMatch(/^command line at samples: expected sparsity too/)
    const bad = await Effect.runPromise(Effect.flip(modelReport({ trace: "x.npz", density: 2 })))
    expect(bad.message).toMatch(/^model report at density: /)
  })

  const CHROMIUM = "/usr/bin/chromium"
  it("opens in a real browser offline with every chart drawn", async () => {
    const url = pathToFileURL(out.reportFile).href
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"],
    })
    try {
      const context = await browser.newContext()
      const requests: string[] = []
      const problems: string[] = []
      context.on("request", (r) => requests.push(r.url()))
      const page = await context.newPage()
      page.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warning") problems.push(m.text())
      })
      page.on("pageerror", (e) => problems.push(e.message))
      await page.goto(url, { waitUntil: "load" })
      expect(requests).toEqual([url])
      const charts = await page.$$eval("figure.chart > svg", (els) =>
        els.map((el) => ({
          w: el.getBoundingClientRect().width,
          bars: el.querySelectorAll('[aria-roledescription="bar"]').length,
        })),
      )
      expect(charts).toHaveLength(7)
      for (const c of charts) {
        expect(c.w).toBeGreaterThan(100)
        expect(c.bars).toBeGreaterThan(0)
      }
      expect(problems).toEqual([])
    } finally {
      await browser.close()
    }
  })
})
