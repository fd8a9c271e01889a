import { Either, Schema } from "effect"
import { inflateSync } from "fflate"
import * as zlib from "node:zlib"
import { toConfigError } from "../config/index.ts"
import { TraceError } from "./errors.ts"
import { TILE, TRACE_SCHEMA_VERSION, TraceMeta, TraceRecord, type OperandTrace, type Trace } from "./schema.ts"

/**
 * The PyTorch recorder's file (python/spade_recorder): a numpy .npz, which numpy writes with no
 * other library. np.savez stores its members (ZIP method 0), np.savez_compressed deflates them
 * (method 8); both are read. Layout, format version 1:
 *
 *   spade.npy     uint8[]  UTF-8 JSON {"format": "spade-trace-npz", "formatVersion": 1,
 *                          "meta": TraceMeta, "records": [TraceRecord, ...]}
 *   masks.npy     uint8[]  every operand's packed mask, concatenated
 *   row_nnz.npy   int32[]  every operand's per-row nonzero counts, concatenated
 *   tile_nnz.npy  int32[]  every operand's per-tile nonzero counts, concatenated
 *
 * In each operand (a, b, out) of a record, `mask`, `rowNnz` and `tileNnz` are [offset, length]
 * into the matching flat array; `temporal.events` and `temporal.activationNnz`, when present, are
 * inline integer lists; every other field is the TraceRecord's own. Each record is then
 * decoded with the same schema the Arrow reader uses and its redundant fields cross-checked.
 */
export const NPZ_FORMAT = "spade-trace-npz"
export const NPZ_FORMAT_VERSION = 1

/** Member name, the operand field it feeds, and the element kind it holds. */
export const NPZ_ARRAYS = [
  { member: "masks", field: "mask", kind: "u8" },
  { member: "row_nnz", field: "rowNnz", kind: "i32" },
  { member: "tile_nnz", field: "tileNnz", kind: "i32" },
] as const
export const NPZ_HEADER = "spade"

class Fail {
  constructor(readonly reason: string) {}
}

// ---------------------------------------------------------------------------------------------
// ZIP: our own bounds-checked walk of the central directory. fflate's unzipSync trusts every
// size and offset it reads (a damaged size allocates whatever it says, a short entry is silently
// cut), so we locate and check each member ourselves and hand fflate only the deflate streams.

const CRC_TABLE = (() => {
  const t = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t[n] = c >>> 0
  }
  return t
})()

