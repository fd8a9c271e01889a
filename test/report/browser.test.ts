import { Effect } from "effect"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { chromium } from "playwright-core"
import { afterAll, describe, expect, it } from "vitest"
import { barChart, lineChart, readReportData, renderReport, scatterChart, writeReport } from "../../src/report/index.ts"
import { LAYERS, METHODS, resultRows } from "./fixtures.ts"

const CHROMIUM = "/usr/bin/chromium"
const hasChromium = existsSync(CHROMIUM)
const tmp = mkdtempSync(path.join(tmpdir(), "spade-report-browser-"))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

// CI installs Debian's chromium; a developer machine without it skips rather than fails.
const title = hasChromium
  ? "report in a real browser"
  : `report in a real browser (skipped: ${CHROMIUM} is not installed)`
describe.skipIf(!hasChromium)(title, () => {
  it("opens offline: no requests but the file, every chart drawn, table complete, no errors", async () => {
    const rows = resultRows()
    const forward = rows.filter((r) => r.pass === "forward")
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
          return { w: r.width, h: r.height, bars: el.querySelectorAll('[aria-roledescription="bar"]').length }
        }),
      )
      expect(svgs).toHaveLength(3)
      for (const s of svgs) {
        expect(s.w).toBeGreaterThan(100)
        expect(s.h).toBeGreaterThan(100)
      }
      expect(svgs[0]?.bars).toBe(2 * LAYERS.length * METHODS.length)

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
