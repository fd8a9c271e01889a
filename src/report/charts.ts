import type { TopLevelSpec } from "vega-lite"
import { asTopLevelSpec } from "./vega.ts"
import { fieldTitle } from "./fields.ts"
import { summarize, distinct, isNumericField, paretoFront, type Aggregate, type Row, type Rows } from "./rows.ts"
import { fieldUnit, rescale, titleInUnit } from "./units.ts"

/**
 * Chart builders: each one is a query over tidy rows that returns a Vega-Lite spec with the rows
 * inlined (so a report is reproducible from the HTML alone). Builders only describe the chart;
 * `renderSvg` turns the spec into SVG.
 */

export type ScaleType = "linear" | "log" | "sqrt"

interface CommonOptions {
  readonly rows: Rows
  readonly x: string
  readonly y: string
  /** Series / group field, drawn as colour. */
  readonly color?: string | undefined
  /** Small multiples: one panel per value of this field. */
  readonly column?: string | undefined
  readonly title: string
  readonly subtitle?: string | undefined
  readonly xTitle?: string | undefined
  readonly yTitle?: string | undefined
  readonly colorTitle?: string | undefined
  readonly yScale?: ScaleType | undefined
  /** d3-format specifier for y axis labels, e.g. ".2~f" or "~s". */
  readonly yFormat?: string | undefined
  /** Reduce rows sharing (x, color, column) before plotting, e.g. mean over seeds. */
  readonly aggregate?: Aggregate | undefined
  /** Plot size in px; per panel when `column` is set. */
  readonly width?: number | undefined
  readonly height?: number | undefined
}

export interface LineChartOptions extends CommonOptions {
  /** Draw a dot at every data point; on by default because result sweeps are sparse. */
  readonly points?: boolean | undefined
  /** Dash pattern per value of this field, e.g. accelerator beside colour = method. */
  readonly strokeDash?: string | undefined
  readonly xScale?: ScaleType | undefined
}

export interface BarChartOptions extends CommonOptions {
  /** Stack the colour groups instead of placing them side by side (e.g. energy by component). */
  readonly stack?: boolean | undefined
  /** Draw a horizontal reference line, e.g. 1 for speedups over a dense baseline. */
  readonly baseline?: number | undefined
}

export interface ScatterChartOptions extends CommonOptions {
  readonly shape?: string | undefined
  readonly xScale?: ScaleType | undefined
  /**
   * Draw the Pareto front (smaller x and smaller y both better) of each panel: its points ringed
   * and joined by a step line. Rows gain a boolean `pareto` field saying which are on it.
   */
  readonly pareto?: boolean | undefined
}

/** A plot's size in px, or per category step (`{ step: 24 }`) for a grid of cells. */
type Size = number | { readonly step: number }

const FONT = "Helvetica, Arial, sans-serif"
const DEFAULT_WIDTH = 480
const DEFAULT_PANEL_WIDTH = 220
const DEFAULT_HEIGHT = 260

/** One look for every chart; fonts are system fonts because a report may fetch nothing. */
export const spadeTheme = {
  font: FONT,
  background: "white",
  padding: 8,
  title: { fontSize: 15, fontWeight: 600, anchor: "start", subtitleFontSize: 12, subtitleColor: "#555", offset: 10 },
  axis: {
    labelFontSize: 11,
    titleFontSize: 12,
    titleFontWeight: 500,
    gridColor: "#e6e6e6",
    domainColor: "#888",
    tickColor: "#888",
  },
  legend: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 500, labelLimit: 220 },
  header: { labelFontSize: 12, titleFontSize: 12 },
  range: { category: { scheme: "tableau10" } },
  view: { stroke: null },
  line: { strokeWidth: 2 },
} as const

const titleOf = (title: string, subtitle: string | undefined) =>
  subtitle === undefined ? { text: title } : { text: title, subtitle }

/**
 * Long or many category labels collide when horizontal; tilt them only then. A category's room is
 * its share of the plot's width (a facet panel's is narrower), at about 6.5 px per character.
 */
const labelAngle = (rows: Rows, field: string, width: Size): number => {
  const values = distinct(rows, field)
  const longest = Math.max(3, ...values.map((v) => String(v).length))
  const room = typeof width === "number" ? width / Math.max(1, values.length) : width.step
  return longest * 6.5 > room ? -40 : 0
}

