import { Either } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import onnxProto, { type onnx } from "onnx-proto"
import { OnnxError } from "./errors.ts"

/**
 * Reading the ModelProto: protobuf decoding (onnx-proto's generated code on protobufjs 6), the
 * checks that make a decoded message an ONNX model, and tensor data in every layout ONNX allows
 * (raw little-endian bytes, typed repeated fields, external files).
 */

/** ai.onnx opsets whose semantics for the supported operators this importer implements. */
export const MIN_OPSET = 9
export const MAX_OPSET = 22

/** int64 fields arrive as numbers or as protobufjs Long objects (the `long` package is installed). */
export const int = (v: unknown): number => {
  if (typeof v === "number") return v
  if (typeof v === "bigint") return Number(v)
  if (typeof v === "object" && v !== null && "toNumber" in v && typeof v.toNumber === "function")
    return Number(v.toNumber())
  throw new TypeError(`not an integer: ${String(v)}`)
}

export interface OnnxValueInfo {
  readonly name: string
  /** Per dim: its size, or its symbolic name (a dynamic axis), or null if unknown. Null: no shape at all. */
  readonly dims: ReadonlyArray<number | string | null> | null
  readonly elemType: number
}

export interface OnnxNode {
  readonly index: number
  /** The node's name, or `<OpType>_<index>` when the file leaves it empty. */
  readonly name: string
  readonly opType: string
  /** "" for the default ai.onnx domain. */
  readonly domain: string
  /** "" marks an omitted optional input. */
  readonly inputs: ReadonlyArray<string>
  readonly outputs: ReadonlyArray<string>
  readonly attributes: ReadonlyMap<string, onnx.IAttributeProto>
}

/** A decoded, checked ONNX model: the graph as lists and maps, tensors still undecoded. */
export interface OnnxModel {
  readonly file: string
  /** SHA-256 of the file's bytes (hex): what caches of runs starting from its weights key on. */
  readonly sha256: string
  readonly irVersion: number
  readonly opset: number
  readonly producer: string
  readonly graphName: string
  /** Graph inputs that are not initializers: the data the model reads. */
  readonly inputs: ReadonlyArray<OnnxValueInfo>
  /** Graph inputs with an initializer of the same name (older exporters list weights as inputs too). */
  readonly declaredInputs: ReadonlyMap<string, OnnxValueInfo>
  readonly outputs: ReadonlyArray<OnnxValueInfo>
  readonly nodes: ReadonlyArray<OnnxNode>
  readonly initializers: ReadonlyMap<string, onnx.ITensorProto>
}

export const TensorType = onnxProto.onnx.TensorProto.DataType
export const AttributeType = onnxProto.onnx.AttributeProto.AttributeType

const typeNames: Record<number, string> = Object.fromEntries(
  Object.entries(TensorType)
    .filter((e): e is [string, number] => typeof e[1] === "number")
    .map(([k, v]) => [v, k]),
)
export const typeName = (t: number): string => typeNames[t] ?? `type ${t}`

const valueInfo = (v: onnx.IValueInfoProto): OnnxValueInfo => {
  const tensor = v.type?.tensorType
  const shape = tensor?.shape
  return {
    name: v.name ?? "",
    elemType: tensor?.elemType ?? 0,
    dims:
      shape === undefined || shape === null
        ? null
        : (shape.dim ?? []).map((d) =>
            d.dimValue !== undefined && d.dimValue !== null && int(d.dimValue) > 0
              ? int(d.dimValue)
              : d.dimParam !== undefined && d.dimParam !== null && d.dimParam !== ""
                ? d.dimParam
                : null,
          ),
  }
}

