import { Options } from "@effect/cli"
import { bool, float64, tableFromArrays, tableToIPC, utf8 } from "@uwdata/flechette"
import { table } from "arquero"
import { Effect, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { ConfigError, FileError } from "../config/index.ts"

/** A tidy table cell: what `--json` prints, with nested values as their JSON text so every cell is flat. */
export type Cell = string | number | boolean | null

export const outOption = Options.text("out").pipe(
  Options.optional,
  Options.withDescription(
    "Also write the rows as a table: .csv for CSV, .arrow for Arrow IPC (pandas, pyarrow, R's arrow read it); " +
      "the same columns as --json, nested values as JSON text. Default: no file.",
  ),
)

const FORMATS = /\.(csv|arrow)$/i

const errnoOf = (e: unknown): string =>
  typeof e === "object" && e !== null && "code" in e ? String(e.code) : e instanceof Error ? e.message : String(e)

/**
 * Check an output path before any work runs, so a long search or simulation does not end in a file
 * that cannot be written: the extension names a format, the folder exists (created if need be) and
 * takes files, and the path itself is not a folder.
 */
export const checkOut = (out: Option.Option<string>): Effect.Effect<Option.Option<string>, ConfigError | FileError> =>
  Option.match(out, {
    onNone: () => Effect.succeed(Option.none()),
    onSome: (file) =>
      !FORMATS.test(file)
        ? Effect.fail(
            new ConfigError({
              file: "command line",
              path: "--out",
              expected: `expected a file ending in .csv or .arrow, got "${file}"`,
            }),
          )
        : Effect.as(checkFolder(file), Option.some(file)),
  })

/**
 * Whether a file can be written where it is named, before the work that produces it: its folder
 * exists (made if need be) and takes files, and the path itself is not a folder.
 */
export const checkFolder = (file: string): Effect.Effect<void, FileError> =>
  Effect.try({
    try: () => {
      const dir = path.dirname(path.resolve(file))
      makeFolders(dir)
      fs.accessSync(dir, fs.constants.W_OK)
      if (fs.existsSync(file) && fs.statSync(file).isDirectory()) throw Object.assign(new Error(), { code: "EISDIR" })
    },
    catch: (e) => new FileError({ file, reason: `cannot write here (${errnoOf(e)})` }),
  })

/**
 * mkdir -p, one level at a time: Node's recursive mkdirSync spins forever under /proc (it retries
 * the parent while the kernel keeps answering ENOENT), so the missing levels are made one by one.
 */
const makeFolders = (dir: string): void => {
  const missing: string[] = []
  let at = dir
  while (!fs.existsSync(at)) {
    missing.unshift(at)
    const up = path.dirname(at)
    if (up === at) break
    at = up
  }
  if (!fs.statSync(at).isDirectory()) throw Object.assign(new Error(), { code: "ENOTDIR" })
  for (const d of missing) {
    try {
      fs.mkdirSync(d)
    } catch (e) {
      // Another process (a parallel run writing beside this one) made it first: that is fine.
      if (!(errnoOf(e) === "EEXIST" && fs.statSync(d).isDirectory())) throw e
    }
  }
}

const flat = (v: unknown): Cell =>
  v === null || v === undefined
    ? null
    : typeof v === "number"
      ? Number.isFinite(v)
        ? v
        : null
      : typeof v === "string" || typeof v === "boolean"
        ? v
        : JSON.stringify(v)

/**
 * A column's Arrow type from all its cells, not the first: every numeric column is float64 so a
 * column's type does not flip between int and float with the values of one run; all-null is utf8.
 */
const arrowType = (cells: ReadonlyArray<Cell>) => {
  const kinds = new Set(cells.filter((c) => c !== null).map((c) => typeof c))
  return kinds.size === 1 && kinds.has("number")
    ? float64()
    : kinds.size === 1 && kinds.has("boolean")
      ? bool()
      : utf8()
}

/** Rows as the bytes of the file's format; columns in the first row's key order. */
export const tableBytes = (
  file: string,
  rows: ReadonlyArray<Readonly<Record<string, unknown>>>,
): Uint8Array | string => {
  const columns = Object.keys(rows[0] ?? {})
  const cells = Object.fromEntries(columns.map((c) => [c, rows.map((r) => flat(r[c]))]))
  if (!/\.arrow$/i.test(file)) return table(cells).toCSV()
  const types = Object.fromEntries(columns.map((c) => [c, arrowType(cells[c]!)]))
  // The IPC file format (with its footer), as trace files are written: pyarrow.ipc.open_file reads it.
  return tableToIPC(tableFromArrays(cells, { types }), { format: "file" }) ?? new Uint8Array()
}

/**
 * Write rows to `--out`: to a temporary name in the same folder, then renamed into place, so a reader
 * (or a run killed halfway) never sees a partial file under the real name.
 */
export const writeOut = (
  file: string,
  rows: ReadonlyArray<Readonly<Record<string, unknown>>>,
): Effect.Effect<void, FileError> => writeAtomically(file, () => tableBytes(file, rows))

export const writeAtomically = (file: string, bytes: () => Uint8Array | string): Effect.Effect<void, FileError> =>
  Effect.try({
    try: () => {
      const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${process.pid}.tmp`)
      try {
        fs.writeFileSync(tmp, bytes())
        fs.renameSync(tmp, file)
      } catch (e) {
        fs.rmSync(tmp, { force: true })
        throw e
      }
    },
    catch: (e) => new FileError({ file, reason: `cannot write (${errnoOf(e)})` }),
  })
