import { Effect } from "effect"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import {
  barChart,
  escapeHtml,
  fieldTitle,
  formatNumber,
  readReportData,
  renderReport,
  ReportError,
  saveReport,
  writeReport,
} from "../../src/report/index.ts"
import { count, resultRows } from "./fixtures.ts"

const EVIL = "<script>alert(1)</script>"
const tmp = mkdtempSync(path.join(tmpdir(), "spade-report-"))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

const evilReport = () => {
  const rows = resultRows()
  return {
    title: `Report ${EVIL}`,
    subtitle: `"quoted" & <b>bold</b>`,
    meta: { [EVIL]: EVIL, seed: 42 },
    sections: [
      {
        heading: EVIL,
        text: `first ${EVIL}\n\nsecond`,
        charts: [
          {
            spec: barChart({ rows, x: "layer", y: "cycles", color: "method", title: EVIL, aggregate: "sum" }),
            caption: EVIL,
          },
        ],
        table: {
          rows,
          columns: [
            { field: "layer", title: EVIL },
            { field: "cycles" },
            { field: "energyPj", title: "Energy (pJ)" },
            { field: "note" },
          ],
        },
      },
    ],
    data: { results: rows, tricky: [{ s: "</script><script>alert(2)</script>", t: "<!-- -->", u: "\u2028&amp;" }] },
  }
}

describe("renderReport", () => {
  it("escapes every piece of user text, so layer names cannot inject markup", async () => {
    const html = await renderReport(evilReport())
    expect(html).not.toContain(EVIL)
    expect(html).not.toContain("<b>bold</b>")
    expect(html).not.toMatch(/<script>alert/i)
    // The only script element is the inert JSON block.
    expect(count(html, /<script\b/gi)).toBe(1)
    expect(html).toContain('<script type="application/json" id="spade-data">')
    expect(count(html, /<\/script/gi)).toBe(1)
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;")
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
  })

  it("embeds the rows as JSON that round-trips", async () => {
    const report = evilReport()
    const html = await renderReport(report)
    const data = readReportData(html)
    expect(data.format).toBe("spade-report-data")
    expect(data.title).toBe(report.title)
    expect(data.meta).toEqual(report.meta)
    expect(data.data).toEqual(report.data)
    expect(data.sections[0]?.table).toEqual(report.sections[0]?.table.rows)
    const chartRows = data.sections[0]?.charts[0]?.rows ?? []
    expect(chartRows).toHaveLength(12)
    expect(chartRows[0]).toEqual({ layer: "conv1", method: "dense", cycles: 4300 })
    // Also via the DOM-free route a user would take with any JSON tool.
    const body = /<script type="application\/json" id="spade-data">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? ""
    expect(JSON.parse(body)).toEqual(data)
  })

  it("formats and right-aligns numbers in tables", async () => {
    const html = await renderReport(evilReport())
    expect(html).toContain('<th scope="col" class="num">cycles</th>')
    expect(html).toContain('<td class="num" title="2000">2,000</td>')
    expect(html).toContain('<td class="num" title="1500000.25">1,500,000</td>')
    expect(html).toContain("<td>—</td>")
    expect(count(html, /<tbody>[\s\S]*?<\/tbody>/g)).toBe(1)
    expect(count(html, /<tr>/g)).toBe(1 + resultRows().length)
    expect(formatNumber(1234567)).toBe("1,234,567")
    expect(formatNumber(0.5625)).toBe("0.5625")
    expect(formatNumber(1.75)).toBe("1.75")
    expect(formatNumber(3.2e-7)).toBe("3.2e-7")
    expect(formatNumber(2.5e12)).toBe("2,500,000,000,000")
    expect(formatNumber(2.5e18)).toBe("2.5e+18")
    expect(formatNumber(1.5e9 + 0.5)).toBe("1.5e+9")
    expect(formatNumber(Number.POSITIVE_INFINITY)).toBe("∞")
  })

  it("makes no requests of any kind in its markup", async () => {
    const html = await renderReport(evilReport())
    expect(html).not.toMatch(/<(img|link rel="stylesheet"|iframe|object|embed)\b/i)
    expect(html).not.toMatch(/\ssrc=/i)
    expect(html).not.toMatch(/@import|url\((?!#)/i)
    expect(html).toContain("default-src 'none'")
  })

  it("is deterministic", async () => {
    expect(await renderReport(evilReport())).toBe(await renderReport(evilReport()))
  })

  it("titles axes with the units in field names", () => {
    expect(fieldTitle("energyPj")).toBe("Energy (pJ)")
    expect(fieldTitle("dramBytes")).toBe("DRAM (bytes)")
    expect(fieldTitle("clockGhz")).toBe("Clock (GHz)")
    expect(fieldTitle("stallCycles")).toBe("Stall (cycles)")
    expect(fieldTitle("macsIssued")).toBe("MACs issued")
    expect(fieldTitle("utilization")).toBe("Utilization")
  })
})

describe("writeReport", () => {
  it("creates parent folders and writes the file", async () => {
    const file = path.join(tmp, "a", "b", "report.html")
    await Effect.runPromise(writeReport(file, "<!DOCTYPE html><p>x</p>"))
    expect(readFileSync(file, "utf8")).toBe("<!DOCTYPE html><p>x</p>")
    await Effect.runPromise(saveReport(path.join(tmp, "c", "r.html"), { title: "t", sections: [] }))
    expect(readReportData(readFileSync(path.join(tmp, "c", "r.html"), "utf8")).title).toBe("t")
  })

  it("fails with ReportError when the path cannot be written", async () => {
    const blocker = path.join(tmp, "blocker")
    writeFileSync(blocker, "")
    const error = await Effect.runPromise(Effect.flip(writeReport(path.join(blocker, "r.html"), "")))
    expect(error).toBeInstanceOf(ReportError)
    expect(error.message).toContain(path.join(blocker, "r.html"))
  })
})