/** Protobuf decoding alone: any failure (truncation, a file of another kind) becomes one line. */
export const decodeModelProto = (file: string, bytes: Uint8Array): Either.Either<onnx.ModelProto, OnnxError> => {
  const fail = (reason: string) => Either.left(new OnnxError({ file, where: "", reason }))
  if (bytes.length === 0) return fail("empty file, expected an ONNX ModelProto")
  let proto: onnx.ModelProto
  try {
    proto = onnxProto.onnx.ModelProto.decode(bytes)
  } catch (e) {
    // protobufjs says "index out of range: 7795 + 3 > 7827" for a cut file, "invalid wire type" for another format.
    const detail = (e instanceof Error ? e.message : String(e)).split("\n")[0]
    // Serializers write fields in number order, so a ModelProto starts with ir_version (field 1,
    // varint: tag byte 0x08). Anything else that fails to decode is some other file.
    const truncated = bytes[0] === 0x08 && /index out of range/.test(detail ?? "")
    return fail(
      `${truncated ? "truncated" : "not an ONNX file"} (${bytes.length} bytes; protobuf decoding failed: ${detail}); ` +
        "expected an ONNX ModelProto as torch.onnx.export writes",
    )
  }
  if (proto.graph === null || proto.graph === undefined || int(proto.irVersion) <= 0)
    return fail("not an ONNX model: expected a ModelProto with ir_version and a graph")
  return Either.right(proto)
}

/** The checks that make a decoded ModelProto a model this importer can read. */
export const checkModel = (file: string, proto: onnx.ModelProto, sha256 = ""): Either.Either<OnnxModel, OnnxError> => {
  const fail = (where: string, reason: string) => Either.left(new OnnxError({ file, where, reason }))
  const graph = proto.graph!
  const defaults = proto.opsetImport.filter((o) => o.domain === "" || o.domain === "ai.onnx" || o.domain == null)
  if (defaults.length === 0) return fail("opset_import", "has no ai.onnx opset (expected one, e.g. version 17)")
  const opset = int(defaults[0]!.version)
  if (opset < MIN_OPSET || opset > MAX_OPSET)
    return fail("opset_import", `ai.onnx opset ${opset} is not supported, expected ${MIN_OPSET} to ${MAX_OPSET}`)
  const initializers = new Map<string, onnx.ITensorProto>()
  for (const [i, t] of (graph.initializer ?? []).entries()) {
    if (t.name === undefined || t.name === null || t.name === "") return fail(`graph.initializer[${i}]`, "has no name")
    initializers.set(t.name, t)
  }
  if ((graph.sparseInitializer ?? []).length > 0)
    return fail(
      "graph.sparse_initializer",
      "sparse initializers are not supported, expected dense initializers (zeros stored)",
    )
  const inputs: OnnxValueInfo[] = []
  const declaredInputs = new Map<string, OnnxValueInfo>()
  for (const v of graph.input ?? []) {
    const info = valueInfo(v)
    if (initializers.has(info.name)) declaredInputs.set(info.name, info)
    else inputs.push(info)
  }
  const nodes = (graph.node ?? []).map(
    (n, index): OnnxNode => ({
      index,
      name: n.name !== undefined && n.name !== null && n.name !== "" ? n.name : `${n.opType ?? "node"}_${index}`,
      opType: n.opType ?? "",
      domain: n.domain === "ai.onnx" ? "" : (n.domain ?? ""),
      inputs: n.input ?? [],
      outputs: n.output ?? [],
      attributes: new Map((n.attribute ?? []).map((a) => [a.name ?? "", a])),
    }),
  )
  return Either.right({
    file,
    sha256,
    irVersion: int(proto.irVersion),
    opset,
    producer: [proto.producerName, proto.producerVersion].filter((s) => s !== undefined && s !== "").join(" "),
    graphName: graph.name ?? "",
    inputs,
    declaredInputs,
    outputs: (graph.output ?? []).map(valueInfo),
    nodes,
    initializers,
  })
}