const crc32Js = (data: Uint8Array): number => {
  let c = 0xffffffff
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

// Node's native CRC-32 (20.15 and later) is many times faster on traces of hundreds of MB.
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32
const crc32 = (data: Uint8Array): number => (nativeCrc32 === undefined ? crc32Js(data) : nativeCrc32(data) >>> 0)

const END = 0x06054b50
const CENTRAL = 0x02014b50
const LOCAL = 0x04034b50
const END64 = 0x06064b50
const LOCATOR64 = 0x07064b50
/** Deflate cannot expand more than about 1032:1; a size claiming more is damage, not data. */
const MAX_INFLATE_RATIO = 1100

/** Whether the bytes start like a ZIP archive (a member, or an empty archive's end record). */
export const looksLikeZip = (bytes: Uint8Array): boolean =>
  bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && (bytes[2] === 3 || bytes[2] === 5)

const readZip = (bytes: Uint8Array, wanted: ReadonlySet<string>): Map<string, Uint8Array> | Fail => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const u16 = (at: number) => view.getUint16(at, true)
  const u32 = (at: number) => view.getUint32(at, true)
  const u64 = (at: number): number => {
    const v = view.getBigUint64(at, true)
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v)
  }
  if (!looksLikeZip(bytes)) return new Fail("not a .npz file (it does not start with the ZIP signature PK)")
  let end = -1
  for (let at = bytes.length - 22; at >= 0 && at >= bytes.length - 22 - 0xffff; at--)
    if (u32(at) === END) {
      end = at
      break
    }
  if (end < 0) return new Fail("truncated .npz (the ZIP directory at the end is missing; was the write interrupted?)")
  let count = u16(end + 10)
  let directory = u32(end + 16)
  if ((count === 0xffff || directory === 0xffffffff) && end >= 20 && u32(end - 20) === LOCATOR64) {
    const at = u64(end - 12)
    if (at + 56 > bytes.length || u32(at) !== END64) return new Fail("corrupt .npz (bad ZIP64 directory record)")
    count = u64(at + 32)
    directory = u64(at + 48)
  }
  // Every directory entry takes at least 46 bytes: a count beyond that is damage.
  if (directory > end || count * 46 > end - directory)
    return new Fail(`corrupt .npz (the ZIP directory claims ${count} members at offset ${directory})`)
  const out = new Map<string, Uint8Array>()
  let at = directory
  for (let i = 0; i < count; i++) {
    if (at + 46 > end || u32(at) !== CENTRAL) return new Fail(`corrupt .npz (ZIP directory entry ${i} is damaged)`)
    const flags = u16(at + 8)
    const method = u16(at + 10)
    const crc = u32(at + 16)
    let packed = u32(at + 20)
    let size = u32(at + 24)
    const nameLength = u16(at + 28)
    const extraLength = u16(at + 30)
    const next = at + 46 + nameLength + extraLength + u16(at + 32)
    let offset = u32(at + 42)
    if (next > end) return new Fail(`corrupt .npz (ZIP directory entry ${i} runs past the directory)`)
    const name = new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLength))
    // ZIP64 extra field (id 1): the 64-bit values of whichever of size, packed, offset are 0xffffffff.
    for (let e = at + 46 + nameLength; e + 4 <= at + 46 + nameLength + extraLength; e += 4 + u16(e + 2)) {
      if (u16(e) !== 1) continue
      let f = e + 4
      if (size === 0xffffffff) {
        size = u64(f)
        f += 8
      }
      if (packed === 0xffffffff) {
        packed = u64(f)
        f += 8
      }
      if (offset === 0xffffffff) offset = u64(f)
    }
    at = next
    if (!wanted.has(name)) continue
    if (out.has(name)) return new Fail(`corrupt .npz (member ${name} appears twice)`)
    if ((flags & 1) !== 0) return new Fail(`member ${name} is encrypted`)
    if (method !== 0 && method !== 8)
      return new Fail(
        `member ${name} uses ZIP compression method ${method}; expected 0 (np.savez) or 8 (np.savez_compressed)`,
      )
    if (offset + 30 > bytes.length || u32(offset) !== LOCAL)
      return new Fail(`corrupt .npz (member ${name}'s local header is not where the directory says)`)
    const start = offset + 30 + u16(offset + 26) + u16(offset + 28)
    if (start + packed > bytes.length) return new Fail(`truncated .npz (member ${name} runs past the end of the file)`)
    const raw = bytes.subarray(start, start + packed)
    let data: Uint8Array
    if (method === 0) {
      if (size !== packed) return new Fail(`corrupt .npz (stored member ${name} has size ${size} but ${packed} bytes)`)
      data = raw
    } else {
      if (size > packed * MAX_INFLATE_RATIO + 1024)
        return new Fail(`corrupt .npz (member ${name} claims ${size} bytes from ${packed} compressed)`)
      try {
        data = inflateSync(raw, { out: new Uint8Array(size + 1) })
      } catch (e) {
        return new Fail(`corrupt .npz (member ${name} does not inflate: ${e instanceof Error ? e.message : String(e)})`)
      }
      if (data.length !== size)
        return new Fail(`corrupt .npz (member ${name} inflates to ${data.length} bytes, the directory says ${size})`)
    }
    if (crc32(data) !== crc) return new Fail(`corrupt .npz (member ${name} fails its CRC-32 check)`)
    out.set(name, data)
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// .npy: the header is a Python dict literal; we accept the one-dimensional little-endian arrays
// the recorder writes (and int64 counts, which other writers produce by default).

type Kind = "u8" | "i32"

const DESCRS: Record<Kind, ReadonlyArray<string>> = {
  u8: ["|u1", "<u1"],
  i32: ["<i4", "<i8", "<u4", "<i2", "<u2", "|u1", "<u1"],
}

const itemSize = (descr: string): number => Number(descr.slice(2))

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