const prepare = (o: CommonOptions): Rows => {
  if (o.aggregate === undefined) return o.rows
  const by = [o.x, o.color, o.column].filter((f): f is string => f !== undefined)
  const extra = "strokeDash" in o && typeof o.strokeDash === "string" ? [o.strokeDash] : []
  const shape = "shape" in o && typeof o.shape === "string" ? [o.shape] : []
  return summarize({ by: [...new Set([...by, ...extra, ...shape])], measures: { [o.y]: o.aggregate } })(o.rows)
}

/** Log axes label every 1..9 multiple by default, which collides; SI labels at few ticks read better. */
const axisOf = (scale: ScaleType | undefined, format: string | undefined) => ({
  ...(scale === "log" ? { tickCount: 5, format: "~s" } : {}),
  ...(format === undefined ? {} : { format }),
})

const yScaleOf = (scale: ScaleType | undefined) =>
  scale === undefined || scale === "linear"
    ? { zero: true }
    : scale === "log"
      ? { type: scale }
      : { type: scale, zero: false }

/**
 * Categories keep the order the rows give them (layer order, method order as configured).
 * An explicit list, because `sort: null` is ignored by facet headers.
 */
const order = (rows: Rows, field: string): Array<string | number | boolean> =>
  distinct(rows, field).filter((v): v is string | number | boolean => v !== null && v !== undefined)

const colorEncoding = (
  o: { readonly color?: string | undefined; readonly colorTitle?: string | undefined },
  rows: Rows,
) =>
  o.color === undefined
    ? {}
    : {
        color: {
          field: o.color,
          type: "nominal" as const,
          title: o.colorTitle ?? fieldTitle(o.color),
          sort: order(rows, o.color),
        },
      }

/** What `assemble` needs of a chart's options: its titles, facet and size. */
interface Frame {
  readonly title: string
  readonly subtitle?: string | undefined
  readonly column?: string | undefined
  readonly width?: Size | undefined
  readonly height?: Size | undefined
}

const sizeOf = (o: Frame) => ({
  width: o.width ?? (o.column === undefined ? DEFAULT_WIDTH : DEFAULT_PANEL_WIDTH),
  height: o.height ?? DEFAULT_HEIGHT,
})

/**
 * A unit or layer spec wrapped in a column facet when asked; data always sits at the top, with the
 * transforms that derive fields drawn in another unit. A nominal x gets its own domain per panel:
 * shared categories would leave every panel with empty slots for the others' layers. A
 * quantitative x (epochs, cycles) stays shared, so panels read against one another.
 */
const assemble = (
  o: Frame,
  rows: Rows,
  inner: Record<string, unknown>,
  derived: ReadonlyArray<Quantity>,
  xNominal: boolean,
): TopLevelSpec => {
  const transform = derived.flatMap((d) => d.transform)
  const top = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: titleOf(o.title, o.subtitle),
    config: spadeTheme,
    data: { values: rows.map((r) => ({ ...r })) },
    ...(transform.length === 0 ? {} : { transform }),
  }
  const sized = { ...sizeOf(o), ...inner }
  const spec =
    o.column === undefined
      ? { ...top, ...sized }
      : {
          ...top,
          facet: {
            column: { field: o.column, type: "nominal", title: fieldTitle(o.column), sort: order(rows, o.column) },
          },
          spec: sized,
          resolve: {
            scale: xNominal ? { x: "independent", xOffset: "independent", y: "shared" } : { x: "shared", y: "shared" },
          },
        }
  return asTopLevelSpec(spec)
}

/** A quantitative field as drawn: in the unit its magnitude fits, titled with that unit. */
interface Quantity {
  readonly field: string
  readonly title: string
  readonly transform: ReadonlyArray<{ readonly calculate: string; readonly as: string }>
  /** Axis properties: integer ticks for counts, and the scale's label format. */
  readonly axis: Record<string, unknown>
}

const isIntegerField = (rows: Rows, field: string): boolean =>
  isNumericField(rows, field) && rows.every((r) => typeof r[field] !== "number" || Number.isInteger(r[field]))

/**
 * Epochs, cycles and MAC counts are whole numbers, and an axis that labels 1.2 epochs suggests a
 * measurement that never happened; their ticks fall on integers.
 */
const quantity = (
  rows: Rows,
  field: string,
  title: string | undefined,
  scale: ScaleType | undefined,
  format: string | undefined,
): Quantity => {
  const scaled = rescale(rows, field)
  const integer = scaled === undefined && isIntegerField(rows, field) && scale !== "log"
  return {
    field: scaled?.field ?? field,
    title: scaled === undefined ? (title ?? fieldTitle(field)) : titleInUnit(title ?? fieldTitle(field), scaled.unit),
    transform: scaled?.transform ?? [],
    axis: {
      ...axisOf(scale, format),
      // SI prefixes on a unit-scaled log axis would read "100m µJ".
      ...(scaled !== undefined && scale === "log" && format === undefined ? { format: "~g" } : {}),
      ...(integer ? { tickMinStep: 1 } : {}),
    },
  }
}

