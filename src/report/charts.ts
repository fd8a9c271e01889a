import type { TopLevelSpec } from "vega-lite"
import { asTopLevelSpec } from "./vega.ts"
import { fieldTitle } from "./fields.ts"
import { summarize, distinct, isNumericField, type Aggregate, type Rows } from "./rows.ts"
import { rescale, titleInUnit } from "./units.ts"

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
}

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

/** Long or many category labels collide when horizontal; tilt them only then. */
const labelAngle = (rows: Rows, field: string): number => {
  const values = distinct(rows, field)
  const longest = Math.max(0, ...values.map((v) => String(v).length))
  return values.length * Math.max(longest, 3) > 60 ? -40 : 0
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

const colorEncoding = (o: CommonOptions, rows: Rows) =>
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

const sizeOf = (o: CommonOptions) => ({
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
  o: CommonOptions,
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
          axis: { labelAngle: labelAngle(rows, o.x) },
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
      axis: { labelAngle: labelAngle(rows, o.x) },
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

/** Points, for trade-offs such as the cycles/energy Pareto front of a mapping search. */
export const scatterChart = (o: ScatterChartOptions): TopLevelSpec => {
  const rows = prepare(o)
  const scale = (s: ScaleType | undefined) =>
    s === undefined || s === "linear" ? { zero: false } : s === "log" ? { type: s } : { type: s, zero: false }
  const qx = quantity(rows, o.x, o.xTitle, o.xScale, undefined)
  const qy = quantity(rows, o.y, o.yTitle, o.yScale, o.yFormat)
  const encoding = {
    x: { field: qx.field, type: "quantitative", title: qx.title, scale: scale(o.xScale), axis: qx.axis },
    y: { field: qy.field, type: "quantitative", title: qy.title, scale: scale(o.yScale), axis: qy.axis },
    ...colorEncoding(o, rows),
    ...(o.shape === undefined
      ? {}
      : { shape: { field: o.shape, type: "nominal", title: fieldTitle(o.shape), sort: order(rows, o.shape) } }),
  }
  return assemble(o, rows, { mark: { type: "point", filled: true, size: 50 }, encoding }, [qx, qy], false)
}