const parseNpy = (name: string, bytes: Uint8Array, kind: Kind): Uint8Array | Int32Array | Fail => {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]
  if (bytes.length < 10 || !magic.every((b, i) => bytes[i] === b))
    return new Fail(`${name} is not a .npy array (no \\x93NUMPY magic)`)
  const major = bytes[6]!
  if (major < 1 || major > 3) return new Fail(`${name}: .npy format version ${major} is not supported (1 to 3 are)`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const headerLength = major === 1 ? view.getUint16(8, true) : bytes.length >= 12 ? view.getUint32(8, true) : -1
  const headerStart = major === 1 ? 10 : 12
  if (headerLength < 0 || headerStart + headerLength > bytes.length) return new Fail(`${name}: truncated .npy header`)
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(headerStart, headerStart + headerLength),
  )
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1]
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1]
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1]
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    return new Fail(`${name}: .npy header lacks descr, fortran_order or shape (${JSON.stringify(header.trim())})`)
  if (!DESCRS[kind].includes(descr))
    return new Fail(
      `${name}: dtype ${descr}, expected ${kind === "u8" ? "uint8 (|u1)" : "int32 (<i4) or another little-endian integer"}`,
    )
  if (fortran !== "False") return new Fail(`${name}: fortran_order is True, expected False (C order)`)
  const dims = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
  if (dims.length !== 1 || !/^\d+$/.test(dims[0]!))
    return new Fail(`${name}: shape (${shapeText.trim()}), expected a one-dimensional array`)
  const length = Number(dims[0])
  const size = itemSize(descr)
  const dataStart = headerStart + headerLength
  const expected = length * size
  if (bytes.length - dataStart !== expected)
    return new Fail(
      `${name}: expected ${expected} bytes of data for shape (${length},) of ${descr}, got ${bytes.length - dataStart}`,
    )
  // A view: resolving each record's [offset, length] copies what the record keeps.
  if (kind === "u8") return bytes.subarray(dataStart)
  if (descr === "<i4" && LITTLE_ENDIAN) return new Int32Array(bytes.slice(dataStart).buffer)
  const out = new Int32Array(length)
  for (let i = 0; i < length; i++) {
    const at = dataStart + i * size
    const v =
      size === 8
        ? Number(view.getBigInt64(at, true))
        : size === 4
          ? descr[1] === "u"
            ? view.getUint32(at, true)
            : view.getInt32(at, true)
          : size === 2
            ? descr[1] === "u"
              ? view.getUint16(at, true)
              : view.getInt16(at, true)
            : view.getUint8(at)
    if (v < -(2 ** 31) || v >= 2 ** 31) return new Fail(`${name}[${i}] = ${v} does not fit in int32`)
    out[i] = v
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Records.

const POPCOUNT = (() => {
  const t = new Uint8Array(256)
  for (let i = 1; i < 256; i++) t[i] = (i & 1) + t[i >>> 1]!
  return t
})()

const show = (v: unknown): string => {
  const text = JSON.stringify(v) ?? String(v)
  return text.length > 40 ? `${text.slice(0, 40)}…` : text
}

const tiles = (n: number): number => Math.ceil(n / TILE)

/** Most nonzeros in one aligned group of `m` along the axis; with groups, column groups restart per block. */
const nmViolation = (op: OperandTrace, groups: number): string | null => {
  if (op.nm === null) return null
  const { n, m, axis } = op.nm
  const bit = (r: number, c: number): number => {
    const i = r * op.cols + c
    return (op.mask[i >>> 3]! >>> (7 - (i & 7))) & 1
  }
  if (axis === "row") {
    for (let r = 0; r < op.rows; r++)
      for (let g = 0; g < op.cols; g += m) {
        let count = 0
        for (let c = g; c < Math.min(g + m, op.cols); c++) count += bit(r, c)
        if (count > n) return `row ${r} columns ${g}..${Math.min(g + m, op.cols) - 1} hold ${count} nonzeros`
      }
    return null
  }
  const per = op.rows / groups
  for (let c = 0; c < op.cols; c++)
    for (let block = 0; block < groups; block++)
      for (let g = 0; g < per; g += m) {
        let count = 0
        const first = block * per + g
        const last = block * per + Math.min(g + m, per) - 1
        for (let r = first; r <= last; r++) count += bit(r, c)
        if (count > n) return `column ${c} rows ${first}..${last} hold ${count} nonzeros`
      }
  return null
}

/**
 * Per-row and per-tile set bits of a mask, eight columns at a time from any bit offset (two byte
 * reads and a shift), so rows that do not start on a byte boundary cost no more than those that do.
 */
const countMask = (mask: Uint8Array, rows: number, cols: number) => {
  const rowNnz = new Int32Array(rows)
  const tileCols = tiles(cols)
  const tileNnz = new Int32Array(tiles(rows) * tileCols)
  const last = mask.length - 1
  const chunks = cols >>> 3
  const rest = cols & 7
  const restMask = (0xff << (8 - rest)) & 0xff
  let nnz = 0
  for (let r = 0; r < rows; r++) {
    let p = r * cols
    const tileBase = (r >>> 4) * tileCols
    let inRow = 0
    for (let c = 0; c <= chunks; c++, p += 8) {
      if (c === chunks && rest === 0) break
      const i = p >>> 3
      const s = p & 7
      const window = ((mask[i]! << s) | ((i < last ? mask[i + 1]! : 0) >>> (8 - s))) & 0xff
      const count = POPCOUNT[c === chunks ? window & restMask : window]!
      inRow += count
      tileNnz[tileBase + (c >>> 1)]! += count
    }
    rowNnz[r] = inRow
    nnz += inRow
  }
  return { rowNnz, tileNnz, nnz }
}

/** What is wrong with one operand of a decoded record, as `<role>.<field>: ...`, or null. */
const operandProblem = (
  role: string,
  op: OperandTrace,
  rows: number,
  rowsWhy: string,
  cols: number,
  colsWhy: string,
  groups: number,
): string | null => {
  if (op.rows !== rows) return `${role}.rows: expected ${rows} (${rowsWhy}), got ${op.rows}`
  if (op.cols !== cols) return `${role}.cols: expected ${cols} (${colsWhy}), got ${op.cols}`
  const total = rows * cols
  const maskBytes = Math.ceil(total / 8)
  if (op.mask.length !== maskBytes)
    return `${role}.mask: expected ${maskBytes} bytes for ${rows}×${cols} bits, got ${op.mask.length}`
  if (op.rowNnz.length !== rows)
    return `${role}.rowNnz: expected ${rows} entries (one per row), got ${op.rowNnz.length}`
  const tileCount = tiles(rows) * tiles(cols)
  if (op.tileNnz.length !== tileCount)
    return `${role}.tileNnz: expected ${tileCount} entries (${tiles(rows)}×${tiles(cols)} tiles of ${TILE}×${TILE}), got ${op.tileNnz.length}`
  const pad = maskBytes * 8 - total
  if (pad > 0 && (op.mask[maskBytes - 1]! & ((1 << pad) - 1)) !== 0)
    return `${role}.mask: the ${pad} padding bits after the last element must be 0`
  const counted = countMask(op.mask, rows, cols)
  if (counted.nnz !== op.nnz) return `${role}.nnz: ${op.nnz}, but the mask has ${counted.nnz} set bits`
  const density = total === 0 ? 0 : op.nnz / total
  if (Math.abs(op.density - density) > 1e-12)
    return `${role}.density: expected nnz/(rows·cols) = ${op.nnz}/${total} = ${density}, got ${op.density}`
  for (let r = 0; r < rows; r++)
    if (counted.rowNnz[r] !== op.rowNnz[r])
      return `${role}.rowNnz[${r}]: ${op.rowNnz[r]}, but row ${r} of the mask has ${counted.rowNnz[r]} set bits`
  for (let t = 0; t < tileCount; t++)
    if (counted.tileNnz[t] !== op.tileNnz[t])
      return `${role}.tileNnz[${t}]: ${op.tileNnz[t]}, but tile ${t} of the mask has ${counted.tileNnz[t]} set bits`
  const nm = nmViolation(op, groups)
  if (nm !== null) return `${role}.nm: declares ${op.nm!.n}:${op.nm!.m} along ${op.nm!.axis}, but ${nm}`
  return null
}

/** Cross-checks the schema cannot express: operand shapes against the GEMM, counts against the masks. */
const recordProblem = (r: TraceRecord): string | null => {
  const groups = r.groups ?? 1
  const { m, n, k } = r.gemm
  const times = (dim: string, v: number) => (groups === 1 ? `${dim} = ${v}` : `groups·${dim} = ${groups}·${v}`)
  const problem =
    operandProblem("a", r.a, groups * m, times("m", m), k, `k = ${k}`, groups) ??
    operandProblem("b", r.b, groups * k, times("k", k), n, `n = ${n}`, groups) ??
    operandProblem("out", r.out, groups * m, times("m", m), n, `n = ${n}`, groups)
  if (problem !== null) return problem
  if (r.op === "conv2d" && r.conv === null) return "conv: expected the convolution's dims for op conv2d, got null"
  if (r.op !== "conv2d" && r.conv !== null) return `conv: expected null for op ${r.op}`
  if (r.conv !== null && (r.conv.groups ?? 1) !== groups)
    return `conv.groups: expected ${groups} (the record's groups: a conv's GEMM groups are its channel groups), got ${r.conv.groups ?? 1}`
  return null
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

type Flat = { readonly mask: Uint8Array; readonly rowNnz: Int32Array; readonly tileNnz: Int32Array }

/** Replace each operand's [offset, length] references with the arrays they point at. */
const resolveBulk = (raw: Record<string, unknown>, flat: Flat): Record<string, unknown> | Fail => {
  const out: Record<string, unknown> = { ...raw }
  for (const role of ["a", "b", "out"] as const) {
    const op = raw[role]
    if (!isObject(op)) continue
    const resolved: Record<string, unknown> = { ...op }
    for (const { member, field } of NPZ_ARRAYS) {
      if (!(field in op)) continue
      const ref = op[field]
      const array = flat[field]
      const ok =
        Array.isArray(ref) &&
        ref.length === 2 &&
        ref.every((x) => Number.isSafeInteger(x) && x >= 0) &&
        ref[0] + ref[1] <= array.length
      if (!ok)
        return new Fail(
          `${role}.${field}: expected [offset, length] within ${member}.npy (${array.length} entries), got ${show(ref)}`,
        )
      // Masks may be views into the caller's buffer, so they are copied; the counts are ours.
      resolved[field] =
        array instanceof Uint8Array ? array.slice(ref[0], ref[0] + ref[1]) : array.subarray(ref[0], ref[0] + ref[1])
    }
    out[role] = resolved
  }
  // Per-frame counts are short (one per frame), so they travel inline as JSON integer lists.
  const temporal = raw.temporal
  if (isObject(temporal)) {
    const lists: Record<string, unknown> = { ...temporal }
    for (const key of ["events", "activationNnz"]) {
      const v = temporal[key]
      if (!Array.isArray(v)) continue
      if (!v.every((x) => Number.isInteger(x) && x >= -(2 ** 31) && x < 2 ** 31))
        return new Fail(`temporal.${key}: expected a list of int32 counts, got ${show(v)}`)
      lists[key] = Int32Array.from(v as ReadonlyArray<number>)
    }
    out.temporal = lists
  }
  return out
}

/** The first schema issue as `<prefix>.<path>: <what was expected>`. */
const issue = (prefix: string, e: Parameters<typeof toConfigError>[1]): string => {
  const c = toConfigError("", e)
  const path = [prefix, c.path].filter((p) => p !== "").join(".")
  return path === "" ? c.expected : `${path}: ${c.expected}`
}

const label = (raw: unknown, i: number): string =>
  isObject(raw) && typeof raw.layer === "string" && typeof raw.pass === "string"
    ? `record ${i} (layer ${raw.layer.length > 40 ? `${raw.layer.slice(0, 40)}…` : raw.layer}, pass ${raw.pass})`
    : `record ${i}`

const decodeRecords = (header: Record<string, unknown>, flat: Flat): ReadonlyArray<TraceRecord> | Fail => {
  const records = header.records
  if (!Array.isArray(records)) return new Fail(`spade.npy: records: expected an array, got ${show(records)}`)
  const out: Array<TraceRecord> = []
  for (let i = 0; i < records.length; i++) {
    const raw: unknown = records[i]
    const where = label(raw, i)
    if (!isObject(raw)) return new Fail(`${where}: expected an object, got ${show(raw)}`)
    const resolved = resolveBulk(raw, flat)
    if (resolved instanceof Fail) return new Fail(`${where}: ${resolved.reason}`)
    const decoded = Schema.decodeUnknownEither(TraceRecord, { errors: "all", onExcessProperty: "error" })(resolved)
    if (Either.isLeft(decoded)) return new Fail(`${where}: ${issue("", decoded.left)}`)
    const problem = recordProblem(decoded.right)
    if (problem !== null) return new Fail(`${where}: ${problem}`)
    out.push(decoded.right)
  }
  return out
}

const decodeHeader = (bytes: Uint8Array): Record<string, unknown> | Fail => {
  let header: unknown
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes))
  } catch (e) {
    return new Fail(`spade.npy is not UTF-8 JSON (${e instanceof Error ? e.message : String(e)})`)
  }
  if (!isObject(header)) return new Fail(`spade.npy: expected a JSON object, got ${show(header)}`)
  if (header.format !== NPZ_FORMAT)
    return new Fail(
      `not a Spade recorder file (spade.npy's format is ${show(header.format)}, expected "${NPZ_FORMAT}")`,
    )
  if (header.formatVersion !== NPZ_FORMAT_VERSION)
    return new Fail(
      `recorder format version ${show(header.formatVersion)} is not supported; this Spade reads version ${NPZ_FORMAT_VERSION} (update Spade or the recorder)`,
    )
  return header
}

