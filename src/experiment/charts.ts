import { Data, Effect, Either } from "effect"
import type { TopLevelSpec } from "vega-lite"
import {
  barChart,
  crowdedGroup,
  heatmapChart,
  isNumericField,
  lineChart,
  rooflineChart,
  scatterChart,
  type Rows,
} from "../report/index.ts"
import type { ChartSpec, ExperimentSpec, TableName } from "./spec.ts"
import { TABLES, tableColumns } from "./tables.ts"

/**
 * A declared chart that would draw something false or nothing at all: a field its table does not
 * have, several rows drawn at one place without an aggregate, a filter that keeps no rows. Printed
 * as one `spade:` line naming the experiment, the chart and the field path.
 */
export class ChartSpecError extends Data.TaggedError("ChartSpecError")<{
  readonly experiment: string
  /** Field path in the spec, e.g. `charts[2].y`. */
  readonly path: string
  readonly chart: string
  readonly reason: string
}> {
  readonly userFacing = true as const

  override get message(): string {
    return `experiment ${this.experiment} at ${this.path} (chart ${JSON.stringify(this.chart)}): ${this.reason}`
  }
}

const quoted = (xs: ReadonlyArray<unknown>): string => xs.map((x) => JSON.stringify(x)).join(", ")

/** Edit distance, for "did you mean": a misspelt field is usually one or two keys away. */
const distance = (a: string, b: string): number => {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0
    prev[0] = i
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] ?? 0
      prev[j] = Math.min(
        up + 1,
        (prev[j - 1] ?? 0) + 1,
        diag + (a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1),
      )
      diag = up
    }
  }
  return prev[b.length] ?? 0
}

const suggestion = (value: string, columns: ReadonlyArray<string>): string => {
  const best = [...columns]
    .map((c) => ({ c, d: distance(value, c) }))
    .sort((p, q) => p.d - q.d)
    .find((p) => p.d <= Math.max(2, Math.floor(value.length / 3)))
  return best === undefined ? "" : `did you mean ${JSON.stringify(best.c)}? `
}

/** The fields a chart reads, with their paths in the spec. */
const fieldsOf = (c: ChartSpec, i: number): Array<readonly [path: string, field: string]> => [
  [`charts[${i}].x`, c.x],
  [`charts[${i}].y`, c.y],
  ...(c.color === undefined ? [] : [[`charts[${i}].color`, c.color] as const]),
  ...(c.column === undefined ? [] : [[`charts[${i}].column`, c.column] as const]),
  ...Object.keys(c.where ?? {}).map((k) => [`charts[${i}].where.${k}`, k] as const),
]

/** Drawing options that only some marks take. */
const MARK_OPTIONS = ["aggregate", "yScale", "stack", "baseline", "pareto"] as const
type MarkOption = (typeof MARK_OPTIONS)[number]

/** A roofline's y and the roofline table's ceiling columns in its unit. */
export const ROOFLINE_Y: Readonly<Record<string, { readonly peak: string; readonly bandwidth: string }>> = {
  gmacPerSecond: { peak: "peakGmacPerSecond", bandwidth: "dramGBPerSecond" },
  macsPerCycle: { peak: "peakMacsPerCycle", bandwidth: "dramBytesPerCycle" },
}
const ROOFLINE_X = "macsPerDramByte"

/** A mark's problem with a chart: the field path below `charts[i]` and why. */
type Issue = readonly [path: string, reason: string]

/** What each mark draws, what it needs, and how it is built; the only place a mark's kind matters. */
interface MarkKind {
  /** One of its marks, in an error: "bar", "cell". */
  readonly noun: string
  readonly options: ReadonlyArray<MarkOption>
  /** The field `aggregate` reduces. */
  readonly value: (c: ChartSpec) => string
  /** The fields drawn as numbers, whose magnitudes a reader compares. */
  readonly measures: (c: ChartSpec) => ReadonlyArray<string>
  /** Fields that place one mark: rows sharing them need an aggregate. Null where marks may overlap. */
  readonly places: ((c: ChartSpec) => ReadonlyArray<string>) | null
  /** Fields drawn as categories side by side: an accelerator on one is compared with the others. */
  readonly categories: (c: ChartSpec) => ReadonlyArray<string>
  readonly check: (c: ChartSpec) => Issue | undefined
  readonly build: (c: ChartSpec, rows: Rows) => TopLevelSpec
}

const present = (...fields: ReadonlyArray<string | undefined>): string[] =>
  fields.filter((f): f is string => f !== undefined).filter((f, i, a) => a.indexOf(f) === i)

