import {
  bool,
  columnFromArray,
  Endianness,
  field,
  float64,
  int64,
  Table,
  tableToIPC,
  utf8,
  Version,
  type Column,
  type DataType,
} from "@uwdata/flechette"
import { Effect } from "effect"
import { mkdir, rename, rm, writeFile } from "node:fs/promises"
import * as path from "node:path"
import { causeText, ReportError } from "./errors.ts"
import type { Cell, Rows } from "./rows.ts"

/**
 * A report's tables beside it, for tools that should not scrape HTML: CSV for spreadsheets and
 * shells, Arrow IPC (file format, as Spade's traces) for pandas, pyarrow, polars, DuckDB and R.
 */

/** Every field of every row, in first-seen order: rows of one table may leave fields out. */
export const columnsOfRows = (rows: Rows): string[] => {
  const seen = new Set<string>()
  for (const r of rows) for (const k of Object.keys(r)) seen.add(k)
  return [...seen]
}

const csvCell = (v: Cell): string => {
  if (v === null || v === undefined) return ""
  // Full precision: a CSV is the numbers, not their display.
  const text = typeof v === "number" || typeof v === "boolean" ? String(v) : v
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replaceAll('"', '""')}"` : text
}

/** RFC 4180: a header line, then one line per row; an absent or null cell is empty. */
export const rowsToCsv = (rows: Rows): string => {
  const columns = columnsOfRows(rows)
  const lines = [columns.map(csvCell).join(",")]
  for (const r of rows) lines.push(columns.map((c) => csvCell(r[c])).join(","))
  return `${lines.join("\r\n")}\r\n`
}

type Kind = "int" | "float" | "bool" | "string"

/**
 * One Arrow type per column from its values: whole numbers as int64 (cycle counts exceed int32),
 * other numbers float64, booleans bool, anything else (or a mix) utf8. Nulls make it nullable.
 */
const kindOf = (values: ReadonlyArray<Cell>): Kind => {
  let kind: Kind | undefined
  for (const v of values) {
    if (v === null || v === undefined) continue
    const k: Kind =
      typeof v === "number" ? (Number.isSafeInteger(v) ? "int" : "float") : typeof v === "boolean" ? "bool" : "string"
    if (kind === undefined) kind = k
    else if (kind !== k)
      kind = (kind === "int" && k === "float") || (kind === "float" && k === "int") ? "float" : "string"
  }
  return kind ?? "string"
}

const typeOf = (kind: Kind): DataType =>
  kind === "int" ? int64() : kind === "float" ? float64() : kind === "bool" ? bool() : utf8()

const valueAs = (kind: Kind, v: Cell): Cell =>
  v === null || v === undefined ? null : kind === "string" ? String(v) : v

/** Arrow IPC file bytes; `metadata` is stored on the schema (table name, experiment, ...). */
export const rowsToArrow = (rows: Rows, metadata: Readonly<Record<string, string>> = {}): Uint8Array => {
  const names = columnsOfRows(rows)
  const fields = []
  const columns: Array<Column<unknown>> = []
  for (const name of names) {
    const values = rows.map((r) => r[name])
    const kind = kindOf(values)
    const nullable = values.some((v) => v === null || v === undefined)
    fields.push(field(name, typeOf(kind), nullable))
    columns.push(
      columnFromArray(
        values.map((v) => valueAs(kind, v)),
        typeOf(kind),
      ),
    )
  }
  const schema = {
    version: Version.V5,
    endianness: Endianness.Little,
    fields,
    metadata: new Map(Object.entries(metadata)),
  }
  const bytes = tableToIPC(new Table(schema, columns), { format: "file" })
  if (bytes === null) throw new Error("rowsToArrow: flechette returned no bytes for an in-memory sink")
  return bytes
}

/**
 * Write a file whole or not at all: a sibling temp file renamed into place, so a reader (or a
 * crashed run) never sees half a table.
 */
export const writeFileAtomic = async (file: string, data: string | Uint8Array): Promise<void> => {
  await mkdir(path.dirname(file), { recursive: true })
  const tmp = `${file}.${process.pid}.tmp`
  try {
    await writeFile(tmp, data)
    await rename(tmp, file)
  } catch (cause) {
    await rm(tmp, { force: true })
    throw cause
  }
}

export interface WrittenTable {
  readonly table: string
  readonly csv: string
  readonly arrow: string
}

/** Table names become file names, so they must be plain words. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/

/** `<dir>/<table>.csv` and `<dir>/<table>.arrow` for every table, in the given order. */
export const writeTables = (
  dir: string,
  tables: Readonly<Record<string, Rows>>,
  metadata: Readonly<Record<string, string>> = {},
): Effect.Effect<ReadonlyArray<WrittenTable>, ReportError> =>
  Effect.tryPromise({
    try: async () => {
      const written: WrittenTable[] = []
      for (const [table, rows] of Object.entries(tables)) {
        if (!SAFE_NAME.test(table) || table.includes(".."))
          throw new ReportError({ reason: `table name ${JSON.stringify(table)} cannot be a file name` })
        const csv = path.join(dir, `${table}.csv`)
        const arrow = path.join(dir, `${table}.arrow`)
        await writeFileAtomic(csv, rowsToCsv(rows))
        await writeFileAtomic(arrow, rowsToArrow(rows, { ...metadata, table }))
        written.push({ table, csv, arrow })
      }
      return written
    },
    catch: (cause) =>
      cause instanceof ReportError
        ? cause
        : new ReportError({ file: dir, reason: `cannot write tables (${causeText(cause)})`, cause }),
  })
