import {
  binary,
  columnFromArray,
  Endianness,
  field,
  float64,
  int32,
  list,
  Table,
  tableFromIPC,
  tableToIPC,
  Type,
  utf8,
  Version,
  type Column,
  type DataType,
} from "@uwdata/flechette"
import { Either, type ParseResult, Schema } from "effect"
import { toConfigError } from "../config/index.ts"
import { arrowFileProblem } from "./arrow-guard.ts"
import { TraceError } from "./errors.ts"
import { TRACE_SCHEMA_VERSION, TraceMeta, TraceRecord, type Trace, type TraceMetaInput } from "./schema.ts"
import { operandProblem } from "./summarize.ts"

/**
 * The file is one tidy Arrow table, one row per TraceRecord, every nested field flattened to a
 * plain column named by its path joined with "_" (`a_density`, `conv_ifmapHeight`, `a_nm_axis`).
 * Plain columns, not Arrow structs, so arquero verbs, pandas and SQL engines see them directly.
 * A nested object that can be null (conv, a_nm, ...) becomes nullable columns that are all null
 * together.
 */
type Kind = "int32" | "float64" | "utf8" | "binary" | "list<int32>"

interface ColumnSpec {
  readonly name: string
  readonly path: ReadonlyArray<string>
  readonly kind: Kind
  /** The nested object that is null as a whole when this column is null ("conv", "a.nm"). */
  readonly group: string | null
  /** Added after version 1 shipped: files without the column still decode (the field is absent). */
  readonly optional?: boolean
  /**
   * A field that may be absent inside an object that is present (`groups`, `conv.groups`): null
   * leaves it out instead of counting towards its group being null.
   */
  readonly absentWhenNull?: boolean
}

const col = (path: string, kind: Kind, group: string | null = null): ColumnSpec => ({
  name: path.replaceAll(".", "_"),
  path: path.split("."),
  kind,
  group,
})

const convFields = [
  "batch",
  "ifmapHeight",
  "ifmapWidth",
  "filterHeight",
  "filterWidth",
  "channels",
  "numFilters",
  "stride",
  "padding",
] as const

const operandColumns = (role: "a" | "b" | "out"): ReadonlyArray<ColumnSpec> => [
  col(`${role}.tensor`, "utf8"),
  col(`${role}.rows`, "int32"),
  col(`${role}.cols`, "int32"),
  col(`${role}.nnz`, "int32"),
  col(`${role}.density`, "float64"),
  col(`${role}.mask`, "binary"),
  col(`${role}.rowNnz`, "list<int32>"),
  col(`${role}.tileNnz`, "list<int32>"),
  col(`${role}.nm.n`, "int32", `${role}.nm`),
  col(`${role}.nm.m`, "int32", `${role}.nm`),
  col(`${role}.nm.axis`, "utf8", `${role}.nm`),
]

/** The column layout of TRACE_SCHEMA_VERSION 1, in file order. */
export const traceColumns: ReadonlyArray<ColumnSpec> = [
  col("step", "int32"),
  col("epoch", "int32"),
  col("layer", "utf8"),
  col("layerIndex", "int32"),
  col("op", "utf8"),
  col("pass", "utf8"),
  col("gemm.m", "int32"),
  col("gemm.n", "int32"),
  col("gemm.k", "int32"),
  ...convFields.map((f) => col(`conv.${f}`, "int32", "conv")),
  ...operandColumns("a"),
  ...operandColumns("b"),
  ...operandColumns("out"),
  col("temporalDeltaDensity", "float64", "temporalDeltaDensity"),
  col("sparsifier.method", "utf8"),
  col("sparsifier.targetSparsity", "float64"),
  col("sparsifier.dropped", "int32"),
  col("sparsifier.grown", "int32"),
  col("sparsifier.hamming", "int32"),
  { ...col("temporal.frames", "int32", "temporal"), optional: true },
  { ...col("temporal.events", "list<int32>", "temporal"), optional: true },
  { ...col("temporal.activationNnz", "list<int32>", "temporal"), optional: true },
  { ...col("groups", "int32"), optional: true, absentWhenNull: true },
  { ...col("conv.groups", "int32"), optional: true, absentWhenNull: true },
]

/**
 * Run metadata lives in the Arrow schema's custom metadata (string → string), which pyarrow
 * exposes as `schema.metadata` and arquero ignores harmlessly. One key per field, so a reader in
 * another language needs no JSON for anything but `methodParams`.
 */
export const META_KEYS = {
  schemaVersion: "spade.schemaVersion",
  model: "spade.model",
  dataset: "spade.dataset",
  method: "spade.method",
  methodParams: "spade.methodParams",
  seed: "spade.seed",
  engineVersion: "spade.engineVersion",
} as const

