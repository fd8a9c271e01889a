import { from, op } from "arquero"

/** A cell of a tidy result row. Rows are flat: nested values belong in their own table. */
export type Cell = string | number | boolean | null | undefined
export type Row = Readonly<Record<string, Cell>>
export type Rows = ReadonlyArray<Row>

export type Aggregate = "mean" | "sum" | "min" | "max" | "median" | "count"

const reducer = (how: Aggregate, field: string) => {
  switch (how) {
    case "mean":
      return op.mean(field)
    case "sum":
      return op.sum(field)
    case "min":
      return op.min(field)
    case "max":
      return op.max(field)
    case "median":
      return op.median(field)
    case "count":
      return op.count()
  }
}

export interface SummarizeOptions {
  /** Fields that identify a group; rows agreeing on all of them collapse into one. */
  readonly by: ReadonlyArray<string>
  /** Output field -> how to reduce the input field of the same name. */
  readonly measures: Readonly<Record<string, Aggregate>>
}

/**
 * Collapse rows per group with arquero, e.g. mean cycles over seeds or total energy over layers.
 * Pipeable: `pipe(rows, summarize({ by: ["method"], measures: { cycles: "sum" } }))`.
 * Groups keep the order in which they first appear, which is the order charts draw them in.
 */
export const summarize =
  (options: SummarizeOptions) =>
  (rows: Rows): Array<Record<string, Cell>> => {
    if (rows.length === 0) return []
    const reducers = Object.fromEntries(
      Object.entries(options.measures).map(([field, how]) => [field, reducer(how, field)]),
    )
    return from(rows.map((r) => ({ ...r })))
      .groupby([...options.by])
      .rollup(reducers)
      .objects()
      .map(toRow)
  }

const toRow = (o: object): Record<string, Cell> => {
  const row: Record<string, Cell> = {}
  for (const [k, v] of Object.entries(o)) {
    row[k] =
      typeof v === "string" || typeof v === "number" || typeof v === "boolean" || v === null
        ? v
        : v === undefined
          ? null
          : String(v)
  }
  return row
}

/**
 * Inner join on the `on` fields with arquero, pipeable like `summarize`: every left row beside each
 * right row that agrees on all of them. Other field names must differ between the sides.
 */
export const joinOn =
  (right: Rows, on: ReadonlyArray<string>) =>
  (left: Rows): Array<Record<string, Cell>> => {
    if (left.length === 0 || right.length === 0) return []
    return from(left.map((r) => ({ ...r })))
      .join(from(right.map((r) => ({ ...r }))), [[...on], [...on]])
      .objects()
      .map(toRow)
  }

/** Keep rows matching every given field value; pipeable like `summarize`. */
export const where =
  (match: Readonly<Record<string, Cell>>) =>
  (rows: Rows): Rows => {
    const entries = Object.entries(match)
    return rows.filter((r) => entries.every(([k, v]) => r[k] === v))
  }

/** Distinct values of a field in first-seen order. */
export const distinct = (rows: Rows, field: string): ReadonlyArray<Cell> => [...new Set(rows.map((r) => r[field]))]

export const isNumericField = (rows: Rows, field: string): boolean => {
  let seen = false
  for (const r of rows) {
    const v = r[field]
    if (v === null || v === undefined) continue
    if (typeof v !== "number") return false
    seen = true
  }
  return seen
}

export interface CrowdedGroup {
  /** The group's values of the `by` fields. */
  readonly key: Readonly<Record<string, Cell>>
  readonly rows: number
}

/**
 * The first group of `by` values that more than one row shares, if any. A chart drawing one mark
 * per group would stack such rows on top of each other and show only the last: they must be
 * aggregated, or told apart by another field.
 */
export const crowdedGroup = (rows: Rows, by: ReadonlyArray<string>): CrowdedGroup | undefined => {
  const counts = new Map<string, { key: Record<string, Cell>; rows: number }>()
  for (const r of rows) {
    const key = Object.fromEntries(by.map((f) => [f, r[f]]))
    const id = JSON.stringify(by.map((f) => r[f] ?? null))
    const seen = counts.get(id)
    if (seen === undefined) counts.set(id, { key, rows: 1 })
    else seen.rows++
  }
  for (const g of counts.values()) if (g.rows > 1) return g
  return undefined
}

/**
 * The rows no other row beats on both fields at once (smaller is better on each): a row is dropped
 * when another is at least as small on both and smaller on one. Rows equal on both stay together.
 * Rows without two finite numbers are never on the front. Returns the front's row indices in x order.
 */
export const paretoFront = (rows: Rows, x: string, y: string): number[] => {
  const points = rows.flatMap((r, i) => {
    const px = r[x]
    const py = r[y]
    return typeof px === "number" && typeof py === "number" && Number.isFinite(px) && Number.isFinite(py)
      ? [{ i, px, py }]
      : []
  })
  points.sort((a, b) => a.px - b.px || a.py - b.py || a.i - b.i)
  const front: number[] = []
  let best: { px: number; py: number } | undefined
  for (const p of points) {
    if (best === undefined || p.py < best.py) best = { px: p.px, py: p.py }
    else if (!(p.py === best.py && p.px === best.px)) continue
    front.push(p.i)
  }
  return front
}