const xType = (rows: Rows, field: string) => (isNumericField(rows, field) ? "quantitative" : "nominal")

export const lineChart = (o: LineChartOptions): TopLevelSpec => {
  const rows = prepare(o)
  const xt = xType(rows, o.x)
  const qx = quantity(rows, o.x, o.xTitle, o.xScale, undefined)
  const qy = quantity(rows, o.y, o.yTitle, o.yScale, o.yFormat)
  const x =
    xt === "quantitative"
      ? {
          field: qx.field,
          type: xt,
          title: qx.title,
          scale: o.xScale === undefined || o.xScale === "linear" ? { zero: false } : { type: o.xScale },
          axis: qx.axis,
        }
      : {
          field: o.x,
          type: xt,
          title: o.xTitle ?? fieldTitle(o.x),
          sort: order(rows, o.x),
          axis: { labelAngle: labelAngle(rows, o.x, sizeOf(o).width) },
        }
  const encoding = {
    x,
    y: { field: qy.field, type: "quantitative", title: qy.title, scale: yScaleOf(o.yScale), axis: qy.axis },
    ...colorEncoding(o, rows),
    ...(o.strokeDash === undefined
      ? {}
      : {
          strokeDash: {
            field: o.strokeDash,
            type: "nominal",
            title: fieldTitle(o.strokeDash),
            sort: order(rows, o.strokeDash),
          },
        }),
  }
  const derived = xt === "quantitative" ? [qx, qy] : [qy]
  return assemble(o, rows, { mark: { type: "line", point: o.points ?? true }, encoding }, derived, xt === "nominal")
}

export const barChart = (o: BarChartOptions): TopLevelSpec => {
  const rows = prepare(o)
  const grouped = o.color !== undefined && o.stack !== true
  const qy = quantity(rows, o.y, o.yTitle, o.yScale, o.yFormat)
  const encoding = {
    x: {
      field: o.x,
      type: "nominal",
      title: o.xTitle ?? fieldTitle(o.x),
      sort: order(rows, o.x),
      axis: { labelAngle: labelAngle(rows, o.x, sizeOf(o).width) },
    },
    y: {
      field: qy.field,
      type: "quantitative",
      title: qy.title,
      scale: yScaleOf(o.yScale),
      axis: qy.axis,
      // vega-lite stacks bars sharing an x by default; side-by-side groups must opt out.
      stack: o.stack === true ? "zero" : null,
    },
    ...colorEncoding(o, rows),
    ...(grouped && o.color !== undefined
      ? { xOffset: { field: o.color, type: "nominal", sort: order(rows, o.color) } }
      : {}),
  }
  const bars = { mark: { type: "bar" }, encoding }
  const inner =
    o.baseline === undefined
      ? bars
      : {
          layer: [
            bars,
            {
              mark: { type: "rule", color: "#333", strokeDash: [4, 3] },
              encoding: { y: { datum: o.baseline, type: "quantitative" } },
            },
          ],
        }
  return assemble(o, rows, inner, [qy], true)
}

/** The field a Pareto scatter adds to its rows: whether the row is on its panel's front. */
export const PARETO_FIELD = "pareto"

/** Rows marked with whether each is on the Pareto front of its panel (all rows, without panels). */
const markPareto = (rows: Rows, x: string, y: string, column: string | undefined): Row[] => {
  const onFront = new Set<Row>()
  const panels = column === undefined ? [rows] : distinct(rows, column).map((v) => rows.filter((r) => r[column] === v))
  for (const panel of panels) for (const i of paretoFront(panel, x, y)) onFront.add(panel[i]!)
  return rows.map((r) => ({ ...r, [PARETO_FIELD]: onFront.has(r) }))
}

