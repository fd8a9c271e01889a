import { tableFromIPC } from "@uwdata/flechette"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import {
  barChart,
  collectProvenance,
  crowdedGroup,
  fieldUnit,
  gitState,
  lineChart,
  readReportData,
  renderReport,
  renderSvg,
  reportTables,
  rowsToArrow,
  saveReport,
  rowsToCsv,
  snapNoise,
  titleInUnit,
  unitFor,
  writeTables,
  type Row,
} from "../../src/report/index.ts"
import { count, LAYERS, METHODS, resultRows } from "./fixtures.ts"

const tmp = mkdtempSync(path.join(tmpdir(), "spade-report-truth-"))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

/** The encoding of a compiled spec, whether faceted or not. */
const specOf = (spec: object): Record<string, unknown> => {
  const s = spec as { spec?: Record<string, unknown> } & Record<string, unknown>
  return s.spec ?? s
}

/** Axis tick labels of the axis titled `title` in an SVG. */
const tickLabels = (svg: string, title: string): string[] => {
  const start = svg.indexOf(`aria-label="${title.startsWith("Y") ? "Y" : "X"}-axis`)
  const axis = svg.slice(start, svg.indexOf("role-axis-domain", start))
  return [...axis.matchAll(/role-axis-label[\s\S]*?<\/g>/g)].flatMap((m) =>
    [...m[0].matchAll(/>([^<>]+)<\/text>/g)].map((t) => t[1] ?? ""),
  )
}

describe("units chosen for the magnitude", () => {
  it("reads the unit from the field name", () => {
    expect(fieldUnit("energyPj")).toMatchObject({ family: "energy", label: "pJ" })
    expect(fieldUnit("mappedEnergyPj")).toMatchObject({ label: "pJ" })
    expect(fieldUnit("latencyMs")).toMatchObject({ family: "time", label: "ms" })
    expect(fieldUnit("seconds")).toMatchObject({ family: "time", label: "s" })
    expect(fieldUnit("cycles")).toBeUndefined()
  })

  it("picks the largest unit the largest value fills, never below the field's own", () => {
    const pj = fieldUnit("energyPj")!
    expect(unitFor(pj, 67.3e6).label).toBe("µJ")
    expect(unitFor(pj, 999).label).toBe("pJ")
    expect(unitFor(pj, 1000).label).toBe("nJ")
    expect(unitFor(pj, 4.2e9).label).toBe("mJ")
    expect(unitFor(pj, 3e12).label).toBe("J")
    expect(unitFor(pj, 0.2).label).toBe("pJ")
    const s = fieldUnit("seconds")!
    expect(unitFor(s, 0.0042).label).toBe("s")
    expect(unitFor(fieldUnit("runNs")!, 4.2e6).label).toBe("ms")
  })

  it("retitles an author's unit rather than contradicting it", () => {
    const uj = unitFor(fieldUnit("energyPj")!, 1e7)
    expect(titleInUnit("energy (pJ)", uj)).toBe("energy (µJ)")
    expect(titleInUnit("Energy", uj)).toBe("Energy (µJ)")
    expect(titleInUnit("energy (fraction of dense)", uj)).toBe("energy (fraction of dense) (µJ)")
  })

  it("draws energy in µJ with values scaled, the embedded rows still in pJ", async () => {
    const rows = resultRows().filter((r) => r.pass === "forward")
    const spec = barChart({ rows, x: "layer", y: "energyPj", color: "method", title: "E", yTitle: "energy (pJ)" })
    const svg = await renderSvg(spec)
    expect(svg).toContain("energy (µJ)")
    expect(svg).not.toContain("(pJ)")
    // conv1, dense: 1.5e6 + 0.25 pJ is 1.5 µJ on the axis.
    expect(svg).toMatch(/Layer: conv1; energy \(µJ\): 1\.5\d*; method: dense/)
    const values = (spec as { data: { values: Row[] } }).data.values
    expect(values[0]?.energyPj).toBe(1.5e6 + 0.25)
  })
})

describe("integer axes", () => {
  const epochs: Row[] = [1, 2, 3].flatMap((epoch) =>
    ["dense", "nm:2:4"].map((method) => ({ epoch, method, testAccuracy: 0.8 + epoch / 100 })),
  )

  it("ticks whole epochs only", async () => {
    const svg = await renderSvg(lineChart({ rows: epochs, x: "epoch", y: "testAccuracy", color: "method", title: "A" }))
    const labels = tickLabels(svg, "X")
    expect(labels.length).toBeGreaterThan(1)
    for (const l of labels) expect(Number(l)).toSatisfy(Number.isInteger)
    expect(labels).toEqual(["1", "2", "3"])
  })

  it("ticks whole counts on a y of small integers", async () => {
    const rows: Row[] = LAYERS.map((layer, i) => ({ layer, events: i }))
    const svg = await renderSvg(barChart({ rows, x: "layer", y: "events", title: "Events" }))
    for (const l of tickLabels(svg, "Y")) expect(Number(l.replaceAll(",", ""))).toSatisfy(Number.isInteger)
  })
})

