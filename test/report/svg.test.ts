import { describe, expect, it } from "vitest"
import { barChart, lineChart, renderSvg, ReportError, scatterChart, summarize } from "../../src/report/index.ts"
import type { TopLevelSpec } from "vega-lite"
import { count, LAYERS, METHODS, resultRows } from "./fixtures.ts"

const forward = resultRows().filter((r) => r.pass === "forward")
const BAR = /aria-roledescription="bar"/g

describe("renderSvg", () => {
  it("draws one bar per (layer, method) in a grouped bar chart", async () => {
    const svg = await renderSvg(barChart({ rows: forward, x: "layer", y: "cycles", color: "method", title: "Cycles" }))
    expect(svg.startsWith("<svg")).toBe(true)
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true)
    expect(count(svg, BAR)).toBe(LAYERS.length * METHODS.length)
    expect(svg).toContain(">Cycles</text>")
  })

  it("aggregates with arquero before drawing", async () => {
    const all = resultRows()
    const spec = barChart({
      rows: all,
      x: "layer",
      y: "cycles",
      color: "method",
      title: "Total cycles",
      aggregate: "sum",
    })
    const svg = await renderSvg(spec)
    expect(count(svg, BAR)).toBe(LAYERS.length * METHODS.length)
    const totals = summarize({ by: ["layer", "method"], measures: { cycles: "sum" } })(all)
    expect(totals).toHaveLength(LAYERS.length * METHODS.length)
    expect(totals[0]).toEqual({ layer: "conv1", method: "dense", cycles: 2000 + 2300 })
  })

  it("draws one panel per facet value and a baseline rule in each", async () => {
    const spec = barChart({
      rows: resultRows(),
      x: "layer",
      y: "utilization",
      color: "method",
      column: "pass",
      title: "Util",
      baseline: 0.5,
    })
    const svg = await renderSvg(spec)
    expect(count(svg, BAR)).toBe(2 * LAYERS.length * METHODS.length)
    expect(count(svg, /class="mark-rule role-mark/g)).toBe(2)
    // Facets keep the rows' order, not alphabetical order.
    expect(svg.indexOf(">forward</text>")).toBeLessThan(svg.indexOf(">backward-data</text>"))
  })

  it("draws one line per series, and points", async () => {
    const spec = lineChart({
      rows: forward,
      x: "layer",
      y: "energyPj",
      color: "method",
      title: "Energy",
      yScale: "log",
    })
    const svg = await renderSvg(spec)
    expect(count(svg, /aria-roledescription="line mark"/g)).toBe(METHODS.length)
    expect(count(svg, /aria-roledescription="point"/g)).toBe(forward.length)
    // 1.5e6 pJ and up: drawn in µJ, and the axis says so.
    expect(svg).toContain("Energy (µJ)")
    expect(svg).not.toContain("Energy (pJ)")
  })

  it("renders scatter charts", async () => {
    const svg = await renderSvg(
      scatterChart({ rows: forward, x: "cycles", y: "energyPj", color: "method", title: "Pareto" }),
    )
    expect(count(svg, /aria-roledescription="point"/g)).toBe(forward.length)
  })

  it("is deterministic, also when renders overlap", async () => {
    const specs = [
      barChart({ rows: forward, x: "layer", y: "cycles", color: "method", title: "A" }),
      lineChart({ rows: forward, x: "layer", y: "cycles", color: "method", title: "B" }),
    ]
    const once = await Promise.all(specs.map(renderSvg))
    const again = await Promise.all([...specs].reverse().map(renderSvg))
    expect(again.reverse()).toEqual(once)
  })

  it("gives each chart its own clip-path ids, so inline SVGs cannot clip each other", async () => {
    const clipped = (y: string): TopLevelSpec => ({
      data: { values: forward.map((r) => ({ ...r })) },
      mark: { type: "line", clip: true },
      encoding: {
        x: { field: "cycles", type: "quantitative", scale: { domain: [0, 3000] } },
        y: { field: y, type: "quantitative" },
      },
    })
    const a = await renderSvg(clipped("energyPj"))
    const b = await renderSvg(clipped("utilization"))
    const ids = (svg: string) => [...svg.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1])
    expect(ids(a).length).toBeGreaterThan(0)
    expect(ids(a).filter((id) => ids(b).includes(id))).toEqual([])
    for (const id of ids(a)) expect(a).toContain(`url(#${id})`)
  })

  it("refuses to load data from anywhere", async () => {
    const spec: TopLevelSpec = {
      data: { url: "https://example.com/rows.json" },
      mark: "bar",
      encoding: { x: { field: "a", type: "nominal" } },
    }
    const err = await renderSvg(spec).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ReportError)
    expect(String((err as ReportError).message)).toMatch(/offline|refus/)
  })

  it("refuses charts that would make the browser fetch an image", async () => {
    const spec: TopLevelSpec = {
      data: { values: [{ u: "https://example.com/x.png" }] },
      mark: { type: "image", width: 10, height: 10 },
      encoding: { url: { field: "u", type: "nominal" } },
    }
    await expect(renderSvg(spec)).rejects.toBeInstanceOf(ReportError)
  })
})
