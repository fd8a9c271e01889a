import { fc, test } from "@fast-check/vitest"
import { describe, expect, it } from "vitest"
import {
  barChart,
  heatmapChart,
  PARETO_FIELD,
  paretoFront,
  ROOF_FIELD,
  renderSvg,
  rooflineChart,
  scatterChart,
  type Row,
} from "../../src/report/index.ts"
import { count } from "./fixtures.ts"

/** The rows a spec inlines, whether faceted or not. */
const valuesOf = (spec: object): Array<Record<string, unknown>> =>
  (spec as { data: { values: Array<Record<string, unknown>> } }).data.values

/** The Pareto front by its definition: no other row at least as small on both and smaller on one. */
const bruteFront = (rows: ReadonlyArray<{ x: number; y: number }>): number[] =>
  rows
    .map((r, i) => ({ r, i }))
    .filter(({ r }) => !rows.some((s) => s.x <= r.x && s.y <= r.y && (s.x < r.x || s.y < r.y)))
    .map(({ i }) => i)

describe("Pareto front", () => {
  test.prop([fc.array(fc.record({ x: fc.integer({ min: 0, max: 20 }), y: fc.integer({ min: 0, max: 20 }) }))])(
    "is exactly the rows no other row dominates (ties on both kept)",
    (rows) => {
      expect([...paretoFront(rows, "x", "y")].sort((a, b) => a - b)).toEqual(bruteFront(rows))
    },
  )

  it("skips rows without two numbers and orders the front by x", () => {
    const rows: Row[] = [
      { x: 3, y: 1 },
      { x: 1, y: 3 },
      { x: 2, y: 2 },
      { x: 2, y: 3 },
      { x: null, y: 0 },
      { x: 0, y: "fast" },
    ]
    expect(paretoFront(rows, "x", "y")).toEqual([1, 2, 0])
  })

  it("a Pareto scatter marks its front per panel, rings it and joins it with a step line", async () => {
    const rows: Row[] = [
      { cycles: 100, energyPj: 9e6, dataflow: "ws", pass: "forward" },
      { cycles: 200, energyPj: 4e6, dataflow: "os", pass: "forward" },
      { cycles: 300, energyPj: 5e6, dataflow: "ws", pass: "forward" },
      { cycles: 400, energyPj: 1e6, dataflow: "os", pass: "forward" },
      { cycles: 150, energyPj: 2e6, dataflow: "ws", pass: "backward" },
      { cycles: 250, energyPj: 3e6, dataflow: "os", pass: "backward" },
    ]
    const spec = scatterChart({ rows, x: "cycles", y: "energyPj", color: "dataflow", title: "P", pareto: true })
    // One panel: the backward pass's (150, 2 µJ) dominates the forward pass's (200, 4 µJ).
    expect(valuesOf(spec).map((r) => r[PARETO_FIELD])).toEqual([true, false, false, true, true, false])
    const svg = await renderSvg(spec)
    // Every point, then a ring on each of the three front points.
    expect(count(svg, /aria-roledescription="point"/g)).toBe(rows.length + 3)
    expect(count(svg, /aria-roledescription="line mark"/g)).toBe(1)
    // Per panel, it no longer hides the forward pass's front.
    const faceted = scatterChart({ rows, x: "cycles", y: "energyPj", column: "pass", title: "P", pareto: true })
    expect(valuesOf(faceted).map((r) => r[PARETO_FIELD])).toEqual([true, true, false, true, true, false])
    const alone = scatterChart({ rows: rows.slice(0, 4), x: "cycles", y: "energyPj", title: "P", pareto: true })
    expect(valuesOf(alone).map((r) => r[PARETO_FIELD])).toEqual([true, true, false, true])
    // Without the option nothing is added.
    expect(valuesOf(scatterChart({ rows, x: "cycles", y: "energyPj", title: "P" }))[0]).not.toHaveProperty(PARETO_FIELD)
  })
})

describe("heatmap", () => {
  const rows: Row[] = ["fc1", "fc2", "fc3"].flatMap((layer, i) =>
    ["a", "b", "out"].flatMap((tensor, j) =>
      // Two rows per cell, so the mean is what the cell shows.
      [0, 0.2].map((d) => ({ layer, tensor, density: (i * 3 + j) / 10 + d })),
    ),
  )

  it("draws one rect per (x, y) cell coloured by its aggregated value, and prints the value", async () => {
    const spec = heatmapChart({ rows, x: "layer", y: "tensor", value: "density", aggregate: "mean", title: "D" })
    const cells = valuesOf(spec)
    expect(cells).toHaveLength(9)
    expect(cells.find((c) => c.layer === "fc2" && c.tensor === "b")?.density).toBeCloseTo(0.5)
    const svg = await renderSvg(spec)
    expect(count(svg, /aria-roledescription="rect mark"/g)).toBe(9)
    expect(count(svg, /aria-roledescription="text mark"/g)).toBe(9)
    expect(svg).toMatch(/>0\.5<\/text>/)
    // Light text on the dark (low) cells, dark text on the bright ones.
    expect(count(svg, /<text[^>]*fill="white"/g)).toBeGreaterThan(0)
    expect(count(svg, /<text[^>]*fill="black"/g)).toBeGreaterThan(0)
  })

  it("draws an energy in the unit its magnitude fits, in cells and legend", async () => {
    const energy = rows.map((r) => ({ ...r, energyPj: Number(r.density) * 1e7 }))
    const svg = await renderSvg(
      heatmapChart({ rows: energy, x: "layer", y: "tensor", value: "energyPj", aggregate: "sum", title: "E" }),
    )
    expect(svg).toContain("Energy (µJ)")
  })
})