/** Options every declared chart passes to a builder alike. */
const common = (c: ChartSpec, rows: Rows) => ({
  rows,
  x: c.x,
  y: c.y,
  color: c.color,
  column: c.column,
  title: c.title,
  xTitle: c.xTitle,
  yTitle: c.yTitle,
  yScale: c.yScale,
  aggregate: c.aggregate,
})

const none = (): Issue | undefined => undefined

export const MARKS: Readonly<Record<ChartSpec["mark"], MarkKind>> = {
  line: {
    noun: "point of a line",
    options: ["aggregate", "yScale"],
    value: (c) => c.y,
    measures: (c) => [c.y],
    places: (c) => present(c.x, c.color, c.column),
    categories: (c) => present(c.x, c.color, c.column),
    check: none,
    build: (c, rows) => lineChart(common(c, rows)),
  },
  bar: {
    noun: "bar",
    options: ["aggregate", "yScale", "stack", "baseline"],
    value: (c) => c.y,
    measures: (c) => [c.y],
    places: (c) => present(c.x, c.color, c.column),
    categories: (c) => present(c.x, c.color, c.column),
    check: none,
    build: (c, rows) => barChart({ ...common(c, rows), stack: c.stack, baseline: c.baseline }),
  },
  point: {
    noun: "point",
    options: ["aggregate", "yScale", "pareto"],
    value: (c) => c.y,
    measures: (c) => [c.x, c.y],
    places: null,
    categories: (c) => present(c.color, c.column),
    check: none,
    build: (c, rows) => scatterChart({ ...common(c, rows), pareto: c.pareto }),
  },
  rect: {
    noun: "cell",
    options: ["aggregate"],
    value: (c) => c.color ?? c.y,
    measures: (c) => present(c.color),
    places: (c) => present(c.x, c.y, c.column),
    categories: (c) => present(c.x, c.y, c.column),
    check: (c) =>
      c.color === undefined ? [".color", "a rect (heatmap) needs color: the number each cell shows"] : undefined,
    build: (c, rows) =>
      heatmapChart({
        rows,
        x: c.x,
        y: c.y,
        value: c.color ?? c.y,
        column: c.column,
        title: c.title,
        xTitle: c.xTitle,
        yTitle: c.yTitle,
        aggregate: c.aggregate,
      }),
  },
  roofline: {
    noun: "point",
    options: [],
    value: (c) => c.y,
    measures: (c) => [c.x, c.y],
    places: null,
    categories: (c) => present(c.color, c.column),
    check: (c) =>
      c.table !== "roofline"
        ? [".table", `a roofline draws table roofline, whose rows carry their accelerator's ceilings; got ${c.table}`]
        : c.x !== ROOFLINE_X
          ? [
              ".x",
              `a roofline's x is ${JSON.stringify(ROOFLINE_X)} (operational intensity); got ${JSON.stringify(c.x)}`,
            ]
          : ROOFLINE_Y[c.y] === undefined
            ? [
                ".y",
                `a roofline's y is one of ${quoted(Object.keys(ROOFLINE_Y))} (its ceilings are in that unit); ` +
                  `got ${JSON.stringify(c.y)}`,
              ]
            : undefined,
    build: (c, rows) => {
      const ceilings = ROOFLINE_Y[c.y] ?? { peak: "", bandwidth: "" }
      return rooflineChart({
        rows,
        x: c.x,
        y: c.y,
        peak: ceilings.peak,
        bandwidth: ceilings.bandwidth,
        roofBy: "accelerator",
        color: c.color,
        column: c.column,
        title: c.title,
        xTitle: c.xTitle ?? "Operational intensity (MACs per DRAM byte)",
        yTitle: c.yTitle ?? (c.y === "gmacPerSecond" ? "Performance (GMAC/s)" : "Performance (MACs per cycle)"),
      })
    },
  },
}

/** What a chart's mark needs of it beyond its fields being columns: its options, and the mark's own. */
const markIssue = (c: ChartSpec): Issue | undefined => {
  const kind = MARKS[c.mark]
  for (const option of MARK_OPTIONS)
    if (c[option] !== undefined && !kind.options.includes(option)) {
      const takers = Object.entries(MARKS)
        .filter(([, k]) => k.options.includes(option))
        .map(([m]) => m)
      return [`.${option}`, `${option} is for ${takers.join(", ")} charts, and this one is a ${c.mark}`]
    }
  return kind.check(c)
}

/**
 * Every chart's fields against its table's columns, its options against its mark, and its table
 * against what the spec can fill, before any work runs. The first problem fails the run with its
 * chart, path, value and what would do.
 */