/** Points, for trade-offs such as the cycles/energy Pareto front of a mapping search. */
export const scatterChart = (o: ScatterChartOptions): TopLevelSpec => {
  const prepared = prepare(o)
  const rows = o.pareto === true ? markPareto(prepared, o.x, o.y, o.column) : prepared
  const scale = (s: ScaleType | undefined) =>
    s === undefined || s === "linear" ? { zero: false } : s === "log" ? { type: s } : { type: s, zero: false }
  const qx = quantity(rows, o.x, o.xTitle, o.xScale, undefined)
  const qy = quantity(rows, o.y, o.yTitle, o.yScale, o.yFormat)
  const position = {
    x: { field: qx.field, type: "quantitative", title: qx.title, scale: scale(o.xScale), axis: qx.axis },
    y: { field: qy.field, type: "quantitative", title: qy.title, scale: scale(o.yScale), axis: qy.axis },
  }
  const encoding = {
    ...position,
    ...colorEncoding(o, rows),
    ...(o.shape === undefined
      ? {}
      : { shape: { field: o.shape, type: "nominal", title: fieldTitle(o.shape), sort: order(rows, o.shape) } }),
  }
  const points = { mark: { type: "point", filled: true, size: 50 }, encoding }
  if (o.pareto !== true) return assemble(o, rows, points, [qx, qy], false)
  const onFront = [{ filter: `datum[${JSON.stringify(PARETO_FIELD)}] === true` }]
  const inner = {
    layer: [
      points,
      {
        transform: onFront,
        mark: { type: "line", interpolate: "step-after", color: "#333", strokeWidth: 1.5 },
        encoding: { ...position, order: { field: qx.field, type: "quantitative" } },
      },
      {
        transform: onFront,
        mark: { type: "point", filled: false, size: 140, color: "#111", strokeWidth: 1.5 },
        encoding: position,
      },
    ],
  }
  return assemble(o, rows, inner, [qx, qy], false)
}

export interface HeatmapChartOptions {
  readonly rows: Rows
  /** Categories along x and y. */
  readonly x: string
  readonly y: string
  /** The number each cell shows as its colour. */
  readonly value: string
  readonly column?: string | undefined
  readonly title: string
  readonly subtitle?: string | undefined
  readonly xTitle?: string | undefined
  readonly yTitle?: string | undefined
  readonly valueTitle?: string | undefined
  /** Reduce rows sharing a cell (x, y, column) into its value. */
  readonly aggregate?: Aggregate | undefined
  readonly width?: number | undefined
  readonly height?: number | undefined
}

/**
 * A grid of cells coloured by a number, e.g. operand density per layer and tensor. Each cell also
 * prints its value, since a colour alone cannot be read to two digits.
 */
export const heatmapChart = (o: HeatmapChartOptions): TopLevelSpec => {
  const by = [...new Set([o.x, o.y, ...(o.column === undefined ? [] : [o.column])])]
  const rows = o.aggregate === undefined ? o.rows : summarize({ by, measures: { [o.value]: o.aggregate } })(o.rows)
  const q = quantity(rows, o.value, o.valueTitle, undefined, undefined)
  const category = (field: string, title: string | undefined) => ({
    field,
    type: "nominal",
    title: title ?? fieldTitle(field),
    sort: order(rows, field),
  })
  const values = rows.map((r) => r[o.value]).filter((v): v is number => typeof v === "number")
  const low = Math.min(...values)
  const high = Math.max(...values)
  // Scaling to the drawn unit divides by a positive power of ten: the midpoint test is unit-free.
  const scaledMid = rescaledMid(rows, o.value, q.field, (low + high) / 2)
  const position = {
    x: { ...category(o.x, o.xTitle), axis: { labelAngle: labelAngle(rows, o.x, o.width ?? { step: 44 }) } },
    y: category(o.y, o.yTitle),
  }
  const inner = {
    layer: [
      {
        mark: { type: "rect" },
        encoding: {
          ...position,
          color: { field: q.field, type: "quantitative", title: q.title, scale: { scheme: "viridis" } },
        },
      },
      {
        mark: { type: "text", fontSize: 10 },
        encoding: {
          ...position,
          text: { field: q.field, type: "quantitative", format: ".3~g" },
          // viridis is dark at the low end: light text there, dark text on the bright cells.
          color: {
            condition: { test: `datum[${JSON.stringify(q.field)}] < ${scaledMid}`, value: "white" },
            value: "black",
          },
        },
      },
    ],
  }
  // Panels share x: a cell sits at the same place in every panel, so panels read against one another.
  return assemble({ ...o, width: o.width ?? { step: 44 }, height: o.height ?? { step: 24 } }, rows, inner, [q], false)
}

/** The midpoint in the unit drawn: the value field's own, or the rescaled copy's. */
const rescaledMid = (rows: Rows, field: string, drawn: string, mid: number): number => {
  if (drawn === field) return mid
  const scaled = rescale(rows, field)
  return scaled === undefined ? mid : (mid * fieldUnitSize(field)) / scaled.unit.size
}

