import { Data, Effect, Either } from "effect"
import type { TopLevelSpec } from "vega-lite"
import { barChart, crowdedGroup, isNumericField, lineChart, scatterChart, type Rows } from "../report/index.ts"
import type { ChartSpec, ExperimentSpec, TableName } from "./spec.ts"
import { tableColumns } from "./tables.ts"

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

/**
 * Every chart's fields against its table's columns, before any work runs. The first problem
 * fails the run with its chart, path, value and the columns that exist.
 */
export const checkCharts = (spec: ExperimentSpec): Effect.Effect<void, ChartSpecError> => {
  const columns = tableColumns(spec)
  for (const [i, c] of spec.charts.entries()) {
    const have = columns[c.table] ?? []
    for (const [path, field] of fieldsOf(c, i)) {
      if (have.includes(field)) continue
      return Effect.fail(
        new ChartSpecError({
          experiment: spec.name,
          path,
          chart: c.title,
          reason: `${JSON.stringify(field)} is not a column of table ${c.table}; ${suggestion(field, have)}its columns: ${have.join(", ")}`,
        }),
      )
    }
  }
  return Effect.void
}

/** Fields that tell marks at one x apart: the colour series, the panel, and the offset within a group. */
const markKey = (c: ChartSpec): string[] =>
  [c.x, c.color, c.column].filter((f): f is string => f !== undefined).filter((f, i, a) => a.indexOf(f) === i)

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
  if (c.aggregate !== "count" && !isNumericField(selected, c.y))
    return fail(".y", `${JSON.stringify(c.y)} is not numeric in the selected rows; a chart's y must be a number`)
  if (c.aggregate === undefined && c.mark !== "point") {
    const crowded = crowdedGroup(selected, markKey(c))
    if (crowded !== undefined)
      return fail(
        "",
        `${crowded.rows} rows would draw one ${c.mark === "bar" ? "bar" : "point of a line"} at ${describeKey(crowded.key)}, hiding all but one; set aggregate (${quoted(["sum", "mean", "min", "max", "median", "count"])}) to say how they combine, or narrow the rows with where`,
      )
  }
  const common = {
    rows: selected,
    x: c.x,
    y: c.y,
    color: c.color,
    column: c.column,
    title: c.title,
    xTitle: c.xTitle,
    yTitle: c.yTitle,
    yScale: c.yScale,
    aggregate: c.aggregate,
  }
  return Either.right(
    c.mark === "line" ? lineChart(common) : c.mark === "bar" ? barChart(common) : scatterChart(common),
  )
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