export const checkCharts = (spec: ExperimentSpec): Effect.Effect<void, ChartSpecError> => {
  const columns = tableColumns(spec)
  const fail = (path: string, c: ChartSpec, reason: string) =>
    Effect.fail(new ChartSpecError({ experiment: spec.name, path, chart: c.title, reason }))
  for (const [i, c] of spec.charts.entries()) {
    const have = columns[c.table] ?? []
    for (const [path, field] of fieldsOf(c, i)) {
      if (have.includes(field)) continue
      return fail(
        path,
        c,
        `${JSON.stringify(field)} is not a column of table ${c.table}; ${suggestion(field, have)}its columns: ${have.join(", ")}`,
      )
    }
    const issue = markIssue(c)
    if (issue !== undefined) return fail(`charts[${i}]${issue[0]}`, c, issue[1])
    const missing = TABLES[c.table].missing?.(spec)
    if (missing !== undefined) return fail(`charts[${i}].table`, c, missing)
  }
  return Effect.void
}

const describeKey = (key: Readonly<Record<string, unknown>>): string =>
  Object.entries(key)
    .map(([k, v]) => `${k} ${JSON.stringify(v)}`)
    .join(", ")

/**
 * Compile a declared chart into a Vega-Lite spec over the rows it selects, or say why the chart
 * would mislead: a filter that selects nothing, a y that is not a number, or bars and lines that
 * would draw several rows at one place without an aggregate saying how they combine.
 */
export const compileChart = (
  experiment: string,
  c: ChartSpec,
  index: number,
  rows: Rows,
): Either.Either<TopLevelSpec, ChartSpecError> => {
  const fail = (path: string, reason: string) =>
    Either.left(new ChartSpecError({ experiment, path: `charts[${index}]${path}`, chart: c.title, reason }))
  const where = Object.entries(c.where ?? {})
  const selected = rows.filter((r) => where.every(([k, v]) => r[k] === v))
  if (selected.length === 0) {
    if (rows.length === 0) return fail(".table", `table ${c.table} has no rows in this run`)
    // Name the first condition that empties the selection, with the values it could have taken.
    let kept = rows
    for (const [k, v] of where) {
      const next = kept.filter((r) => r[k] === v)
      if (next.length === 0)
        return fail(
          `.where.${k}`,
          `no row of table ${c.table} has ${k} ${JSON.stringify(v)}${kept === rows ? "" : " (with the conditions before it)"}; it has ${quoted([...new Set(kept.map((r) => r[k]))].slice(0, 20))}`,
        )
      kept = next
    }
  }
  // Declared columns a run leaves empty (a sweep column of another table, a family's own counts).
  for (const [path, field] of fieldsOf(c, index))
    if (!selected.some((r) => r[field] !== undefined && r[field] !== null))
      return fail(
        path.slice(`charts[${index}]`.length),
        `${JSON.stringify(field)} has no values in the selected rows of table ${c.table}`,
      )
  const issue = markIssue(c)
  if (issue !== undefined) return fail(issue[0], issue[1])
  const kind = MARKS[c.mark]
  for (const field of kind.measures(c)) {
    if (c.aggregate === "count" && field === kind.value(c)) continue
    if (!isNumericField(selected, field)) {
      const path = field === c.x ? ".x" : field === c.y ? ".y" : ".color"
      return fail(
        path,
        `${JSON.stringify(field)} is not numeric in the selected rows; a ${c.mark} draws it as a number`,
      )
    }
  }
  if (c.aggregate === undefined && kind.places !== null) {
    const crowded = crowdedGroup(selected, kind.places(c))
    if (crowded !== undefined)
      return fail(
        "",
        `${crowded.rows} rows would draw one ${kind.noun} at ${describeKey(crowded.key)}, hiding all but one; ` +
          `set aggregate (${quoted(["sum", "mean", "min", "max", "median", "count"])}) to say how they combine, ` +
          "or narrow the rows with where",
      )
  }
  return Either.right(kind.build(c, selected))
}

/** Every declared chart of a run, compiled over its tables; the first that would mislead fails. */
export const compileCharts = (
  spec: ExperimentSpec,
  tables: Readonly<Partial<Record<TableName | "summary", Rows>>>,
): Effect.Effect<ReadonlyArray<{ chart: ChartSpec; vega: TopLevelSpec }>, ChartSpecError> =>
  Effect.forEach(spec.charts, (c, i) =>
    Either.match(compileChart(spec.name, c, i, tables[c.table] ?? []), {
      onLeft: Effect.fail,
      onRight: (vega) => Effect.succeed({ chart: c, vega }),
    }),
  )