describe("roofline", () => {
  // Two arrays: 1024 MACs/cycle at 64 B/cycle (ridge 16), 256 at 64 (ridge 4).
  const rows: Row[] = ["big", "small"].flatMap((accelerator, a) =>
    [0.5, 8, 64].map((intensity, i) => ({
      accelerator,
      layer: `l${i}`,
      intensity,
      perf: Math.min(a === 0 ? 1024 : 256, 64 * intensity) * 0.8,
      peak: a === 0 ? 1024 : 256,
      bw: 64,
    })),
  )
  const roofline = (more: Partial<Parameters<typeof rooflineChart>[0]> = {}) =>
    rooflineChart({
      rows,
      x: "intensity",
      y: "perf",
      peak: "peak",
      bandwidth: "bw",
      roofBy: "accelerator",
      color: "layer",
      title: "R",
      ...more,
    })

  it("draws each roof as min(peak, bandwidth × intensity), bending at the ridge", async () => {
    const spec = roofline()
    const roofs = valuesOf(spec).filter((r) => r[ROOF_FIELD] !== undefined)
    for (const [name, peak] of [
      ["big", 1024],
      ["small", 256],
    ] as const) {
      const points = roofs.filter((r) => r[ROOF_FIELD] === name)
      expect(points).toHaveLength(3)
      for (const p of points) expect(p.perf).toBeCloseTo(Math.min(peak, 64 * Number(p.intensity)))
      // The ridge itself is a vertex, so the line bends exactly there.
      expect(points.map((p) => p.intensity)).toContain(peak / 64)
      // The roof spans every point drawn.
      expect(Math.min(...points.map((p) => Number(p.intensity)))).toBeLessThan(0.5)
      expect(Math.max(...points.map((p) => Number(p.intensity)))).toBeGreaterThan(64)
    }
    const svg = await renderSvg(spec)
    expect(count(svg, /aria-roledescription="line mark"/g)).toBe(2)
    expect(count(svg, /aria-roledescription="point"/g)).toBe(rows.length)
    expect(svg).toMatch(/>big<\/text>/)
    expect(svg).toMatch(/>small<\/text>/)
  })

  it("gives each panel its own roofs, and leaves out rows that cannot sit on log axes", async () => {
    const spec = roofline({ rows: [...rows, { ...rows[0]!, perf: 0 }], column: "accelerator" })
    const roofs = valuesOf(spec).filter((r) => r[ROOF_FIELD] !== undefined)
    expect(new Set(roofs.map((r) => `${r.accelerator}|${r[ROOF_FIELD]}`))).toEqual(new Set(["big|big", "small|small"]))
    expect(valuesOf(spec).filter((r) => r[ROOF_FIELD] === undefined)).toHaveLength(rows.length)
    const svg = await renderSvg(spec)
    expect(count(svg, /aria-roledescription="line mark"/g)).toBe(2)
  })

  it("tells apart two roofs of one name in a panel (one array at two clocks) by their peaks", () => {
    const twoClocks = rows.map((r) => ({ ...r, accelerator: "one" }))
    const names = new Set(valuesOf(roofline({ rows: twoClocks })).map((r) => r[ROOF_FIELD]))
    expect(names).toEqual(new Set([undefined, "one (1024)", "one (256)"]))
  })
})

describe("stacked bars", () => {
  it("stack the colour groups: one bar per x whose segments sum to the group's total", async () => {
    const rows: Row[] = ["a", "b"].flatMap((accelerator, i) =>
      ["MAC", "SRAM", "DRAM"].map((component, j) => ({ accelerator, component, energyPj: (i + 1) * (j + 1) })),
    )
    const spec = barChart({ rows, x: "accelerator", y: "energyPj", color: "component", stack: true, title: "S" })
    const inner = spec as { encoding: { y: { stack: unknown }; xOffset?: unknown } }
    expect(inner.encoding.y.stack).toBe("zero")
    expect(inner.encoding.xOffset).toBeUndefined()
    const svg = await renderSvg(spec)
    expect(count(svg, /aria-roledescription="bar"/g)).toBe(6)
  })
})