const oneLine = (reason: string): string => {
  const flat = reason.replace(/\s*[\r\n]+\s*/g, " ")
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat
}

/**
 * Decode and validate a recorder .npz held in memory. `fileName` only labels errors. Never throws
 * on bad input: anything that is not a complete, consistent trace is a one-line TraceError naming
 * the record, its layer and pass, the field path and what was expected.
 */
export const decodeNpzTrace = (bytes: Uint8Array, fileName: string): Either.Either<Trace, TraceError> => {
  const fail = (reason: string) => Either.left(new TraceError({ file: fileName, reason: oneLine(reason) }))
  try {
    const wanted = [NPZ_HEADER, ...NPZ_ARRAYS.map((a) => a.member)]
    const members = readZip(bytes, new Set(wanted.map((w) => `${w}.npy`)))
    if (members instanceof Fail) return fail(members.reason)
    const missing = wanted.find((w) => !members.has(`${w}.npy`))
    if (missing !== undefined)
      return fail(`${missing}.npy is missing (a recorder .npz holds ${wanted.map((w) => `${w}.npy`).join(", ")})`)
    const arrays = new Map<string, Uint8Array | Int32Array>()
    const kinds: ReadonlyArray<readonly [string, Kind]> = [
      [NPZ_HEADER, "u8"],
      ...NPZ_ARRAYS.map((a) => [a.member, a.kind] as const),
    ]
    for (const [name, kind] of kinds) {
      const parsed = parseNpy(`${name}.npy`, members.get(`${name}.npy`)!, kind)
      if (parsed instanceof Fail) return fail(parsed.reason)
      arrays.set(name, parsed)
    }
    const header = decodeHeader(arrays.get(NPZ_HEADER) as Uint8Array)
    if (header instanceof Fail) return fail(header.reason)
    if (!isObject(header.meta)) return fail(`meta: expected an object (the run metadata), got ${show(header.meta)}`)
    const version = header.meta.schemaVersion
    if (version !== undefined && version !== TRACE_SCHEMA_VERSION)
      return fail(
        `trace schema version ${show(version)} is not supported; this Spade reads version ${TRACE_SCHEMA_VERSION}`,
      )
    const meta = Schema.decodeUnknownEither(TraceMeta, { errors: "all", onExcessProperty: "error" })(header.meta)
    if (Either.isLeft(meta)) return fail(issue("meta", meta.left))
    const flat: Flat = {
      mask: arrays.get("masks") as Uint8Array,
      rowNnz: arrays.get("row_nnz") as Int32Array,
      tileNnz: arrays.get("tile_nnz") as Int32Array,
    }
    const records = decodeRecords(header, flat)
    if (records instanceof Fail) return fail(records.reason)
    return Either.right({ meta: meta.right, records })
  } catch (e) {
    return fail(`corrupt .npz (${e instanceof Error ? e.message : String(e)})`)
  }
}