describe("facets", () => {
  it("give each panel its own x categories, so no panel holds empty slots", async () => {
    // conv layers only in forward, fc layers only in backward: a shared x would draw 4 slots per panel.
    const rows: Row[] = [
      { layer: "conv1", pass: "forward", cycles: 10 },
      { layer: "conv2", pass: "forward", cycles: 20 },
      { layer: "fc1", pass: "backward-data", cycles: 30 },
      { layer: "fc2", pass: "backward-data", cycles: 40 },
    ]
    const spec = barChart({ rows, x: "layer", y: "cycles", column: "pass", title: "Cycles" })
    // The colour offset within a category too: a shared one sizes bars for every panel's categories.
    expect((spec as { resolve?: unknown }).resolve).toEqual({
      scale: { x: "independent", xOffset: "independent", y: "shared" },
    })
    const svg = await renderSvg(spec)
    const xAxes = [...svg.matchAll(/aria-label="X-axis titled 'Layer' for a discrete scale with (\d+) values/g)]
    expect(xAxes.map((m) => m[1])).toEqual(["2", "2"])
    expect(count(svg, /aria-roledescription="bar"/g)).toBe(4)
  })

  it("keep a quantitative x shared, so trends read across panels", () => {
    const rows: Row[] = [1, 2].flatMap((epoch) => ["a", "b"].map((m) => ({ epoch, m, loss: epoch })))
    const spec = lineChart({ rows, x: "epoch", y: "loss", column: "m", title: "L" })
    expect((spec as { resolve?: unknown }).resolve).toEqual({ scale: { x: "shared", y: "shared" } })
    expect(specOf(spec)).toHaveProperty("encoding")
  })
})

describe("rows that would overdraw", () => {
  it("finds the first group several rows share", () => {
    const rows = resultRows()
    expect(crowdedGroup(rows, ["layer", "method", "pass"])).toBeUndefined()
    expect(crowdedGroup(rows, ["layer", "method"])).toEqual({ key: { layer: "conv1", method: "dense" }, rows: 2 })
  })
})

describe("tables in reports", () => {
  it("print floating-point residue as 0, keeping the exact value in the title and the data", async () => {
    expect(snapNoise(-1.7763568394002505e-14, 12.5, "errorPercent")).toBe(0)
    expect(snapNoise(-1.7763568394002505e-14, 0, "errorPercent")).toBe(0)
    expect(snapNoise(3e-14, 5e6, "energyPj")).toBe(0)
    // Genuinely small values stay: a column of tiny numbers is not residue.
    expect(snapNoise(2e-13, 3e-13, "leakJoules")).toBe(2e-13)
    expect(snapNoise(0.004, 12.5, "errorPercent")).toBe(0.004)
    const rows: Row[] = [
      { figure: "formula", errorPercent: -1.7763568394002505e-14 },
      { figure: "paper", errorPercent: 4.25 },
    ]
    const html = await renderReport({ title: "T", sections: [{ heading: "Figures", table: { rows } }] })
    expect(html).toContain('title="-1.7763568394002505e-14">0</td>')
    expect(html).not.toMatch(/e-14<\/td>/)
    expect(readReportData(html).sections[0]?.table?.[0]?.errorPercent).toBe(-1.7763568394002505e-14)
  })
})

describe("tables beside the report", () => {
  const rows: Row[] = [
    { layer: "fc1", pass: "forward", cycles: 5_000_000_000, energyPj: 1.25, note: 'a "quoted", text' },
    { layer: "fc2", pass: null, cycles: 7, energyPj: 2, extra: true },
  ]

  it("CSV: a header of every field, RFC 4180 quoting, empty cells for nulls", () => {
    expect(rowsToCsv(rows)).toBe(
      [
        "layer,pass,cycles,energyPj,note,extra",
        'fc1,forward,5000000000,1.25,"a ""quoted"", text",',
        "fc2,,7,2,,true",
        "",
      ].join("\r\n"),
    )
  })

  it("Arrow: typed columns that read back equal, with the table's metadata", () => {
    const table = tableFromIPC(rowsToArrow(rows, { table: "results" }))
    expect(table.schema.fields.map((f) => [f.name, f.type.typeId, f.nullable])).toEqual([
      ["layer", 5, false],
      ["pass", 5, true],
      ["cycles", 2, false],
      ["energyPj", 3, false],
      ["note", 5, true],
      ["extra", 6, true],
    ])
    expect(table.schema.metadata?.get("table")).toBe("results")
    const back = table.toArray().map((r) => ({ ...r }))
    expect(back[0]).toMatchObject({ layer: "fc1", cycles: 5_000_000_000, energyPj: 1.25, note: 'a "quoted", text' })
    expect(back[1]).toMatchObject({ layer: "fc2", pass: null, cycles: 7, extra: true })
  })

  it("writes each table whole: CSV and Arrow files, no temp file left behind", async () => {
    const dir = path.join(tmp, "tables")
    const written = await Effect.runPromise(writeTables(dir, { results: rows, training: [{ epoch: 1 }] }))
    expect(written.map((w) => path.basename(w.csv))).toEqual(["results.csv", "training.csv"])
    expect(readdirSync(dir).sort()).toEqual(["results.arrow", "results.csv", "training.arrow", "training.csv"])
    expect(readFileSync(path.join(dir, "training.csv"), "utf8")).toBe("epoch\r\n1\r\n")
    expect(tableFromIPC(readFileSync(path.join(dir, "results.arrow"))).numRows).toBe(2)
  })

  it("refuses a table name that is not a plain file name", async () => {
    const r = await Effect.runPromise(Effect.either(writeTables(tmp, { "../escape": rows })))
    expect(r._tag).toBe("Left")
  })
})

describe("provenance", () => {
  const root = path.resolve(__dirname, "../..")

  it("records config, seeds, installed versions, commit, machine and duration", () => {
    const p = collectProvenance({
      config: { name: "x", training: { seed: 4 } },
      seeds: { "training.seed": 4 },
      startedAtMs: 1_000_000,
      endedAtMs: 1_061_500,
      root,
    })
    expect(p.durationSeconds).toBe(61.5)
    expect(p.startedAt).toBe("1970-01-01T00:16:40.000Z")
    expect(p.seeds).toEqual({ "training.seed": 4 })
    const manifest = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as {
      name: string
      dependencies: Record<string, string>
    }
    expect(Object.keys(p.packages)[0]).toBe(manifest.name)
    const effect = JSON.parse(readFileSync(path.join(root, "node_modules/effect/package.json"), "utf8")) as {
      version: string
    }
    expect(p.packages.effect).toBe(effect.version)
    const head = execFileSync("git", ["rev-parse", "HEAD"], { cwd: root, encoding: "utf8" }).trim()
    expect(p.git.startsWith(head)).toBe(true)
    expect(p.machine.node).toBe(process.version)
    expect(p.machine.memoryBytes).toBeGreaterThan(0)
  })

  it("says 'not a git checkout' outside one, and never fails", () => {
    const outside = mkdtempSync(path.join(tmpdir(), "spade-not-git-"))
    try {
      expect(gitState(outside)).toMatch(/^not a git checkout/)
      const p = collectProvenance({ config: null, seeds: {}, startedAtMs: Date.now(), root: outside })
      expect(p.git).toMatch(/^not a git checkout/)
      expect(p.packages).toEqual({})
    } finally {
      rmSync(outside, { recursive: true, force: true })
    }
  })

  it("closes the report, with the config and links to the tables, and is embedded in its data", async () => {
    const provenance = collectProvenance({
      config: { name: "exp", note: "</script><b>" },
      seeds: { seed: 7 },
      startedAtMs: Date.now() - 2000,
      root,
    })
    const html = await renderReport({
      title: "T",
      sections: [
        { heading: "A", text: "a" },
        { heading: "B", text: "b" },
      ],
      provenance,
      files: [{ label: "results.csv", href: "exp/tables/results.csv" }],
    })
    const block = html.slice(html.indexOf('<section id="provenance"'))
    expect(html.indexOf('<section id="provenance"')).toBeGreaterThan(html.lastIndexOf('<section id="s2-b"'))
    expect(block).toContain("git commit")
    expect(block).toContain("seed 7")
    expect(block).toContain(`Node ${process.version}`)
    expect(block).toContain('<a href="exp/tables/results.csv">results.csv</a>')
    expect(block).toContain("&lt;/script&gt;&lt;b&gt;")
    expect(readReportData(html).provenance).toEqual(JSON.parse(JSON.stringify(provenance)))
    expect(METHODS.length).toBeGreaterThan(0)
  })

  it("saveReport publishes a script's report whole: section tables beside it, provenance closing it", async () => {
    const file = path.join(tmp, "published", "script.html")
    const report = {
      title: "Script",
      sections: [
        { heading: "SAT: BDWP 2:8 per model", table: { rows: [{ model: "lenet5", speedup: 1.7 }] } },
        { heading: "Notes", text: "no table" },
        { heading: "SAT: BDWP 2:8 per model", table: { rows: [{ model: "mlp", speedup: 1.8 }] } },
      ],
    }
    expect(Object.keys(reportTables(report))).toEqual(["sat-bdwp-2-8-per-model", "sat-bdwp-2-8-per-model-2"])
    await Effect.runPromise(saveReport(file, report, { config: { jobs: 2, seed: 5 }, startedAtMs: Date.now(), root }))
    expect(readdirSync(path.join(tmp, "published", "script", "tables")).sort()).toEqual([
      "sat-bdwp-2-8-per-model-2.arrow",
      "sat-bdwp-2-8-per-model-2.csv",
      "sat-bdwp-2-8-per-model.arrow",
      "sat-bdwp-2-8-per-model.csv",
    ])
    const html = readFileSync(file, "utf8")
    expect(readReportData(html).provenance?.seeds).toEqual({ seed: 5 })
    expect(html).toContain('href="script/tables/sat-bdwp-2-8-per-model.csv"')
  })
})