const fieldUnitSize = (field: string): number => fieldUnit(field)?.size ?? 1

export interface RooflineChartOptions
  extends Pick<
    CommonOptions,
    "rows" | "color" | "column" | "title" | "subtitle" | "xTitle" | "yTitle" | "colorTitle" | "width" | "height"
  > {
  /** Operational intensity, e.g. MACs per DRAM byte. */
  readonly x: string
  /** Performance, e.g. GMAC/s or MACs per cycle. */
  readonly y: string
  /** Per-row ceilings in y's unit: the peak, and the bandwidth in y per unit of x. */
  readonly peak: string
  readonly bandwidth: string
  /** The field naming whose ceilings a row has (e.g. accelerator): one roof per value. */
  readonly roofBy: string
}

/** The field a roofline adds to its ceiling rows: the roof they draw. */
export const ROOF_FIELD = "roof"

/**
 * A roofline: a point per row at (intensity, performance) on log-log axes, under each roof's
 * ceilings, min(peak, bandwidth × intensity), drawn as a line from the bandwidth slope through the
 * ridge to the flat peak. The roof rows join the data (marked by `roof`), so panels keep their own.
 */
export const rooflineChart = (o: RooflineChartOptions): TopLevelSpec => {
  const positive = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v > 0
  const points = o.rows.filter((r) => positive(r[o.x]) && positive(r[o.y]))
  const roofs = new Map<string, { label: string; peak: number; bandwidth: number; panel: Row[keyof Row] }>()
  for (const r of points) {
    const peak = r[o.peak]
    const bandwidth = r[o.bandwidth]
    if (!positive(peak) || !positive(bandwidth)) continue
    const panel = o.column === undefined ? null : r[o.column]
    const key = JSON.stringify([panel, r[o.roofBy], peak, bandwidth])
    if (!roofs.has(key)) roofs.set(key, { label: String(r[o.roofBy]), peak, bandwidth, panel })
  }
  // Clashing labels (one accelerator at two clocks in a panel) are told apart by their peaks.
  const labels = [...roofs.values()]
  const roofName = (r: (typeof labels)[number]) =>
    labels.filter((s) => s.label === r.label && s.panel === r.panel).length > 1 ? `${r.label} (${r.peak})` : r.label
  const xs = [...points.map((r) => r[o.x] as number), ...labels.map((r) => r.peak / r.bandwidth)]
  const lo = Math.min(...xs) / 2
  const hi = Math.max(...xs) * 2
  const roofRows: Row[] = labels.flatMap((r) => {
    const ridge = r.peak / r.bandwidth
    const at = (x: number): Row => ({
      [o.x]: x,
      [o.y]: Math.min(r.peak, r.bandwidth * x),
      [ROOF_FIELD]: roofName(r),
      ...(o.column === undefined ? {} : { [o.column]: r.panel }),
    })
    return [at(lo), ...(ridge > lo && ridge < hi ? [at(ridge)] : []), at(hi)]
  })
  const rows = [...points, ...roofRows]
  const roofField = JSON.stringify(ROOF_FIELD)
  const position = {
    x: {
      field: o.x,
      type: "quantitative",
      title: o.xTitle ?? fieldTitle(o.x),
      scale: { type: "log" },
      axis: axisOf("log", undefined),
    },
    y: {
      field: o.y,
      type: "quantitative",
      title: o.yTitle ?? fieldTitle(o.y),
      scale: { type: "log" },
      axis: axisOf("log", undefined),
    },
  }
  const inner = {
    layer: [
      {
        transform: [{ filter: `datum[${roofField}] != null` }],
        mark: { type: "line", color: "#555", strokeWidth: 1.5 },
        encoding: {
          ...position,
          detail: { field: ROOF_FIELD, type: "nominal" },
          order: { field: o.x, type: "quantitative" },
        },
      },
      {
        // Each roof's name at its right end, on its peak.
        transform: [{ filter: `datum[${roofField}] != null && datum[${JSON.stringify(o.x)}] === ${hi}` }],
        mark: { type: "text", align: "right", baseline: "bottom", dy: -3, fontSize: 10, color: "#333" },
        encoding: { ...position, text: { field: ROOF_FIELD, type: "nominal" } },
      },
      {
        transform: [{ filter: `datum[${roofField}] == null` }],
        mark: { type: "point", filled: true, size: 50 },
        encoding: { ...position, ...colorEncoding(o, points) },
      },
    ],
  }
  return assemble(o, rows, inner, [], false)
}