const arrowType = (kind: Kind): DataType => {
  switch (kind) {
    case "int32":
      return int32()
    case "float64":
      return float64()
    case "utf8":
      return utf8()
    case "binary":
      return binary()
    case "list<int32>":
      return list(int32())
  }
}

const getPath = (value: unknown, path: ReadonlyArray<string>): unknown => {
  let v = value
  for (const key of path) {
    if (typeof v !== "object" || v === null) return null
    v = (v as Record<string, unknown>)[key]
  }
  return v === undefined ? null : v
}

/** Sorted keys: params built in a different order must still give the same bytes. */
const canonicalJson = (params: Record<string, string | number>): string =>
  JSON.stringify(
    Object.fromEntries(
      Object.keys(params)
        .sort()
        .map((k) => [k, params[k]]),
    ),
  )

/** The config stage already turns a ParseError into its most useful line; reuse it, naming columns. */
const firstIssue = (e: ParseResult.ParseError): { readonly path: string; readonly message: string } => {
  const c = toConfigError("", e)
  return { path: c.path.replace(/\[(\d+)\]/g, ".$1").replaceAll(".", "_"), message: c.expected }
}

const recordProblem = (r: TraceRecord): string | null => {
  const g = r.groups ?? 1
  const shapes = [
    ["a", r.a, g * r.gemm.m, r.gemm.k],
    ["b", r.b, g * r.gemm.k, r.gemm.n],
    ["out", r.out, g * r.gemm.m, r.gemm.n],
  ] as const
  if (r.op === "matmul" && r.conv !== null) return "a matmul record has no conv dims (conv_* must be null)"
  if (r.conv !== null && (r.conv.groups ?? 1) !== g)
    return `conv_groups is ${r.conv.groups ?? 1} but groups is ${g}: a conv record's GEMM groups are its channel groups`
  for (const [role, op, rows, cols] of shapes) {
    if (op.rows !== rows || op.cols !== cols)
      return `operand ${role} is ${op.rows}×${op.cols}, but GEMM m=${r.gemm.m} n=${r.gemm.n} k=${r.gemm.k}${g === 1 ? "" : ` in ${g} groups`} needs ${rows}×${cols}`
    const problem = operandProblem(op)
    if (problem !== null) return `operand ${role}: ${problem}`
  }
  return null
}

/**
 * Encode a trace as Arrow IPC *file* format (Feather v2: `pyarrow.feather.read_table`,
 * `pandas.read_feather`, arquero `fromArrow`). Deterministic: equal inputs give equal bytes.
 * Records are checked first; an inconsistent record is a bug upstream and throws.
 */
export const encodeTrace = (meta: TraceMetaInput, records: ReadonlyArray<TraceRecord>): Uint8Array => {
  const fullMeta = Schema.validateSync(TraceMeta)({ ...meta, schemaVersion: TRACE_SCHEMA_VERSION })
  records.forEach((r, i) => {
    const bad = Schema.validateEither(TraceRecord, { errors: "all" })(r)
    if (Either.isLeft(bad)) {
      const { path, message } = firstIssue(bad.left)
      throw new Error(`encodeTrace: record ${i}, ${path}: ${message}`)
    }
    const problem = recordProblem(r)
    if (problem !== null) throw new Error(`encodeTrace: record ${i}: ${problem}`)
  })
  const columns: Array<Column<unknown>> = traceColumns.map((spec) =>
    columnFromArray(
      records.map((r) => getPath(r, spec.path)),
      arrowType(spec.kind),
    ),
  )
  const metadata = new Map<string, string>([
    [META_KEYS.schemaVersion, String(TRACE_SCHEMA_VERSION)],
    [META_KEYS.model, fullMeta.model],
    [META_KEYS.dataset, fullMeta.dataset],
    [META_KEYS.method, fullMeta.method],
    [META_KEYS.methodParams, canonicalJson(fullMeta.methodParams)],
    [META_KEYS.seed, String(fullMeta.seed)],
    [META_KEYS.engineVersion, fullMeta.engineVersion],
  ])
  const schema = {
    version: Version.V5,
    endianness: Endianness.Little,
    fields: traceColumns.map((s) => field(s.name, arrowType(s.kind), s.group !== null)),
    metadata,
  }
  const bytes = tableToIPC(new Table(schema, columns), { format: "file" })
  if (bytes === null) throw new Error("encodeTrace: flechette returned no bytes for an in-memory sink")
  return bytes
}

// "ARROW1" then two padding bytes at the start; "ARROW1" again as the very last bytes.
const MAGIC = [0x41, 0x52, 0x52, 0x4f, 0x57, 0x31]

const hasMagicAt = (bytes: Uint8Array, at: number): boolean => at >= 0 && MAGIC.every((b, i) => bytes[at + i] === b)