/** Read and check a file. */
export const readOnnxFile = (file: string): Either.Either<OnnxModel, OnnxError> => {
  let bytes: Uint8Array
  try {
    bytes = fs.readFileSync(file)
  } catch (e) {
    const code = typeof e === "object" && e !== null && "code" in e ? String(e.code) : String(e)
    return Either.left(new OnnxError({ file, where: "", reason: `cannot read (${code})` }))
  }
  const sha256 = createHash("sha256").update(bytes).digest("hex")
  return Either.flatMap(decodeModelProto(file, bytes), (proto) => checkModel(file, proto, sha256))
}

/** A decoded constant: floats as float32 (weights), integers as float64 (shapes, axes, indices). */
export type ConstTensor =
  | { readonly kind: "float"; readonly dims: ReadonlyArray<number>; readonly data: Float32Array }
  | { readonly kind: "int"; readonly dims: ReadonlyArray<number>; readonly data: Float64Array }

export const sizeOf = (dims: ReadonlyArray<number>): number => dims.reduce((a, b) => a * b, 1)

const halfToFloat = (h: number): number => {
  const sign = h & 0x8000 ? -1 : 1
  const exp = (h >> 10) & 0x1f
  const frac = h & 0x3ff
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024)
  if (exp === 31) return frac === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN
  return sign * 2 ** (exp - 15) * (1 + frac / 1024)
}

/**
 * A tensor's values. `where` names it in errors. External data (weights in a side file, as exports
 * over 2 GB write them) is read relative to the model file, as ONNX specifies.
 */
export const decodeTensor = (
  file: string,
  where: string,
  t: onnx.ITensorProto,
): Either.Either<ConstTensor, OnnxError> => {
  const fail = (reason: string) => Either.left(new OnnxError({ file, where, reason }))
  const dims = (t.dims ?? []).map(int)
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) return fail(`has dims [${dims.join(", ")}], expected sizes >= 0`)
  const size = sizeOf(dims)
  const type = t.dataType ?? 0
  let raw: Uint8Array | null = t.rawData !== undefined && t.rawData !== null && t.rawData.length > 0 ? t.rawData : null
  if (t.dataLocation === onnxProto.onnx.TensorProto.DataLocation.EXTERNAL) {
    const entries = new Map((t.externalData ?? []).map((e) => [e.key ?? "", e.value ?? ""]))
    const location = entries.get("location")
    if (location === undefined || location === "") return fail("has external data without a location")
    const sideFile = path.resolve(path.dirname(file), location)
    const offset = Number(entries.get("offset") ?? 0)
    try {
      const all = fs.readFileSync(sideFile)
      const length = entries.has("length") ? Number(entries.get("length")) : all.length - offset
      if (offset + length > all.length)
        return fail(`external data ${location}: needs bytes ${offset}..${offset + length}, the file has ${all.length}`)
      raw = all.subarray(offset, offset + length)
    } catch {
      return fail(`cannot read its external data file ${sideFile}`)
    }
  }
  const width: Record<number, number> = {
    [TensorType.FLOAT]: 4,
    [TensorType.DOUBLE]: 8,
    [TensorType.FLOAT16]: 2,
    [TensorType.BFLOAT16]: 2,
    [TensorType.INT64]: 8,
    [TensorType.UINT64]: 8,
    [TensorType.INT32]: 4,
    [TensorType.UINT32]: 4,
    [TensorType.INT16]: 2,
    [TensorType.UINT16]: 2,
    [TensorType.INT8]: 1,
    [TensorType.UINT8]: 1,
    [TensorType.BOOL]: 1,
  }
  const bytes = width[type]
  if (bytes === undefined) return fail(`has data type ${typeName(type)}, expected a number type (FLOAT for weights)`)
  const isFloat =
    type === TensorType.FLOAT ||
    type === TensorType.DOUBLE ||
    type === TensorType.FLOAT16 ||
    type === TensorType.BFLOAT16
  const out = isFloat ? new Float32Array(size) : new Float64Array(size)
  if (raw !== null) {
    if (raw.length !== size * bytes)
      return fail(
        `holds ${raw.length} bytes of ${typeName(type)}, expected ${size * bytes} for dims [${dims.join(", ")}]`,
      )
    // ONNX raw data is little-endian whatever the host: read through a DataView, not a cast.
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength)
    for (let i = 0; i < size; i++) {
      const o = i * bytes
      switch (type) {
        case TensorType.FLOAT:
          out[i] = view.getFloat32(o, true)
          break
        case TensorType.DOUBLE:
          out[i] = view.getFloat64(o, true)
          break
        case TensorType.FLOAT16:
          out[i] = halfToFloat(view.getUint16(o, true))
          break
        case TensorType.BFLOAT16:
          out[i] = new Float32Array(new Uint32Array([view.getUint16(o, true) << 16]).buffer)[0]!
          break
        case TensorType.INT64:
          out[i] = Number(view.getBigInt64(o, true))
          break
        case TensorType.UINT64:
          out[i] = Number(view.getBigUint64(o, true))
          break
        case TensorType.INT32:
          out[i] = view.getInt32(o, true)
          break
        case TensorType.UINT32:
          out[i] = view.getUint32(o, true)
          break
        case TensorType.INT16:
          out[i] = view.getInt16(o, true)
          break
        case TensorType.UINT16:
          out[i] = view.getUint16(o, true)
          break
        case TensorType.INT8:
          out[i] = view.getInt8(o)
          break
        default:
          out[i] = view.getUint8(o)
      }
    }
  } else {
    // Typed fields: float_data (FLOAT), double_data, int64_data, uint64_data; int32_data holds every
    // narrower type, FLOAT16 and BFLOAT16 as their bit patterns.
    const typed: ReadonlyArray<unknown> =
      type === TensorType.FLOAT
        ? (t.floatData ?? [])
        : type === TensorType.DOUBLE
          ? (t.doubleData ?? [])
          : type === TensorType.INT64
            ? (t.int64Data ?? [])
            : type === TensorType.UINT64 || type === TensorType.UINT32
              ? (t.uint64Data ?? [])
              : (t.int32Data ?? [])
    if (typed.length !== size)
      return fail(`holds ${typed.length} values, expected ${size} for dims [${dims.join(", ")}]`)
    for (let i = 0; i < size; i++) {
      const v = int(typed[i])
      out[i] =
        type === TensorType.FLOAT16
          ? halfToFloat(v)
          : type === TensorType.BFLOAT16
            ? new Float32Array(new Uint32Array([v << 16]).buffer)[0]!
            : v
    }
  }
  return Either.right(
    out instanceof Float32Array ? { kind: "float", dims, data: out } : { kind: "int", dims, data: out },
  )
}

