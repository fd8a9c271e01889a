import { Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { chromium } from "playwright-core"
import { afterAll, describe, expect, it } from "vitest"
import {
  barChart,
  heatmapChart,
  lineChart,
  paretoFront,
  readReportData,
  renderReport,
  rooflineChart,
  scatterChart,
  writeReport,
} from "../../src/report/index.ts"
import { LAYERS, METHODS, resultRows } from "./fixtures.ts"

// The test command installs Debian's chromium; a machine without it fails here rather than skip.
const CHROMIUM = "/usr/bin/chromium"
const tmp = mkdtempSync(path.join(tmpdir(), "spade-report-browser-"))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

describe("report in a real browser", () => {
  it("opens offline: no requests but the file, every chart drawn, table complete, no errors", async () => {
    const rows = resultRows()
    const forward = rows.filter((r) => r.pass === "forward")
    // Cycles against energy: each layer's dense row is on the front, the others above it.
    const tradeOff = LAYERS.flatMap((layer, i) =>
      METHODS.map((method, j) => ({ layer, method, cycles: 1000 * (i + 1), energyPj: 4e6 / (i + 1) + j * 1e5 })),
    )
    const roofRows = ["a", "b"].flatMap((accelerator, a) =>
      LAYERS.map((layer, i) => ({
        accelerator,
        layer,
        intensity: 2 ** (i * 2),
        perf: Math.min(a === 0 ? 1000 : 200, 50 * 2 ** (i * 2)) / 2,
        peak: a === 0 ? 1000 : 200,
        bandwidth: 50,
      })),
    )
    const report = {
      title: "Browser check <script>alert(1)</script>",
      meta: { seed: 7 },
      sections: [
        {
          heading: "Charts",
          charts: [
            {
              spec: barChart({
                rows,
                x: "layer",
                y: "cycles",
                color: "method",
                column: "pass",
                title: "Cycles",
                baseline: 2000,
              }),
            },
            {
              spec: lineChart({
                rows: forward,
                x: "layer",
                y: "energyPj",
                color: "method",
                title: "Energy",
                yScale: "log",
              }),
            },
            { spec: scatterChart({ rows: forward, x: "cycles", y: "energyPj", color: "method", title: "Trade-off" }) },
            {
              spec: barChart({
                rows,
                x: "layer",
                y: "energyPj",
                color: "method",
                aggregate: "sum",
                title: "Energy per layer, both passes",
              }),
            },
          ],
        },
        {
          heading: "New marks",
          charts: [
            {
              spec: heatmapChart({
                rows,
                x: "layer",
                y: "method",
                value: "utilization",
                aggregate: "mean",
                title: "Heat",
              }),
            },
            {
              spec: rooflineChart({
                rows: roofRows,
                x: "intensity",
                y: "perf",
                peak: "peak",
                bandwidth: "bandwidth",
                roofBy: "accelerator",
                color: "layer",
                title: "Roofline",
              }),
            },
            {
              spec: scatterChart({
                rows: tradeOff,
                x: "cycles",
                y: "energyPj",
                color: "method",
                title: "Front",
                pareto: true,
              }),
              caption: "Normalized: per MAC",
            },
            {
              spec: barChart({
                rows,
                x: "method",
                y: "energyPj",
                color: "pass",
                aggregate: "sum",
                stack: true,
                title: "Stacked",
              }),
            },
          ],
        },
        { heading: "Results", table: { rows } },
      ],
      data: { results: rows },
    }
    const file = path.join(tmp, "nested", "report.html")
    await Effect.runPromise(writeReport(file, await renderReport(report)))
    const url = pathToFileURL(file).href

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
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
      const context = await browser.newContext()
      const requests: string[] = []
      const problems: string[] = []
      context.on("request", (r) => requests.push(r.url()))
      const page = await context.newPage()
      page.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`)
      })
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`))
      page.on("dialog", (d) => {
        problems.push(`dialog: ${d.message()}`)
        void d.dismiss()
      })
      await page.goto(url, { waitUntil: "load" })
      await page.waitForTimeout(200)

      expect(requests).toEqual([url])

      const svgs = await page.$$eval("figure.chart > svg", (els) =>
        els.map((el) => {
          const r = el.getBoundingClientRect()
          const widths = [...el.querySelectorAll('[aria-roledescription="bar"]')].map(
            (b) => b.getBoundingClientRect().width,
          )
          return { w: r.width, h: r.height, bars: widths.length, narrowest: Math.min(...widths) }
        }),
      )
      expect(svgs).toHaveLength(8)
      for (const s of svgs) {
        expect(s.w).toBeGreaterThan(100)
        expect(s.h).toBeGreaterThan(100)
      }
      expect(svgs[0]?.bars).toBe(2 * LAYERS.length * METHODS.length)
      // Faceted grouped bars keep their width: each panel's categories and colour offsets are its own.
      expect(svgs[0]?.narrowest).toBeGreaterThan(8)
      // Every chart has marks.
      const marks = await page.$$eval("figure.chart > svg", (els) =>
        els.map(
          (el) =>
            el.querySelectorAll(
              '[role="graphics-symbol"][aria-roledescription]:not([aria-roledescription="axis"]):not([aria-roledescription="legend"]):not([aria-roledescription="title"])',
            ).length,
        ),
      )
      for (const m of marks) expect(m).toBeGreaterThan(0)

      // The new marks are drawn: a cell per (layer, method), each roof and point, the front ringed.
      const drawn = async (title: string, selector: string) =>
        page
          .$$eval(`figure.chart[aria-label="${title}"] ${selector}`, (els) =>
            els.filter((el) => {
              const r = el.getBoundingClientRect()
              return r.width > 0 || r.height > 0
            }),
          )
          .then((els) => els.length)
      expect(await drawn("Heat", '[aria-roledescription="rect mark"]')).toBe(LAYERS.length * METHODS.length)
      expect(await drawn("Heat", '[aria-roledescription="text mark"]')).toBe(LAYERS.length * METHODS.length)
      expect(await drawn("Roofline", '[aria-roledescription="line mark"]')).toBe(2)
      expect(await drawn("Roofline", '[aria-roledescription="point"]')).toBe(roofRows.length)
      const front = paretoFront(tradeOff, "cycles", "energyPj").length
      expect(front).toBe(LAYERS.length)
      expect(await drawn("Front", '[aria-roledescription="point"]')).toBe(tradeOff.length + front)
      expect(await drawn("Front", '[aria-roledescription="line mark"]')).toBe(1)
      expect(await drawn("Stacked", '[aria-roledescription="bar"]')).toBe(METHODS.length * 2)
      expect(await page.$eval('figure.chart[aria-label="Front"] figcaption', (el) => el.textContent)).toBe(
        "Normalized: per MAC",
      )

      // The aggregated bars are the sums of their rows, read back from what the browser drew.
      const summed = await page.$$eval(
        'figure.chart[aria-label="Energy per layer, both passes"] [aria-roledescription="bar"]',
        (els) =>
          els.map((el) => ({ label: el.getAttribute("aria-label") ?? "", height: el.getBoundingClientRect().height })),
      )
      expect(summed).toHaveLength(LAYERS.length * METHODS.length)
      const heights = new Map<string, number>()
      for (const bar of summed) {
        const m = /^Layer: (.+); Energy \(µJ\): ([\d.]+); method: ([^;]+);/.exec(bar.label)
        expect(m, bar.label).not.toBeNull()
        const [, layer, shown, method] = m!
        const sum = rows
          .filter((r) => r.layer === layer?.replaceAll("&lt;", "<").replaceAll("&gt;", ">") && r.method === method)
          .reduce((a, r) => a + Number(r.energyPj), 0)
        expect(Number(shown) * 1e6).toBeCloseTo(sum, -2)
        heights.set(`${layer}|${method}`, bar.height)
      }
      // Heights are proportional to the sums: conv2's bar is twice conv1's for each method.
      for (const method of METHODS)
        expect(heights.get(`conv2|${method}`)).toBeCloseTo(2 * (heights.get(`conv1|${method}`) ?? 0), 0)

      const table = await page.$$eval("section table tbody tr", (trs) =>
        trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")),
      )
      expect(table).toHaveLength(rows.length)
      expect(table[0]?.[0]).toBe("conv1")
      expect(await page.$$eval("section table thead th", (ths) => ths.map((th) => th.textContent))).toEqual([
        "layer",
        "method",
        "pass",
        "cycles",
        "energyPj",
        "utilization",
        "note",
      ])
      // The hostile layer name is text, not markup.
      expect(table.some((cells) => cells[0] === "<script>alert(1)</script>")).toBe(true)
      expect(await page.title()).toBe(report.title)

      const embedded = await page.$eval("#spade-data", (el) => el.textContent ?? "")
      expect(JSON.parse(embedded)).toEqual(JSON.parse(JSON.stringify(readReportData(await page.content()))))
      expect((JSON.parse(embedded) as { data: { results: unknown } }).data.results).toEqual(rows)

      expect(problems).toEqual([])
    } finally {
      await browser.close()
    }
  })
})