/** Lenient on width (pandas round-trips ints as int64), strict on kind. */
const accepts = (kind: Kind, t: DataType): boolean => {
  const base = t.typeId === Type.Dictionary ? t.dictionary : t
  switch (kind) {
    case "int32":
      return base.typeId === Type.Int
    case "float64":
      return base.typeId === Type.Float || base.typeId === Type.Int
    case "utf8":
      return base.typeId === Type.Utf8 || base.typeId === Type.LargeUtf8 || base.typeId === Type.Utf8View
    case "binary":
      return base.typeId === Type.Binary || base.typeId === Type.LargeBinary || base.typeId === Type.BinaryView
    case "list<int32>":
      return (base.typeId === Type.List || base.typeId === Type.LargeList) && base.children[0].type.typeId === Type.Int
  }
}

const typeIdNames: Record<number, string> = Object.fromEntries(Object.entries(Type).map(([k, v]) => [v, k]))

const describeType = (t: DataType): string => {
  switch (t.typeId) {
    case Type.Int:
      return `${t.signed ? "int" : "uint"}${t.bitWidth}`
    case Type.Float:
      return ["float16", "float32", "float64"][t.precision] ?? "float"
    case Type.List:
    case Type.LargeList:
      return `${t.typeId === Type.List ? "list" : "large_list"}<${describeType(t.children[0].type)}>`
    case Type.Dictionary:
      return `dictionary<${describeType(t.dictionary)}>`
    default:
      return (typeIdNames[t.typeId] ?? `type ${t.typeId}`).toLowerCase()
  }
}

/** Copy out of the file buffer (callers may reuse it) and normalise widened lists to Int32Array. */
const fromArrowValue = (kind: Kind, v: unknown): unknown => {
  if (v === null || v === undefined) return null
  if (kind === "binary" && v instanceof Uint8Array) return v.slice()
  if (kind === "list<int32>") {
    if (v instanceof Int32Array) return v.slice()
    if (typeof v === "object" && "length" in v) {
      const arr = Array.from(v as ArrayLike<unknown>, (x) => (typeof x === "bigint" ? Number(x) : x))
      // Leave anything that is not a list of int32 as is, so the schema names the bad column.
      if (arr.every((x) => typeof x === "number" && Number.isInteger(x) && x >= -(2 ** 31) && x < 2 ** 31))
        return Int32Array.from(arr as ReadonlyArray<number>)
    }
  }
  if (typeof v === "bigint") return Number(v)
  return v
}

const setPath = (target: Record<string, unknown>, path: ReadonlyArray<string>, value: unknown): void => {
  let o = target
  for (const key of path.slice(0, -1)) {
    const next = o[key]
    if (typeof next === "object" && next !== null) o = next as Record<string, unknown>
    else {
      const created: Record<string, unknown> = {}
      o[key] = created
      o = created
    }
  }
  o[path[path.length - 1]!] = value
}

/** File-sourced text in a message: quoted, escaped, short, so a garbage file still gives one line. */
const show = (text: string): string => JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)

class Fail {
  constructor(readonly reason: string) {}
}

const decodeMeta = (metadata: Map<string, string> | null | undefined): TraceMeta | Fail => {
  const get = (key: string): string | undefined => metadata?.get(key)
  const version = get(META_KEYS.schemaVersion)
  if (version === undefined)
    return new Fail(`not a Spade trace (the Arrow schema metadata has no "${META_KEYS.schemaVersion}" key)`)
  if (version !== String(TRACE_SCHEMA_VERSION))
    return new Fail(
      `trace schema version ${/^\d{1,6}$/.test(version) ? version : show(version)} is not supported; this Spade reads version ${TRACE_SCHEMA_VERSION} (re-trace the run with this Spade)`,
    )
  const missing = Object.values(META_KEYS).find((k) => get(k) === undefined)
  if (missing !== undefined) return new Fail(`run metadata "${missing}" is missing from the Arrow schema metadata`)
  let methodParams: unknown
  try {
    methodParams = JSON.parse(get(META_KEYS.methodParams)!)
  } catch {
    return new Fail(`run metadata "${META_KEYS.methodParams}" is not valid JSON`)
  }
  const seedText = get(META_KEYS.seed)!
  const candidate = {
    schemaVersion: TRACE_SCHEMA_VERSION,
    model: get(META_KEYS.model),
    dataset: get(META_KEYS.dataset),
    method: get(META_KEYS.method),
    methodParams,
    seed: /^-?\d+$/.test(seedText) ? Number(seedText) : seedText,
    engineVersion: get(META_KEYS.engineVersion),
  }
  const decoded = Schema.decodeUnknownEither(TraceMeta, { errors: "all" })(candidate)
  if (Either.isRight(decoded)) return decoded.right
  const { path, message } = firstIssue(decoded.left)
  return new Fail(`run metadata "spade.${path.split("_")[0]}": ${message}`)
}