/**
 * Attribute readers: a missing attribute gives the default. Numbers are read whichever numeric type
 * the file used (an exporter may write Clip's bounds as INT): the value is what counts.
 */
export const attrInt = (node: OnnxNode, name: string, fallback: number): number => {
  const a = node.attributes.get(name)
  if (a === undefined) return fallback
  return a.type === AttributeType.FLOAT ? Math.trunc(a.f ?? fallback) : int(a.i ?? fallback)
}

export const attrFloat = (node: OnnxNode, name: string, fallback: number): number => {
  const a = node.attributes.get(name)
  if (a === undefined) return fallback
  return a.type === AttributeType.INT ? int(a.i ?? fallback) : (a.f ?? fallback)
}

export const attrInts = (node: OnnxNode, name: string): ReadonlyArray<number> | null => {
  const a = node.attributes.get(name)
  if (a === undefined) return null
  return a.type === AttributeType.FLOATS ? (a.floats ?? []).map(Math.trunc) : (a.ints ?? []).map(int)
}

export const attrString = (node: OnnxNode, name: string, fallback: string): string => {
  const a = node.attributes.get(name)
  return a === undefined || a.s === undefined || a.s === null ? fallback : new TextDecoder().decode(a.s)
}

export const attrTensor = (node: OnnxNode, name: string): onnx.ITensorProto | null => {
  const a = node.attributes.get(name)
  return a === undefined || a.t === undefined ? null : (a.t ?? null)
}