const decodeTable = (table: Table, meta: TraceMeta, byteLength: number): ReadonlyArray<TraceRecord> | Fail => {
  const fields = table.schema.fields
  const columns: Array<{ readonly spec: ColumnSpec; readonly column: Column<unknown> }> = []
  for (const spec of traceColumns) {
    const index = table.names.indexOf(spec.name)
    if (index < 0 && spec.optional === true) continue
    if (index < 0) return new Fail(`missing column "${spec.name}" (not a complete Spade trace v${meta.schemaVersion})`)
    const type = fields[index]!.type
    if (!accepts(spec.kind, type))
      return new Fail(`column "${spec.name}" has type ${describeType(type)}, expected ${spec.kind}`)
    columns.push({ spec, column: table.getChildAt(index) })
  }
  // A damaged length field can claim billions of rows; every row costs at least a byte per column.
  if (table.numRows * traceColumns.length > byteLength)
    return new Fail(`corrupt Arrow file (claims ${table.numRows} rows, more than ${byteLength} bytes can hold)`)
  for (const { spec, column } of columns)
    if (column.length !== table.numRows)
      return new Fail(
        `corrupt Arrow file (column "${spec.name}" has ${column.length} rows, the table ${table.numRows})`,
      )
  const records: Array<TraceRecord> = []
  for (let row = 0; row < table.numRows; row++) {
    const raw: Record<string, unknown> = {}
    const groups = new Map<string, { nulls: number; total: number }>()
    const absent: Array<{ readonly spec: ColumnSpec; readonly value: unknown }> = []
    for (const { spec, column } of columns) {
      const value = fromArrowValue(spec.kind, column.at(row))
      if (spec.absentWhenNull === true) {
        if (value !== null) absent.push({ spec, value })
        continue
      }
      setPath(raw, spec.path, value)
      if (spec.group !== null) {
        const g = groups.get(spec.group) ?? { nulls: 0, total: 0 }
        g.total++
        if (value === null) g.nulls++
        groups.set(spec.group, g)
      }
    }
    for (const [group, { nulls, total }] of groups) {
      if (nulls === total) setPath(raw, group.split("."), null)
      else if (nulls > 0)
        return new Fail(`row ${row}: the ${group.replaceAll(".", "_")}_* columns must be all null or all set`)
    }
    // Set after the groups resolve, so a value inside an object that is null as a whole is caught.
    for (const { spec, value } of absent) {
      const parent = spec.path.slice(0, -1)
      if (parent.length > 0 && getPath(raw, parent) === null)
        return new Fail(`row ${row}: column "${spec.name}" is set but the ${parent.join("_")}_* columns are null`)
      setPath(raw, spec.path, value)
    }
    const decoded = Schema.decodeUnknownEither(TraceRecord, { errors: "all", onExcessProperty: "error" })(raw)
    if (Either.isLeft(decoded)) {
      const { path, message } = firstIssue(decoded.left)
      return new Fail(`row ${row}, column "${path}": ${message}`)
    }
    const problem = recordProblem(decoded.right)
    if (problem !== null) return new Fail(`row ${row}: ${problem}`)
    records.push(decoded.right)
  }
  return records
}

const oneLine = (reason: string): string => {
  const flat = reason.replace(/\s*[\r\n]+\s*/g, " ")
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat
}

/**
 * Decode and validate a trace held in memory. `fileName` only labels errors. Never throws on bad
 * input: anything that is not a complete, consistent trace of this schema version is a TraceError.
 */
export const decodeTrace = (bytes: Uint8Array, fileName: string): Either.Either<Trace, TraceError> => {
  const fail = (reason: string) => Either.left(new TraceError({ file: fileName, reason: oneLine(reason) }))
  if (bytes.length < 12 || !hasMagicAt(bytes, 0)) {
    const isStream =
      bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xff && bytes[2] === 0xff && bytes[3] === 0xff
    return fail(
      isStream
        ? "is an Arrow IPC stream; Spade traces use the Arrow IPC file format (Feather v2)"
        : "not an Arrow IPC file (it does not start with the ARROW1 magic bytes)",
    )
  }
  if (!hasMagicAt(bytes, bytes.length - MAGIC.length))
    return fail("truncated Arrow file (the footer is missing; was the write interrupted?)")
  try {
    const problem = arrowFileProblem(bytes)
    if (problem !== null) return fail(`corrupt Arrow file (${problem})`)
    const table = tableFromIPC(bytes)
    const meta = decodeMeta(table.schema.metadata)
    if (meta instanceof Fail) return fail(meta.reason)
    const records = decodeTable(table, meta, bytes.length)
    if (records instanceof Fail) return fail(records.reason)
    return Either.right({ meta, records })
  } catch (e) {
    return fail(`corrupt Arrow file (${e instanceof Error ? e.message : String(e)})`)
  }
}
