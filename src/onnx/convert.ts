import { Either, ParseResult, Schema } from "effect"
import * as path from "node:path"
import { convWeightFromOihw, MODEL_INPUT, ModelConfig, type LayerConfig } from "../engine/index.ts"
import {
  contextOf,
  gather,
  headsOf,
  identityIds,
  isBlockOutput,
  Mismatch,
  projected,
  reshape as reshapeIds,
  slice,
  split,
  squeeze,
  tokenRows,
  transpose,
  unsqueeze,
  type Heads,
  type IdTensor,
} from "./attention.ts"
import { OnnxError } from "./errors.ts"
import { chwToHwcPermutation, isIdentity, linearWeightToSpade, permute } from "./layout.ts"
import { density, detectNm, type NmPattern } from "./nm.ts"
import {
  attrFloat,
  attrInt,
  attrInts,
  attrString,
  attrTensor,
  decodeTensor,
  int,
  sizeOf,
  type ConstTensor,
  type OnnxModel,
  type OnnxNode,
} from "./proto.ts"

/**
 * ONNX graph → Spade model (src/engine/model-config.ts's graph format) and weights in Spade's
 * layouts. Nodes are visited in file order (ONNX requires a topological order), keeping for every
 * ONNX value either a constant or the Spade layer that produces it with the value's two layouts
 * (ONNX NCHW dims, Spade's per-sample shape). Shapes are inferred here, not read from value_info:
 * the file's annotations are optional and this way every shape is one Spade agrees with.
 */

export interface ImportOptions {
  /** Ignore initializer values: shapes only (weights come from the engine's seeded init). */
  readonly shapesOnly?: boolean
  /** The model's name; default the file's stem. */
  readonly name?: string
}

/** What the import found about one weighted layer. */
export interface ImportedLayer {
  /** The Spade layer's name (traces and results use it). */
  readonly layer: string
  readonly node: string
  readonly opType: string
  /** The initializer holding the weight. */
  readonly initializer: string
  /** Spade's weight matrix: rows = Cout, cols = K (Cin, or R·S·Cin/groups), c fastest for convs. */
  readonly rows: number
  readonly cols: number
  /** Nonzero fraction of the stored weight; null for a shapes-only import. */
  readonly weightDensity: number | null
  /**
   * N:M along K in Spade's order (axis "row" of the Cout×K weight): what the engine computes and
   * traces, so what N:M hardware can use. Null if none or shapes only.
   */
  readonly nm: NmPattern | null
  /**
   * N:M along K in the file's order ([Cout, Cin, kH, kW] flattened per output; a linear after a
   * flatten reads C, H, W). It differs from `nm` when the pruner grouped along another order: a
   * linear after a flatten pruned along PyTorch's CHW inputs is N:M in the checkpoint but not in
   * Spade's HWC order, and a conv pruned along kW is N:M in the file but not along Spade's channels.
   */
  readonly fileNm: NmPattern | null
}

export interface ImportedModel {
  readonly file: string
  /** SHA-256 of the file (hex), to key caches of runs that start from its weights. */
  readonly sha256: string
  readonly config: ModelConfig
  /**
   * Parameters and buffers by the engine's names (`<layer>.weight`, `.bias`, `.running_mean`,
   * `.running_var`) in Spade's layouts; null for a shapes-only import.
   */
  readonly weights: ReadonlyMap<string, Float32Array> | null
  readonly layers: ReadonlyArray<ImportedLayer>
  readonly opset: number
  readonly producer: string
  /** The ONNX input: its name and dims (batch first, as declared) and how Spade lays it out. */
  readonly input: {
    readonly name: string
    readonly dims: ReadonlyArray<number | string | null>
    readonly layout: "nchw" | "flat" | "tokens"
  }
  /** Facts a user should know about the conversion (a trailing softmax kept, nodes dropped). */
  readonly notes: ReadonlyArray<string>
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }
type Draft = Mutable<LayerConfig>

/** An activation: the Spade layer that produces it (or the model input) and its two layouts. */
interface Act {
  readonly kind: "act"
  /** Spade layer name, or MODEL_INPUT. */
  readonly source: string
  /** The ONNX value the layer produced; aliases (Identity, a flatten Spade needs no layer for) keep it. */
  readonly origin: string
  /** ONNX dims, batch first. */
  readonly dims: ReadonlyArray<number>
  /** Spade's per-sample shape: [H, W, C], [T, D] or [F]. */
  readonly spade: ReadonlyArray<number>
  /** Flat values only: the ONNX (per-sample, row-major) index of each Spade position; null = same order. */
  readonly perm: Int32Array | null
}

interface Const {
  readonly kind: "const"
  readonly name: string
  readonly dims: ReadonlyArray<number>
  /** Null: declared (a graph input with a shape) but no data in the file. */
  readonly load: (() => ConstTensor) | null
}

type Value = Act | Const

/** A weight's dims always, its values unless the import is shapes only. */
interface Weight {
  readonly dims: ReadonlyArray<number>
  readonly data: Float32Array | null
}

/** Thrown inside the converter, caught at its boundary: the conversion is one long walk. */
class Fail extends Error {
  constructor(readonly error: OnnxError) {
    super(error.message)
  }
}

const show = (dims: ReadonlyArray<number | string | null>): string => `[${dims.join(", ")}]`
const describe = (node: OnnxNode): string => `node "${node.name}" (${node.opType})`

/** Ops folded when every input is a constant (shape arithmetic around Reshape). */
const FOLDABLE = new Set([
  "Identity",
  "Cast",
  "Gather",
  "Unsqueeze",
  "Squeeze",
  "Concat",
  "Reshape",
  "Add",
  "Sub",
  "Mul",
  "Div",
  "Sqrt",
  "Neg",
  "Pow",
])

export const SUPPORTED_OPS: ReadonlyArray<string> = [
  "Conv",
  "Gemm",
  "MatMul (with a constant weight)",
  "Relu",
  "Clip (min 0)",
  "MaxPool",
  "AveragePool",
  "GlobalAveragePool",
  "ReduceMean (over H and W, or over tokens)",
  "Pad (all zero, or zero padding before an AveragePool)",
  "Flatten",
  "Reshape (to [batch, -1])",
  "Squeeze (of [N, C, 1, 1])",
  "Add",
  "Sum",
  "Concat",
  "BatchNormalization",
  "LayerNormalization (and its opset < 17 spelling)",
  "Softmax",
  "Gelu",
  "the erf GELU pattern",
  "multi-head self-attention (a packed Q|K|V MatMul or Gemm, the Transpose, Reshape, Slice, Split or Gather " +
    "into heads, MatMul, a constant scale, Softmax, MatMul, the heads merged, an output MatMul or Gemm)",
  "Identity",
  "Dropout",
  "Constant",
  "Shape",
]

/**
 * A subgraph of elementwise nodes that is one Spade layer: the erf form PyTorch exports for GELU,
 * x·0.5·(1 + erf(x/√2)), and layer norm as opsets before 17 spell it, (x − mean)/√(var + eps)·γ + β.
 * `last` is the node whose output the layer replaces.
 */
type Pattern = {
  readonly x: string
  readonly last: number
  readonly nodes: ReadonlySet<number>
} & (
  | { readonly kind: "gelu" }
  | {
      readonly kind: "layernorm"
      readonly eps: number
      /** The values of γ and β, and the nodes that read them (for errors). */
      readonly scale: { readonly node: number; readonly name: string } | null
      readonly bias: { readonly node: number; readonly name: string } | null
    }
)

/** What a self-attention block needs from each of its two projections once its nodes have run. */
interface Projection {
  readonly node: OnnxNode
  /** Spade's layout, out×in; null for a shapes-only import. */
  readonly weight: Float32Array | null
  readonly outFeatures: number
  bias: Float32Array | null
  hasBias: boolean
}

/**
 * The nodes of one multi-head self-attention block, found before conversion from its two products
 * of activations (see src/onnx/attention.ts), and what running them found. `tail` holds the layout
 * ops after the output projection: the block ends at the first one whose value is [B, T, D] again.
 */
interface AttentionBlock {
  readonly nodes: Set<number>
  readonly input: string
  readonly inProjection: number
  readonly outProjection: number
  readonly scores: number
  readonly context: number
  /** Nodes whose value may be the block's output: the output projection (or its bias Add), then `tail`. */
  readonly ends: ReadonlyArray<number>
  x: Act | null
  heads: Heads | null
  qkv: Projection | null
  out: Projection | null
}

const ATTENTION =
  "multi-head self-attention as nn.MultiheadAttention exports it (a packed Q|K|V projection, per head " +
  "Q·Kᵀ/√dh, Softmax, ·V, the heads merged, an output projection)"

/** Ops that only move values: inside an attention block they run on element ids. */
const LAYOUT_OPS = new Set([
  "Transpose",
  "Reshape",
  "Slice",
  "Split",
  "Squeeze",
  "Unsqueeze",
  "Gather",
  "Identity",
  "Dropout",
])

class Converter {
  private readonly values = new Map<string, Value>()
  private readonly layers: Draft[] = []
  private readonly weights: Map<string, Float32Array> | null
  private readonly infos: ImportedLayer[] = []
  private readonly used = new Set<string>([MODEL_INPUT])
  private readonly uses = new Map<string, number>()
  private readonly producer = new Map<string, OnnxNode>()
  private readonly constantCache = new Map<string, ConstTensor>()
  private readonly notes: string[] = []
  /** Zero Pad outputs an AveragePool will read: the unpadded input and the padding per side. */
  private readonly padded = new Map<string, { readonly x: Act; readonly padding: number }>()
  private reachableNodes: ReadonlySet<number> = new Set()
  /** Node index → the attention block it belongs to. */
  private readonly attention = new Map<number, AttentionBlock>()
  /** A product of two activations that is not in a block → why it did not match one. */
  private readonly attentionMisses = new Map<number, string>()
  /** Values inside attention blocks, as element ids. */
  private readonly ids = new Map<string, IdTensor>()
  private batch = 1

  constructor(
    private readonly model: OnnxModel,
    private readonly shapesOnly: boolean,
  ) {
    this.weights = shapesOnly ? null : new Map()
  }

  private fail(where: string, reason: string): never {
    throw new Fail(new OnnxError({ file: this.model.file, where, reason }))
  }

  private nodeFail(node: OnnxNode, reason: string): never {
    // The reshapes and transposes of an attention block that did not match fail first: name the
    // product of activations they lead to and why it is not attention, not the layout op itself.
    const miss = LAYOUT_OPS.has(node.opType) ? this.attentionMissBelow(node) : null
    if (miss !== null)
      return this.fail(
        describe(node),
        `leads to ${describe(miss)}, a product of two activations, which is not supported outside multi-head ` +
          `self-attention (${this.attentionMisses.get(miss.index)}); expected ${ATTENTION}`,
      )
    return this.fail(describe(node), reason)
  }

  /** The first product of activations that missed the attention pattern downstream of `node`, if any. */
  private attentionMissBelow(node: OnnxNode): OnnxNode | null {
    if (this.attentionMisses.size === 0) return null
    const seen = new Set<number>()
    const queue = [node]
    while (queue.length > 0) {
      const n = queue.shift()!
      if (this.attentionMisses.has(n.index)) return n
      for (const o of n.outputs)
        for (const c of this.consumers(o))
          if (this.reachableNodes.has(c.index) && !seen.has(c.index)) {
            seen.add(c.index)
            queue.push(c)
          }
    }
    return null
  }

  run(name: string): Omit<ImportedModel, "file" | "sha256" | "opset" | "producer"> {
    const model = this.model
    const input = this.setUpInput()
    for (const [name, t] of model.initializers) {
      const dims = (t.dims ?? []).map(int)
      let cached: ConstTensor | null = null
      this.values.set(name, {
        kind: "const",
        name,
        dims,
        load: () => {
          if (cached === null)
            cached = Either.getOrThrowWith(decodeTensor(model.file, `initializer "${name}"`, t), (e) => new Fail(e))
          return cached
        },
      })
    }
    for (const extra of model.inputs.slice(1)) {
      // Weights declared as graph inputs without data (torch.onnx.export(..., export_params=False)).
      const dims = extra.dims
      this.values.set(extra.name, {
        kind: "const",
        name: extra.name,
        dims: dims !== null && dims.every((d): d is number => typeof d === "number") ? dims : [],
        load: null,
      })
    }
    for (const node of model.nodes) for (const o of node.outputs) if (o !== "") this.producer.set(o, node)

    if (model.outputs.length !== 1)
      this.fail(
        "graph.output",
        `has ${model.outputs.length} outputs, expected 1 (the logits): Spade models have one output`,
      )
    const output = model.outputs[0]!.name
    const reachable = this.reachable(output)
    this.reachableNodes = reachable
    for (const node of model.nodes)
      if (reachable.has(node.index))
        for (const i of node.inputs) if (i !== "") this.uses.set(i, (this.uses.get(i) ?? 0) + 1)
    this.uses.set(output, (this.uses.get(output) ?? 0) + 1)
    const dropped = model.nodes.length - reachable.size
    if (dropped > 0) this.notes.push(`${dropped} nodes do not lead to the output and were skipped`)
    const inPattern = new Map<number, Pattern>()
    for (const p of [...this.findGelus(reachable), ...this.findLayerNorms(reachable)])
      for (const i of p.nodes) inPattern.set(i, p)

    this.findAttention(reachable)

    for (const node of model.nodes) {
      if (!reachable.has(node.index)) continue
      const block = this.attention.get(node.index)
      if (block !== undefined) {
        this.attentionStep(node, block)
        continue
      }
      const pattern = inPattern.get(node.index)
      if (pattern === undefined) this.convertNode(node)
      else if (pattern.last === node.index) this.convertPattern(node, pattern)
    }

    const out = this.values.get(output)
    if (out === undefined || out.kind !== "act")
      this.fail(`graph.output "${output}"`, "is not computed from the input, expected the logits")
    if (this.layers.length === 0) this.fail("graph", "has no layer Spade computes, expected at least a Gemm or Conv")
    const last = this.layers[this.layers.length - 1]!
    if (out.source !== last.name)
      this.fail(`graph.output "${output}"`, `is produced by "${out.source}", which is not the last layer`)
    if (out.spade.length !== 1)
      this.fail(`graph.output "${output}"`, `has dims ${show(out.dims)}, expected [batch, classes] logits`)
    if (out.perm !== null && !isIdentity(out.perm))
      this.fail(
        `graph.output "${output}"`,
        "is a flattened image (Spade orders it H, W, C, not C, H, W), expected [batch, classes] logits",
      )
    if (last.type === "softmax")
      this.notes.push("the model ends in a softmax; Spade's training adds its own softmax cross-entropy on top")

    // [H, W, C] for images, [T, D] for token sequences; flat rows need no shape.
    const configInput =
      input.layout === "flat" ? { features: input.spade[0]! } : { features: sizeOf(input.spade), shape: input.spade }
    const plain = {
      name,
      description: `Imported from ${path.basename(model.file)} (${model.producer || "unknown producer"}, opset ${model.opset}).`,
      input: configInput,
      layers: this.layers,
    }
    const decoded = Schema.decodeUnknownEither(ModelConfig)(plain)
    if (Either.isLeft(decoded)) {
      const issue = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)[0]
      const at = issue === undefined ? "" : issue.path.join(".")
      const layerIndex = issue !== undefined && issue.path[0] === "layers" ? Number(issue.path[1]) : -1
      const layer = this.layers[layerIndex]
      this.fail(
        layer?.name !== undefined ? `layer "${layer.name}"` : "model",
        `converts to a Spade model that does not check (${at}: ${issue?.message ?? "invalid"})`,
      )
    }
    return {
      config: decoded.right,
      weights: this.weights,
      layers: this.infos,
      input: { name: model.inputs[0]!.name, dims: model.inputs[0]!.dims ?? [], layout: input.layout },
      notes: this.notes,
    }
  }

  /** The model input: the first graph input that is not an initializer. */
  private setUpInput(): { readonly layout: "nchw" | "flat" | "tokens"; readonly spade: ReadonlyArray<number> } {
    const first = this.model.inputs[0]
    if (first === undefined)
      this.fail("graph.input", "has no input besides initializers, expected the model's data input")
    const where = `graph.input "${first.name}"`
    if (first.dims === null)
      this.fail(where, "has no shape, expected [batch, channels, height, width] or [batch, features]")
    const dims = first.dims
    const batch = dims[0]
    this.batch = typeof batch === "number" ? batch : 1
    const rest = dims.slice(1)
    for (const [i, d] of rest.entries())
      if (typeof d !== "number")
        this.fail(
          where,
          `dim ${i + 1} is ${d === null ? "unknown" : `symbolic ("${d}")`}, expected a fixed size (export with a fixed input shape)`,
        )
    const sizes = rest as number[]
    const full = [this.batch, ...sizes]
    let layout: "nchw" | "flat" | "tokens"
    let spade: number[]
    if (sizes.length === 3) {
      layout = "nchw"
      spade = [sizes[1]!, sizes[2]!, sizes[0]!]
    } else if (sizes.length === 2) {
      layout = "tokens"
      spade = sizes
    } else if (sizes.length === 1) {
      layout = "flat"
      spade = sizes
    } else
      return this.fail(
        where,
        `has dims ${show(dims)}, expected [batch, C, H, W], [batch, tokens, features] or [batch, features]`,
      )
    this.values.set(first.name, { kind: "act", source: MODEL_INPUT, origin: first.name, dims: full, spade, perm: null })
    return { layout, spade }
  }

  /** Indices of the nodes the output depends on. */
  private reachable(output: string): Set<number> {
    const seen = new Set<number>()
    const stack = [output]
    while (stack.length > 0) {
      const v = stack.pop()!
      const node = this.producer.get(v)
      if (node === undefined || seen.has(node.index)) continue
      seen.add(node.index)
      for (const i of node.inputs) if (i !== "") stack.push(i)
    }
    return seen
  }

  private consumers(value: string): ReadonlyArray<OnnxNode> {
    return this.model.nodes.filter((n) => n.inputs.includes(value))
  }

  /** A constant's values if `name` is one (initializer, Constant node) without converting anything. */
  private peekConst(name: string): ConstTensor | null {
    const v = this.values.get(name)
    if (v !== undefined) return v.kind === "const" && v.load !== null ? v.load() : null
    const node = this.producer.get(name)
    if (node === undefined || node.opType !== "Constant") return null
    return this.constantNode(node)
  }

  private isScalar(name: string, value: number): boolean {
    const c = this.peekConst(name)
    return c !== null && c.data.length === 1 && Math.abs(c.data[0]! - value) <= 1e-6 * Math.max(1, Math.abs(value))
  }

  /** The single reachable node reading `value`, or null. */
  private only(value: string, reachable: ReadonlySet<number>): OnnxNode | null {
    const c = this.consumers(value).filter((n) => reachable.has(n.index))
    return c.length === 1 ? c[0]! : null
  }

  private findGelus(reachable: ReadonlySet<number>): Pattern[] {
    const out: Pattern[] = []
    const only = (value: string) => this.only(value, reachable)
    for (const erf of this.model.nodes) {
      if (erf.opType !== "Erf" || erf.domain !== "" || !reachable.has(erf.index)) continue
      const scale = this.producer.get(erf.inputs[0]!)
      if (scale === undefined) continue
      const x = scale.inputs[0]!
      const byDiv = scale.opType === "Div" && this.isScalar(scale.inputs[1]!, Math.SQRT2)
      const byMul = scale.opType === "Mul" && this.isScalar(other(scale, x) ?? "", Math.SQRT1_2)
      if (!(byDiv || byMul) || only(scale.outputs[0]!) !== erf) continue
      const plus = only(erf.outputs[0]!)
      if (plus === null || plus.opType !== "Add" || !this.isScalar(other(plus, erf.outputs[0]!) ?? "", 1)) continue
      const next = only(plus.outputs[0]!)
      if (next === null || next.opType !== "Mul") continue
      const partner = other(next, plus.outputs[0]!)
      let last: OnnxNode | null = null
      const nodes = new Set([scale.index, erf.index, plus.index, next.index])
      if (partner === x) {
        // x·(1 + erf) then ·0.5
        const half = only(next.outputs[0]!)
        if (half !== null && half.opType === "Mul" && this.isScalar(other(half, next.outputs[0]!) ?? "", 0.5))
          last = half
      } else if (partner !== null) {
        // (x·0.5)·(1 + erf)
        const halfX = this.producer.get(partner)
        if (
          halfX !== undefined &&
          halfX.opType === "Mul" &&
          halfX.inputs.includes(x) &&
          this.isScalar(other(halfX, x) ?? "", 0.5) &&
          only(partner) === next
        ) {
          nodes.add(halfX.index)
          last = next
        }
      }
      if (last === null) continue
      nodes.add(last.index)
      out.push({ kind: "gelu", x, last: last.index, nodes })
    }
    return out
  }

  private findLayerNorms(reachable: ReadonlySet<number>): Pattern[] {
    const out: Pattern[] = []
    const only = (value: string) => this.only(value, reachable)
    const lastAxis = (n: OnnxNode): boolean => {
      const axes =
        n.inputs.length > 1 && n.inputs[1] !== ""
          ? Array.from(this.peekConst(n.inputs[1]!)?.data ?? [])
          : (attrInts(n, "axes") ?? [])
      return axes.length === 1 && axes[0] === -1 && attrInt(n, "keepdims", 1) === 1
    }
    for (const mean of this.model.nodes) {
      if (mean.opType !== "ReduceMean" || !reachable.has(mean.index) || !lastAxis(mean)) continue
      const x = mean.inputs[0]!
      const sub = only(mean.outputs[0]!)
      if (sub === null || sub.opType !== "Sub" || sub.inputs[0] !== x || sub.inputs[1] !== mean.outputs[0]) continue
      const centered = sub.outputs[0]!
      const readers = this.consumers(centered).filter((n) => reachable.has(n.index))
      const pow = readers.find((n) => n.opType === "Pow" && n.inputs[0] === centered)
      const div = readers.find((n) => n.opType === "Div" && n.inputs[0] === centered)
      if (readers.length !== 2 || pow === undefined || div === undefined || !this.isScalar(pow.inputs[1]!, 2)) continue
      const variance = only(pow.outputs[0]!)
      if (variance === null || variance.opType !== "ReduceMean" || !lastAxis(variance)) continue
      const plus = only(variance.outputs[0]!)
      if (plus === null || plus.opType !== "Add") continue
      const epsName = other(plus, variance.outputs[0]!)
      const eps = epsName === null ? null : this.peekConst(epsName)
      if (eps === null || eps.data.length !== 1) continue
      const sqrt = only(plus.outputs[0]!)
      if (
        sqrt === null ||
        sqrt.opType !== "Sqrt" ||
        only(sqrt.outputs[0]!) !== div ||
        div.inputs[1] !== sqrt.outputs[0]
      )
        continue
      const nodes = new Set([mean, sub, pow, variance, plus, sqrt, div].map((n) => n.index))
      let last = div
      let scale: { node: number; name: string } | null = null
      let bias: { node: number; name: string } | null = null
      const mul = only(div.outputs[0]!)
      const gamma = mul === null ? null : other(mul, div.outputs[0]!)
      if (mul !== null && mul.opType === "Mul" && gamma !== null && this.isConstLike(gamma)) {
        nodes.add(mul.index)
        last = mul
        scale = { node: mul.index, name: gamma }
        const add = only(mul.outputs[0]!)
        const beta = add === null ? null : other(add, mul.outputs[0]!)
        if (add !== null && add.opType === "Add" && beta !== null && this.isConstLike(beta)) {
          nodes.add(add.index)
          last = add
          bias = { node: add.index, name: beta }
        }
      }
      out.push({ kind: "layernorm", x, last: last.index, nodes, eps: eps.data[0]!, scale, bias })
    }
    return out
  }

  private convertPattern(node: OnnxNode, pattern: Pattern): void {
    const x = this.act(node, pattern.x, "X")
    if (pattern.kind === "gelu") {
      this.emit(node, { type: "gelu" }, [x], x.dims, x.spade, x.perm, this.nameFor(node, null, "Gelu"))
      return
    }
    const param = (p: { node: number; name: string } | null) =>
      p === null
        ? null
        : this.weightNamed(this.model.nodes[p.node]!, p.name, p.name === pattern.scale?.name ? "γ" : "β")
    this.normalize(node, x, param(pattern.scale), param(pattern.bias), pattern.eps, pattern.scale?.name ?? null)
  }

  // ---------------------------------------------------------------- attention

  /** Values computed from the data input; a Shape's output is not (the dims are fixed). */
  private dynamicValues(): Set<string> {
    const dynamic = new Set([this.model.inputs[0]?.name ?? ""])
    for (const node of this.model.nodes)
      if (node.opType !== "Shape" && node.inputs.some((i) => dynamic.has(i)))
        for (const o of node.outputs) if (o !== "") dynamic.add(o)
    return dynamic
  }

  /**
   * Every product of two activations either anchors a self-attention block (Q·Kᵀ, an optional
   * constant scale, Softmax, ·V) or is remembered with why it does not, for its error.
   */
  private findAttention(reachable: ReadonlySet<number>): void {
    const dynamic = this.dynamicValues()
    for (const node of this.model.nodes) {
      if (node.opType !== "MatMul" || !reachable.has(node.index) || this.attention.has(node.index)) continue
      if (!node.inputs.every((i) => dynamic.has(i))) continue
      try {
        const block = this.attentionBlock(node, reachable, dynamic)
        const taken = [...block.nodes].find((i) => this.attention.has(i))
        if (taken !== undefined)
          throw new Mismatch(`it shares ${describe(this.model.nodes[taken]!)} with another attention block`)
        for (const i of block.nodes) this.attention.set(i, block)
      } catch (e) {
        if (!(e instanceof Mismatch)) throw e
        this.attentionMisses.set(node.index, e.message)
      }
    }
  }

  private attentionBlock(scores: OnnxNode, reachable: ReadonlySet<number>, dynamic: ReadonlySet<string>) {
    const nodes = new Set<number>([scores.index])
    const only = (value: string) => this.only(value, reachable)
    const isStatic = (name: string) => name !== "" && !dynamic.has(name)
    const what = (n: OnnxNode | null) => (n === null ? "the graph output or several nodes" : describe(n))
    const isScale = (n: OnnxNode, v: string) =>
      (n.opType === "Div" && n.inputs[0] === v && isStatic(n.inputs[1] ?? "")) ||
      (n.opType === "Mul" && isStatic(other(n, v) ?? ""))
    const isProjection = (n: OnnxNode) =>
      (n.opType === "MatMul" || n.opType === "Gemm") && dynamic.has(n.inputs[0]!) && isStatic(n.inputs[1] ?? "")
    const isBias = (n: OnnxNode | null, v: string) => n !== null && n.opType === "Add" && isStatic(other(n, v) ?? "")

    let v = scores.outputs[0]!
    let next = only(v)
    while (next !== null && isScale(next, v)) {
      nodes.add(next.index)
      v = next.outputs[0]!
      next = only(v)
    }
    if (next === null || next.opType !== "Softmax")
      throw new Mismatch(
        `its product goes to ${what(next)}, expected a Softmax after an optional constant scale ` +
          "(masks and biases on the scores are not supported)",
      )
    const softmax = next
    nodes.add(softmax.index)
    const context = only(softmax.outputs[0]!)
    if (context === null || context.opType !== "MatMul" || context.inputs[0] !== softmax.outputs[0])
      throw new Mismatch(
        `the Softmax goes to ${what(context)}, expected a MatMul with V (dropout on the attention weights ` +
          "is not supported: export in eval mode)",
      )
    nodes.add(context.index)

    /** From an operand of a product back through layout ops and scales to the projection. */
    const projectionOf = (value: string, role: string): OnnxNode => {
      let at = value
      for (;;) {
        const p = this.producer.get(at)
        if (p === undefined) throw new Mismatch(`${role} is the model input itself, expected a projection of it`)
        if (isProjection(p)) return p
        const dyn = p.inputs.filter((i) => dynamic.has(i))
        if (dyn.length === 1 && (isBias(p, dyn[0]!) || LAYOUT_OPS.has(p.opType) || isScale(p, dyn[0]!))) {
          if (isBias(p, dyn[0]!) && !isProjection(this.producer.get(dyn[0]!) ?? p))
            throw new Mismatch(`${role} traces back to ${describe(p)}, expected the bias of a projection`)
          nodes.add(p.index)
          at = dyn[0]!
          continue
        }
        throw new Mismatch(
          `${role} traces back to ${describe(p)}, expected reshapes, transposes and slices of a projection`,
        )
      }
    }
    const sources = [
      projectionOf(scores.inputs[0]!, "Q"),
      projectionOf(scores.inputs[1]!, "Kᵀ"),
      projectionOf(context.inputs[1]!, "V"),
    ]
    const inProjection = sources[0]!
    if (sources.some((p) => p !== inProjection))
      throw new Mismatch(
        `Q, K and V come from ${[...new Set(sources.map(describe))].join(", ")}, expected one packed projection ` +
          "(self-attention with nn.MultiheadAttention's in_proj; cross-attention and separate q, k, v linears " +
          "are not supported)",
      )
    nodes.add(inProjection.index)
    // nn.MultiheadAttention(batch_first=True) works time-major: a Transpose of the input comes first.
    let input = inProjection.inputs[0]!
    for (let p = this.producer.get(input); p !== undefined && p.opType === "Transpose"; ) {
      if (only(p.outputs[0]!) === null) break
      nodes.add(p.index)
      input = p.inputs[0]!
      p = this.producer.get(input)
    }

    let o = context.outputs[0]!
    let n = only(o)
    while (n !== null && LAYOUT_OPS.has(n.opType) && n.opType !== "Split" && n.inputs[0] === o) {
      nodes.add(n.index)
      o = n.outputs[0]!
      n = only(o)
    }
    if (n === null || !isProjection(n) || n.inputs[0] !== o)
      throw new Mismatch(
        `the per-head context goes to ${what(n)}, expected the heads merged into an output projection ` +
          "(MatMul or Gemm with a constant weight)",
      )
    const outProjection = n
    nodes.add(n.index)
    o = n.outputs[0]!
    const bias = only(o)
    const ends: number[] = []
    if (n.opType === "MatMul" && isBias(bias, o)) {
      nodes.add(bias!.index)
      o = bias!.outputs[0]!
      ends.push(bias!.index)
    } else ends.push(n.index)
    for (let t = only(o); t !== null && LAYOUT_OPS.has(t.opType) && t.opType !== "Split" && t.inputs[0] === o; ) {
      nodes.add(t.index)
      ends.push(t.index)
      o = t.outputs[0]!
      t = only(o)
    }
    // Values inside the block feed only the block (a Shape of them is fine: the dims are fixed).
    for (const i of nodes) {
      if (ends.includes(i)) continue
      for (const value of this.model.nodes[i]!.outputs)
        for (const reader of this.consumers(value))
          if (reachable.has(reader.index) && !nodes.has(reader.index) && reader.opType !== "Shape")
            throw new Mismatch(`"${value}" inside the block is also read by ${describe(reader)}`)
    }
    const block: AttentionBlock = {
      nodes,
      input,
      inProjection: inProjection.index,
      outProjection: outProjection.index,
      scores: scores.index,
      context: context.index,
      ends,
      x: null,
      heads: null,
      qkv: null,
      out: null,
    }
    return block
  }

  /** Run one node of an attention block on element ids; the block's last node emits the layer. */
  private attentionStep(node: OnnxNode, block: AttentionBlock): void {
    try {
      for (const [k, t] of this.attentionIds(node, block).entries()) this.ids.set(node.outputs[k]!, t)
    } catch (e) {
      if (!(e instanceof Mismatch)) throw e
      this.nodeFail(node, `${e.message}; expected ${ATTENTION}`)
    }
    const at = block.ends.indexOf(node.index)
    if (at < 0) return
    const x = block.x!
    if (isBlockOutput(this.ids.get(node.outputs[0]!)!, x.dims)) {
      this.finishAttention(node, block)
      // Layout ops after the block's output are the model's own again.
      for (const i of block.ends.slice(at + 1)) this.attention.delete(i)
    } else if (at === block.ends.length - 1)
      this.nodeFail(
        node,
        `the output projection's values do not return to the block input's layout ${show(x.dims)}; ` +
          `expected ${ATTENTION}`,
      )
  }

  private attentionIds(node: OnnxNode, block: AttentionBlock): ReadonlyArray<IdTensor> {
    const opset = this.model.opset
    const ids = (name: string): IdTensor => {
      const t = this.ids.get(name)
      if (t !== undefined) return t
      if (name !== block.input) throw new Mismatch(`it reads "${name}" from outside the attention block`)
      const x = this.act(node, name, "input")
      if (x.dims.length !== 3 || x.spade.length !== 2 || x.perm !== null)
        throw new Mismatch(`the block's input has dims ${show(x.dims)}, expected a token sequence [batch, tokens, D]`)
      block.x = x
      const fresh = identityIds("x", x.dims)
      this.ids.set(name, fresh)
      return fresh
    }
    const ints = (index: number, role: string): number[] | null =>
      node.inputs[index] === undefined || node.inputs[index] === ""
        ? null
        : Array.from(this.constant(node, index, role).data)
    const scalar = (name: string): number => {
      const c = this.peekConst(name)
      if (c === null || c.data.length !== 1) throw new Mismatch(`"${name}" is not a constant scalar`)
      return c.data[0]!
    }
    const x = () => ids(node.inputs[0]!)
    switch (node.opType) {
      case "Transpose":
        return [transpose(x(), attrInts(node, "perm"))]
      case "Reshape":
        return [reshapeIds(x(), ints(1, "shape") ?? [], attrInt(node, "allowzero", 0) !== 0)]
      case "Slice":
        return opset >= 10
          ? [slice(x(), ints(1, "starts") ?? [], ints(2, "ends") ?? [], ints(3, "axes"), ints(4, "steps"))]
          : [slice(x(), attrInts(node, "starts") ?? [], attrInts(node, "ends") ?? [], attrInts(node, "axes"), null)]
      case "Split": {
        const t = x()
        const axis = attrInt(node, "axis", 0)
        const given = opset >= 13 ? ints(1, "split") : attrInts(node, "split")
        const parts = node.outputs.length
        const size = t.dims[axis < 0 ? axis + t.dims.length : axis] ?? 0
        return split(t, axis, given ?? Array.from({ length: parts }, () => size / parts))
      }
      case "Squeeze":
        return [squeeze(x(), opset >= 13 ? ints(1, "axes") : attrInts(node, "axes"))]
      case "Unsqueeze":
        return [unsqueeze(x(), (opset >= 13 ? ints(1, "axes") : attrInts(node, "axes")) ?? [])]
      case "Gather": {
        const indices = this.constant(node, 1, "indices")
        return [gather(x(), attrInt(node, "axis", 0), Array.from(indices.data), indices.dims)]
      }
      case "Identity":
      case "Dropout": {
        const training = node.opType === "Dropout" && node.inputs.length > 2 && node.inputs[2] !== ""
        if (training && this.constant(node, 2, "training_mode").data[0] !== 0)
          throw new Mismatch("dropout runs in training mode (export in eval mode)")
        if (node.outputs.length > 1 && node.outputs[1] !== "" && (this.uses.get(node.outputs[1]!) ?? 0) > 0)
          throw new Mismatch("its mask output is used")
        return [x()]
      }
      case "Div": {
        const t = x()
        return [{ ...t, scale: t.scale / scalar(node.inputs[1]!) }]
      }
      case "Mul": {
        const dyn = this.ids.has(node.inputs[0]!) || node.inputs[0] === block.input ? 0 : 1
        const t = ids(node.inputs[dyn]!)
        return [{ ...t, scale: t.scale * scalar(node.inputs[1 - dyn]!) }]
      }
      case "Add": {
        const dyn = this.ids.has(node.inputs[0]!) ? 0 : 1
        const t = ids(node.inputs[dyn]!)
        const projection = t.space === "qkv" ? block.qkv : t.space === "out" ? block.out : null
        if (projection === null || projection.hasBias)
          throw new Mismatch("it adds a constant that is no projection's bias")
        const b = this.weightNamed(node, node.inputs[1 - dyn]!, "bias")
        if (sizeOf(b.dims) !== projection.outFeatures)
          throw new Mismatch(`the bias has dims ${show(b.dims)}, expected [${projection.outFeatures}]`)
        projection.bias = b.data === null ? null : Float32Array.from(b.data)
        projection.hasBias = true
        return [t]
      }
      case "Softmax": {
        const t = x()
        const axis = attrInt(node, "axis", opset >= 13 ? -1 : 1)
        if (t.space !== "scores" || (axis < 0 ? axis + t.dims.length : axis) !== t.dims.length - 1)
          throw new Mismatch(`Softmax over axis ${axis} of ${show(t.dims)}, expected the last axis (the keys)`)
        return [{ ...t, space: "probs" }]
      }
      case "MatMul":
      case "Gemm":
        return [this.attentionGemm(node, block, ids)]
      default:
        throw new Mismatch(`operator ${node.opType} is not part of self-attention`)
    }
  }

  private attentionGemm(node: OnnxNode, block: AttentionBlock, ids: (name: string) => IdTensor): IdTensor {
    const a = ids(node.inputs[0]!)
    const batch = this.batch
    if (node.index === block.scores || node.index === block.context) {
      const b = ids(node.inputs[1]!)
      const lead = a.dims.slice(0, -2)
      if (b.dims.length !== a.dims.length || b.dims.slice(0, -2).some((d, i) => d !== lead[i]))
        throw new Mismatch(`it multiplies ${show(a.dims)} by ${show(b.dims)}, expected the same groups (no broadcast)`)
      const d = block.x!.dims[2]!
      if (node.index === block.scores) {
        const heads = headsOf(a, 0, batch, d, null)
        headsOf(b, 1, batch, d, heads)
        block.heads = heads
        const t = heads.tokens
        return { space: "scores", dims: [...lead, t, t], ids: new Int32Array(0), scale: a.scale * b.scale }
      }
      const heads = block.heads!
      if (a.space !== "probs") throw new Mismatch("its first operand is not the Softmax of the scores")
      headsOf(b, 2, batch, d, heads)
      if (b.scale !== 1) throw new Mismatch(`V is scaled by ${b.scale}, expected V as projected`)
      // Spade's attention scales the scores by 1/√dh exactly: any other product of the scales differs.
      const want = 1 / Math.sqrt(heads.dh)
      if (Math.abs(a.scale - want) > 1e-6 * want)
        throw new Mismatch(`the scores are scaled by ${a.scale}, expected 1/√dh = ${want} (dh = ${heads.dh})`)
      return contextOf(lead, heads)
    }
    const inward = node.index === block.inProjection
    const d = block.x?.dims[2] ?? 0
    if (a.space !== (inward ? "x" : "context"))
      throw new Mismatch(`the ${inward ? "input" : "output"} projection reads the wrong values`)
    const rows = tokenRows(a, d, inward ? "the input projection's input" : "the merged heads")
    const w = this.weight(node, 1, "B")
    if (w.dims.length !== 2) throw new Mismatch(`the weight has dims ${show(w.dims)}, expected a matrix`)
    let transposed = true
    let alpha = 1
    let bias: Float32Array | null = null
    let hasBias = false
    if (node.opType === "Gemm") {
      if (attrInt(node, "transA", 0) !== 0 || a.dims.length !== 2)
        throw new Mismatch("the Gemm's activation is transposed or not a matrix")
      transposed = attrInt(node, "transB", 0) === 0
      alpha = attrFloat(node, "alpha", 1)
      const c = this.optionalWeight(node, 2, "C")
      if (c !== null) {
        hasBias = true
        const beta = attrFloat(node, "beta", 1)
        bias = c.data === null ? null : c.data.map((v) => beta * v)
      }
    }
    const [inF, outF] = transposed ? [w.dims[0]!, w.dims[1]!] : [w.dims[1]!, w.dims[0]!]
    const width = inward ? 3 * d : d
    if (inF !== d || outF !== width)
      throw new Mismatch(
        `the ${inward ? "input" : "output"} projection maps ${inF} → ${outF} features, expected ${d} → ${width}` +
          (inward ? " (Q, K and V packed in one projection)" : ""),
      )
    if (bias !== null && bias.length !== outF)
      throw new Mismatch(`the bias has ${bias.length} values, expected ${outF}`)
    const data = w.data === null ? null : alpha === 1 ? w.data : w.data.map((v) => alpha * v)
    const projection: Projection = {
      node,
      weight: data === null ? null : linearWeightToSpade(data, outF, inF, transposed, null),
      outFeatures: outF,
      bias,
      hasBias,
    }
    if (inward) block.qkv = projection
    else block.out = projection
    return projected(inward ? "qkv" : "out", a.dims.slice(0, -1), rows, outF)
  }

  /** Emit Spade's attention layer for a block whose output `node` produced, with both projections' weights. */
  private finishAttention(node: OnnxNode, block: AttentionBlock): void {
    const x = block.x!
    const { qkv, out, heads } = block as { qkv: Projection; out: Projection; heads: Heads }
    const d = x.dims[2]!
    const hasBias = qkv.hasBias || out.hasBias
    // The module's scope: "/attn/MatMul_1", "/attn/qkv/MatMul" → "attn" (PyTorch's module name).
    const scopes = [...block.nodes].map((i) =>
      this.model.nodes[i]!.name.replace(/^\/+/, "")
        .split("/")
        .filter((p) => p !== "")
        .slice(0, -1),
    )
    const common = scopes.reduce((acc, parts) => {
      let k = 0
      while (k < acc.length && k < parts.length && acc[k] === parts[k]) k++
      return acc.slice(0, k)
    })
    let name = common.join(".") || "attention"
    for (let i = 2; this.used.has(name); i++) name = `${common.join(".") || "attention"}_${i}`
    this.used.add(name)
    const layer = { type: "attention", heads: heads.heads, bias: hasBias } as Draft
    this.emit(node, layer, [x], x.dims, x.spade, null, name)
    for (const [part, p] of [
      ["qkv", qkv],
      ["out", out],
    ] as const) {
      const bias = hasBias ? (p.bias ?? (this.weights === null ? null : new Float32Array(p.outFeatures))) : null
      this.addWeight(`${name}.${part}`, p.node, 1, p.outFeatures, d, p.weight, bias, p.weight)
    }
  }

  // ---------------------------------------------------------------- values

  private value(node: OnnxNode, name: string, role: string): Value {
    const v = this.values.get(name)
    if (v !== undefined) return v
    return this.nodeFail(
      node,
      `input ${role} "${name}" is missing: no initializer, graph input or earlier node output has that name`,
    )
  }

  private act(node: OnnxNode, name: string, role: string): Act {
    const v = this.value(node, name, role)
    if (v.kind === "act") return v
    return this.nodeFail(node, `input ${role} "${name}" is a constant, expected an activation computed from the input`)
  }

  private isConst(name: string): boolean {
    return this.values.get(name)?.kind === "const"
  }

  /**
   * A constant before conversion has run: PyTorch writes a parameter equal to another (two fresh
   * layer norms' gains) as an Identity of the first, which becomes a constant only when converted.
   */
  private isConstLike(name: string): boolean {
    if (this.isConst(name)) return true
    const p = this.producer.get(name)
    return p !== undefined && (p.opType === "Constant" || (p.opType === "Identity" && this.isConstLike(p.inputs[0]!)))
  }

  /** A constant input's values; a weight the file declares but does not store is the error here. */
  private constant(node: OnnxNode, index: number, role: string): ConstTensor {
    const name = node.inputs[index]
    if (name === undefined || name === "") return this.nodeFail(node, `has no input ${role}, expected a constant`)
    const v = this.value(node, name, role)
    if (v.kind === "act")
      return this.nodeFail(node, `input ${role} "${name}" is an activation, expected a constant (an initializer)`)
    if (v.load === null)
      return this.nodeFail(
        node,
        `input ${role} "${name}" has no initializer (expected its values in the file; import with --shapes-only for shapes alone)`,
      )
    return v.load()
  }

  /** A weight: its dims always, its values unless shapes only. */
  private weight(node: OnnxNode, index: number, role: string): Weight {
    const name = node.inputs[index]
    if (name === undefined || name === "") return this.nodeFail(node, `has no input ${role}, expected a weight`)
    return this.weightNamed(node, name, role)
  }

  private weightNamed(node: OnnxNode, name: string, role: string): Weight {
    const v = this.value(node, name, role)
    if (v.kind === "act")
      return this.nodeFail(
        node,
        `input ${role} "${name}" is an activation, expected a weight (an initializer): ` +
          "a product of two activations is not supported outside multi-head self-attention",
      )
    if (this.shapesOnly) {
      if (v.dims.length === 0 && v.load === null)
        this.nodeFail(node, `input ${role} "${name}" has neither data nor a declared shape`)
      return { dims: v.dims, data: null }
    }
    const t = this.constant(node, node.inputs.indexOf(name), role)
    if (t.kind !== "float") this.nodeFail(node, `input ${role} "${name}" holds integers, expected float weights`)
    return { dims: t.dims, data: t.data }
  }

  private optionalWeight(node: OnnxNode, index: number, role: string) {
    const name = node.inputs[index]
    return name === undefined || name === "" ? null : this.weight(node, index, role)
  }

  private constantNode(node: OnnxNode): ConstTensor {
    const cached = this.constantCache.get(node.outputs[0]!)
    if (cached !== undefined) return cached
    const where = describe(node)
    const t = attrTensor(node, "value")
    let out: ConstTensor
    if (t !== null) out = Either.getOrThrowWith(decodeTensor(this.model.file, where, t), (e) => new Fail(e))
    else if (node.attributes.has("value_float"))
      out = { kind: "float", dims: [], data: Float32Array.of(attrFloat(node, "value_float", 0)) }
    else if (node.attributes.has("value_floats")) {
      const fs = node.attributes.get("value_floats")!.floats ?? []
      out = { kind: "float", dims: [fs.length], data: Float32Array.from(fs) }
    } else if (node.attributes.has("value_int"))
      out = { kind: "int", dims: [], data: Float64Array.of(attrInt(node, "value_int", 0)) }
    else if (node.attributes.has("value_ints")) {
      const is = attrInts(node, "value_ints") ?? []
      out = { kind: "int", dims: [is.length], data: Float64Array.from(is) }
    } else {
      return this.nodeFail(node, "has no value, expected a value tensor, float(s) or int(s)")
    }
    this.constantCache.set(node.outputs[0]!, out)
    return out
  }

  private setConst(name: string, t: ConstTensor): void {
    this.values.set(name, { kind: "const", name, dims: t.dims, load: () => t })
  }

  // ---------------------------------------------------------------- layers

  /** A unique layer name; `label` replaces the op in the node's name (a pattern's last node). */
  private nameFor(node: OnnxNode, weight: string | null, label: string | null = null): string {
    let base: string
    if (weight !== null && /\.weight$/.test(weight) && !weight.startsWith("onnx::"))
      base = weight.slice(0, -".weight".length)
    else {
      // PyTorch ≥ 1.13 names nodes by module path: "/layer1/conv1/Conv" → "layer1.conv1" for a
      // weighted layer (the module's name, as the recorder and state_dict use it), else keeps the op.
      // A child of a Sequential is scoped "/layer2/shortcut/shortcut.0/Conv": keep "shortcut.0" once.
      const parts = node.name
        .replace(/^\/+/, "")
        .split("/")
        .filter((p) => p !== "")
        .filter((p, i, all) => !(all[i + 1] ?? "").startsWith(`${p}.`))
      if (label !== null && parts.length > 0) parts[parts.length - 1] = label
      else if (weight !== null && parts.length > 1 && parts[parts.length - 1]!.startsWith(node.opType)) parts.pop()
      base = parts.join(".") || node.opType
    }
    let name = base
    for (let i = 2; this.used.has(name); i++) name = `${base}_${i}`
    this.used.add(name)
    return name
  }

  private previous(): string {
    return this.layers.length === 0 ? MODEL_INPUT : this.layers[this.layers.length - 1]!.name!
  }

  /** Append a layer reading `inputs`, and bind the node's first output to it. */
  private emit(
    node: OnnxNode,
    layer: Draft,
    inputs: ReadonlyArray<Act>,
    dims: ReadonlyArray<number>,
    spade: ReadonlyArray<number>,
    perm: Int32Array | null,
    name: string = this.nameFor(node, null),
  ): Act {
    const sources = inputs.map((a) => a.source)
    const draft = { ...layer, name } as Draft
    const explicit =
      layer.type === "add" || layer.type === "concat" || sources.length !== 1 || sources[0] !== this.previous()
    if (explicit) (draft as { inputs?: string[] }).inputs = sources
    this.layers.push(draft)
    const origin = node.outputs[0]!
    const act: Act = { kind: "act", source: name, origin, dims, spade, perm }
    this.values.set(origin, act)
    return act
  }

  private alias(node: OnnxNode, x: Act, dims: ReadonlyArray<number> = x.dims): void {
    this.values.set(node.outputs[0]!, { ...x, dims })
  }

  /** Record a weighted layer's weight (Spade layout, Cout×K), its density and N:M. */
  private addWeight(
    layer: string,
    node: OnnxNode,
    role: number,
    rows: number,
    cols: number,
    w: Float32Array | null,
    bias: Float32Array | null,
    fileOrder: Float32Array | null,
  ): void {
    this.infos.push({
      layer,
      node: node.name,
      opType: node.opType,
      initializer: node.inputs[role]!,
      rows,
      cols,
      weightDensity: w === null ? null : density(w),
      nm: w === null ? null : detectNm(w, rows, cols, "row"),
      fileNm: fileOrder === null ? null : detectNm(fileOrder, rows, cols, "row"),
    })
    if (this.weights === null || w === null) return
    this.weights.set(`${layer}.weight`, w)
    if (bias !== null) this.weights.set(`${layer}.bias`, bias)
  }

  private draftOf(name: string): Draft | undefined {
    return this.layers.find((l) => l.name === name)
  }

  /** `act` is the direct output of its layer and nothing else reads it: a following op may fuse in. */
  private fusable(act: Act, name: string): boolean {
    return act.origin === name && (this.uses.get(name) ?? 0) === 1
  }

  private convertNode(node: OnnxNode): void {
    if (node.domain !== "")
      this.nodeFail(node, `operator ${node.domain}.${node.opType} is not supported (expected ai.onnx operators)`)
    const op = node.opType
    if (op === "Constant") {
      this.setConst(node.outputs[0]!, this.constantNode(node))
      return
    }
    const present = node.inputs.filter((i) => i !== "")
    if (op === "Shape") {
      // A value inside an attention block has no Spade layer, but its dims are known.
      const x = this.ids.get(node.inputs[0]!) ?? this.value(node, node.inputs[0]!, "data")
      const start = attrInt(node, "start", 0)
      const end = attrInt(node, "end", x.dims.length)
      const dims = x.dims.slice(start < 0 ? start + x.dims.length : start, end < 0 ? end + x.dims.length : end)
      this.setConst(node.outputs[0]!, { kind: "int", dims: [dims.length], data: Float64Array.from(dims) })
      return
    }
    if (op === "Identity" && this.isConst(node.inputs[0]!)) {
      // A weight renamed (PyTorch dedupes equal initializers this way): the same constant, data or not.
      const c = this.values.get(node.inputs[0]!) as Const
      this.values.set(node.outputs[0]!, { ...c, name: node.outputs[0]! })
      return
    }
    if (FOLDABLE.has(op) && present.length > 0 && present.every((i) => this.isConst(i)) && this.fold(node)) return
    switch (op) {
      case "Identity":
      case "Dropout":
        if (node.outputs.length > 1 && node.outputs[1] !== "" && (this.uses.get(node.outputs[1]!) ?? 0) > 0)
          this.nodeFail(node, "its mask output is used, expected only the data output")
        this.alias(node, this.act(node, node.inputs[0]!, "data"))
        return
      case "Conv":
        this.conv(node)
        return
      case "Gemm":
        this.gemm(node)
        return
      case "MatMul":
        this.matmul(node)
        return
      case "Relu": {
        const x = this.act(node, node.inputs[0]!, "X")
        this.emit(node, { type: "relu" }, [x], x.dims, x.spade, x.perm)
        return
      }
      case "Clip":
        this.clip(node)
        return
      case "MaxPool":
      case "AveragePool":
        this.pool(node)
        return
      case "GlobalAveragePool":
        this.globalPool(node, true)
        return
      case "ReduceMean":
        this.reduceMean(node)
        return
      case "Pad":
        this.pad(node)
        return
      case "Flatten":
        this.flatten(node, attrInt(node, "axis", 1))
        return
      case "Reshape":
        this.reshape(node)
        return
      case "Squeeze":
        this.squeeze(node)
        return
      case "Add":
      case "Sum":
        this.add(node)
        return
      case "Concat":
        this.concat(node)
        return
      case "BatchNormalization":
        this.batchNorm(node)
        return
      case "LayerNormalization":
        this.layerNorm(node)
        return
      case "Softmax":
        this.softmax(node)
        return
      case "Gelu": {
        const approximate = attrString(node, "approximate", "none")
        if (approximate !== "none")
          this.nodeFail(node, `approximate "${approximate}" is not supported, expected "none" (erf)`)
        const x = this.act(node, node.inputs[0]!, "X")
        this.emit(node, { type: "gelu" }, [x], x.dims, x.spade, x.perm)
        return
      }
      default:
        this.nodeFail(node, `operator ${op} is not supported (Spade imports ${SUPPORTED_OPS.join(", ")})`)
    }
  }

  private conv(node: OnnxNode): void {
    const x = this.act(node, node.inputs[0]!, "X")
    if (x.dims.length !== 4 || x.spade.length !== 3)
      this.nodeFail(node, `input X has dims ${show(x.dims)}, expected [batch, C, H, W] (2-D convolution)`)
    const w = this.weight(node, 1, "W")
    if (w.dims.length !== 4)
      this.nodeFail(node, `weight W has dims ${show(w.dims)}, expected [Cout, Cin/group, kH, kW]`)
    const [cout, cg, kh, kw] = w.dims as [number, number, number, number]
    const groups = attrInt(node, "group", 1)
    const [, c, h, wd] = x.dims as [number, number, number, number]
    if (cg * groups !== c)
      this.nodeFail(node, `weight W has ${cg} input channels per group × ${groups} groups, expected ${c} (the input's)`)
    if (kh !== kw) this.nodeFail(node, `kernel ${kh}×${kw}, expected a square kernel (Spade's conv2d)`)
    const strides = attrInts(node, "strides") ?? [1, 1]
    if (strides.length !== 2 || strides[0] !== strides[1])
      this.nodeFail(node, `strides ${show(strides)}, expected equal strides along H and W`)
    const dilations = attrInts(node, "dilations") ?? [1, 1]
    if (dilations.some((d) => d !== 1)) this.nodeFail(node, `dilations ${show(dilations)}, expected 1 (no dilation)`)
    const stride = strides[0]!
    const padding = this.padding(node, [h, wd], kh, stride)
    const oh = Math.floor((h + 2 * padding - kh) / stride) + 1
    const ow = Math.floor((wd + 2 * padding - kw) / stride) + 1
    if (oh < 1 || ow < 1) this.nodeFail(node, `kernel ${kh} does not fit the ${h}×${wd} input`)
    const b = this.optionalWeight(node, 2, "B")
    if (b !== null && sizeOf(b.dims) !== cout)
      this.nodeFail(node, `bias B has dims ${show(b.dims)}, expected [${cout}]`)
    const name = this.nameFor(node, node.inputs[1]!)
    const layer: Draft = {
      type: "conv2d",
      outChannels: cout,
      kernelSize: kh,
      stride,
      padding,
      bias: b !== null,
      ...(groups !== 1 ? { groups } : {}),
    } as Draft
    this.emit(node, layer, [x], [x.dims[0]!, cout, oh, ow], [oh, ow, cout], null, name)
    this.addWeight(
      name,
      node,
      1,
      cout,
      kh * kw * cg,
      w.data === null ? null : convWeightFromOihw(w.data, cout, cg, kh, kw),
      b?.data ?? null,
      w.data,
    )
  }

  /** Symmetric padding from `pads` or `auto_pad`; anything Spade's `padding` cannot say is an error. */
  private padding(node: OnnxNode, size: ReadonlyArray<number>, kernel: number, stride: number): number {
    const auto = attrString(node, "auto_pad", "NOTSET")
    if (auto === "VALID") return 0
    if (auto === "SAME_UPPER" || auto === "SAME_LOWER") {
      const totals = size.map((s) => Math.max((Math.ceil(s / stride) - 1) * stride + kernel - s, 0))
      if (totals.some((t) => t % 2 !== 0 || t !== totals[0]))
        this.nodeFail(node, `auto_pad ${auto} pads unevenly (${totals.join(", ")}), expected symmetric padding`)
      return totals[0]! / 2
    }
    if (auto !== "NOTSET" && auto !== "") this.nodeFail(node, `auto_pad "${auto}" is not supported`)
    const pads = attrInts(node, "pads") ?? [0, 0, 0, 0]
    if (pads.length !== 4 || pads.some((p) => p !== pads[0]))
      this.nodeFail(node, `pads ${show(pads)}, expected the same padding on every side`)
    return pads[0]!
  }

  /** Spade's linear: weight out×in, input columns in Spade's order. */
  private linearLayer(
    node: OnnxNode,
    x: Act,
    w: Float32Array | null,
    outFeatures: number,
    inFeatures: number,
    transposed: boolean,
    bias: Float32Array | null,
    hasBias: boolean,
    weightRole: number,
  ): void {
    const name = this.nameFor(node, node.inputs[weightRole]!)
    const dims = [...x.dims.slice(0, -1), outFeatures]
    const spade = x.spade.length === 2 ? [x.spade[0]!, outFeatures] : [outFeatures]
    this.emit(node, { type: "linear", outFeatures, bias: hasBias } as Draft, [x], dims, spade, null, name)
    this.addWeight(
      name,
      node,
      weightRole,
      outFeatures,
      inFeatures,
      w === null ? null : linearWeightToSpade(w, outFeatures, inFeatures, transposed, x.perm),
      bias,
      w === null ? null : transposed ? linearWeightToSpade(w, outFeatures, inFeatures, true, null) : w,
    )
  }

  private gemm(node: OnnxNode): void {
    const a = this.act(node, node.inputs[0]!, "A")
    if (attrInt(node, "transA", 0) !== 0) this.nodeFail(node, "transA = 1, expected the activation untransposed")
    if (a.dims.length !== 2 || a.spade.length !== 1)
      this.nodeFail(node, `input A has dims ${show(a.dims)}, expected [batch, features]`)
    const b = this.weight(node, 1, "B")
    if (b.dims.length !== 2) this.nodeFail(node, `weight B has dims ${show(b.dims)}, expected a matrix`)
    const transB = attrInt(node, "transB", 0) !== 0
    const [outF, inF] = transB ? [b.dims[0]!, b.dims[1]!] : [b.dims[1]!, b.dims[0]!]
    if (inF !== a.dims[1]) this.nodeFail(node, `weight B takes ${inF} features, input A has ${a.dims[1]}`)
    const alpha = attrFloat(node, "alpha", 1)
    const beta = attrFloat(node, "beta", 1)
    const c = this.optionalWeight(node, 2, "C")
    let bias: Float32Array | null = null
    if (c !== null) {
      const size = sizeOf(c.dims)
      if (!(size === outF || size === 1) || (c.dims.length === 2 && c.dims[0] !== 1))
        this.nodeFail(node, `bias C has dims ${show(c.dims)}, expected [${outF}] (one bias per output)`)
      if (c.data !== null) bias = Float32Array.from({ length: outF }, (_, i) => beta * c.data![size === 1 ? 0 : i]!)
    }
    const w = b.data === null ? null : alpha === 1 ? b.data : b.data.map((v) => alpha * v)
    this.linearLayer(node, a, w, outF, inF, !transB, bias, c !== null, 1)
  }

  private matmul(node: OnnxNode): void {
    const miss = this.attentionMisses.get(node.index)
    if (miss !== undefined)
      this.nodeFail(
        node,
        `a product of two activations is not supported outside multi-head self-attention (${miss}); ` +
          `expected ${ATTENTION}`,
      )
    const a = this.value(node, node.inputs[0]!, "A")
    if (a.kind === "const")
      this.nodeFail(node, "input A is a constant, expected the activation first (X·W with W an initializer)")
    if (a.dims.length < 2 || a.dims.length > 3 || (a.dims.length === 3 && a.spade.length !== 2))
      this.nodeFail(node, `input A has dims ${show(a.dims)}, expected [batch, features] or [batch, tokens, features]`)
    const b = this.weight(node, 1, "B")
    if (b.dims.length !== 2) this.nodeFail(node, `weight B has dims ${show(b.dims)}, expected a matrix [in, out]`)
    const [inF, outF] = b.dims as [number, number]
    if (inF !== a.dims[a.dims.length - 1])
      this.nodeFail(node, `weight B takes ${inF} features, input A has ${a.dims[a.dims.length - 1]}`)
    this.linearLayer(node, a, b.data, outF, inF, true, null, false, 1)
  }

  private clip(node: OnnxNode): void {
    const x = this.act(node, node.inputs[0]!, "input")
    const bound = (index: number, attr: string, fallback: number): number => {
      if (this.model.opset < 11) return attrFloat(node, attr, fallback)
      const name = node.inputs[index]
      if (name === undefined || name === "") return fallback
      const t = this.constant(node, index, attr)
      return t.data[0]!
    }
    const min = bound(1, "min", Number.NEGATIVE_INFINITY)
    const max = bound(2, "max", Number.POSITIVE_INFINITY)
    const prior = this.draftOf(x.source)
    // PyTorch's relu6 exports as Relu then Clip(0, 6): one Spade relu with max 6.
    if (
      prior !== undefined &&
      prior.type === "relu" &&
      prior.max === undefined &&
      min <= 0 &&
      this.fusable(x, node.inputs[0]!)
    ) {
      if (Number.isFinite(max)) prior.max = tidy(max)
      this.alias(node, x)
      return
    }
    if (min !== 0) this.nodeFail(node, `min ${min}, expected 0 (Clip is imported as ReLU with an optional max)`)
    if (!(max > 0)) this.nodeFail(node, `max ${max}, expected a positive value`)
    this.emit(
      node,
      { type: "relu", ...(Number.isFinite(max) ? { max: tidy(max) } : {}) } as Draft,
      [x],
      x.dims,
      x.spade,
      x.perm,
    )
  }

  private pool(node: OnnxNode): void {
    const fromPad = this.padded.get(node.inputs[0]!)
    const x = fromPad?.x ?? this.act(node, node.inputs[0]!, "X")
    if (x.dims.length !== 4 || x.spade.length !== 3)
      this.nodeFail(node, `input X has dims ${show(x.dims)}, expected [batch, C, H, W]`)
    if (node.outputs.length > 1 && (this.uses.get(node.outputs[1]!) ?? 0) > 0)
      this.nodeFail(node, "its Indices output is used, expected only the pooled values")
    const kernel = attrInts(node, "kernel_shape") ?? []
    if (kernel.length !== 2 || kernel[0] !== kernel[1])
      this.nodeFail(node, `kernel_shape ${show(kernel)}, expected a square window`)
    const size = kernel[0]!
    const strides = attrInts(node, "strides") ?? [1, 1]
    if (strides.length !== 2 || strides[0] !== strides[1])
      this.nodeFail(node, `strides ${show(strides)}, expected equal strides along H and W`)
    const dilations = attrInts(node, "dilations") ?? [1, 1]
    if (dilations.some((d) => d !== 1)) this.nodeFail(node, `dilations ${show(dilations)}, expected 1`)
    const stride = strides[0]!
    const [n, c, h, w] = x.dims as [number, number, number, number]
    const type = node.opType === "MaxPool" ? "maxpool" : "avgpool"
    const own = this.padding(node, [h, w], size, stride)
    // PyTorch exports avg_pool2d(count_include_pad=True) as a zero Pad before an unpadded
    // AveragePool: the padded zeros count in the mean, as Spade's countIncludePad says.
    if (fromPad !== undefined && own !== 0)
      this.nodeFail(node, `pads ${own} after a Pad node, expected the padding in one place`)
    const padding = fromPad?.padding ?? own
    if (2 * padding > size)
      this.nodeFail(node, `pads ${padding} on every side, expected at most half the ${size}×${size} window`)
    const out = (n: number, round: (v: number) => number) => round((n + 2 * padding - size) / stride) + 1
    const oh = out(h, Math.floor)
    const ow = out(w, Math.floor)
    if (attrInt(node, "ceil_mode", 0) !== 0 && (out(h, Math.ceil) !== oh || out(w, Math.ceil) !== ow))
      this.nodeFail(node, "ceil_mode = 1 changes the output size here, expected floor rounding")
    if (oh < 1 || ow < 1) this.nodeFail(node, `window ${size} does not fit the ${h}×${w} input`)
    // ONNX's AveragePool leaves padded cells out of the mean unless count_include_pad = 1.
    const countIncludePad = fromPad !== undefined || attrInt(node, "count_include_pad", 0) !== 0
    const padded = padding === 0 ? {} : type === "maxpool" ? { padding } : { padding, countIncludePad }
    this.emit(node, { type, size, stride, ...padded } as Draft, [x], [n, c, oh, ow], [oh, ow, c], null)
  }

  private globalPool(node: OnnxNode, keepDims: boolean): void {
    const x = this.act(node, node.inputs[0]!, "X")
    if (x.dims.length !== 4 || x.spade.length !== 3)
      this.nodeFail(node, `input X has dims ${show(x.dims)}, expected [batch, C, H, W]`)
    const [n, c] = x.dims as [number, number]
    // [N, C, 1, 1] flattens to C values in channel order: Spade's [C], no permutation.
    this.emit(node, { type: "globalavgpool" }, [x], keepDims ? [n, c, 1, 1] : [n, c], [c], null)
  }

  private reduceMean(node: OnnxNode): void {
    const x = this.act(node, node.inputs[0]!, "data")
    const axes =
      this.model.opset >= 18 && node.inputs.length > 1 && node.inputs[1] !== ""
        ? Array.from(this.constant(node, 1, "axes").data)
        : (attrInts(node, "axes") ?? [])
    const normalized = axes.map((a) => (a < 0 ? a + x.dims.length : a)).sort((a, b) => a - b)
    const keepDims = attrInt(node, "keepdims", 1) !== 0
    if (x.dims.length === 4 && x.spade.length === 3 && normalized.join(",") === "2,3") {
      this.globalPool(node, keepDims)
      return
    }
    // The mean over tokens of a sequence [N, T, D] (a transformer's pooled output).
    if (x.dims.length === 3 && x.spade.length === 2 && normalized.join(",") === "1") {
      const [n, , d] = x.dims as [number, number, number]
      this.emit(node, { type: "globalavgpool" }, [x], keepDims ? [n, 1, d] : [n, d], [d], null)
      return
    }
    this.nodeFail(
      node,
      `reduces axes ${show(axes)} of ${show(x.dims)}, expected axes [2, 3] of [batch, C, H, W] or axis 1 of [batch, tokens, features]`,
    )
  }

  /**
   * Zero padding is nothing to compute (PyTorch 1.13 writes one before some average pools). Spatial
   * zero padding read only by an AveragePool is that pool's padding, with the zeros counted in the
   * mean: how PyTorch exports avg_pool2d(count_include_pad=True).
   */
  private pad(node: OnnxNode): void {
    const x = this.act(node, node.inputs[0]!, "data")
    const pads =
      node.inputs.length > 1 && node.inputs[1] !== ""
        ? Array.from(this.constant(node, 1, "pads").data)
        : (attrInts(node, "pads") ?? [])
    if (pads.every((p) => p === 0)) {
      this.alias(node, x)
      return
    }
    const mode = attrString(node, "mode", "constant")
    const value =
      node.inputs.length > 2 && node.inputs[2] !== ""
        ? (this.constant(node, 2, "constant_value").data[0] ?? 0)
        : attrFloat(node, "value", 0)
    const readers = this.consumers(node.outputs[0]!).filter((n) => this.reachableNodes.has(n.index))
    const p = pads[2]!
    const spatial =
      x.dims.length === 4 &&
      x.spade.length === 3 &&
      pads.length === 8 &&
      pads.every((v, i) => v === (i % 4 < 2 ? 0 : p))
    const intoAveragePool = readers.length === 1 && readers[0]!.opType === "AveragePool"
    if (mode === "constant" && value === 0 && spatial && intoAveragePool) {
      this.padded.set(node.outputs[0]!, { x, padding: p })
      return
    }
    this.nodeFail(
      node,
      `pads ${show(pads)} (${mode}, value ${value}), expected all zero, or equal zero padding of H and W ` +
        "read only by an AveragePool (pad through the Conv's own pads attribute)",
    )
  }

  /** [N, ...] → [N, F]: a Spade flatten (with the CHW → HWC permutation), or nothing if already flat. */
  private flatten(node: OnnxNode, axis: number): void {
    const x = this.act(node, node.inputs[0]!, "input")
    const rank = x.dims.length
    if ((axis < 0 ? axis + rank : axis) !== 1)
      this.nodeFail(node, `axis ${axis}, expected 1 (keep the batch, flatten each sample)`)
    this.toFlat(node, x)
  }

  private toFlat(node: OnnxNode, x: Act): void {
    const features = sizeOf(x.dims.slice(1))
    const dims = [x.dims[0]!, features]
    if (x.spade.length === 1) {
      this.alias(node, x, dims)
      return
    }
    let perm: Int32Array | null = null
    if (x.spade.length === 3) {
      const [, c, h, w] = x.dims as [number, number, number, number]
      const p = chwToHwcPermutation(c, h, w)
      perm = isIdentity(p) ? null : p
    }
    this.emit(node, { type: "flatten" }, [x], dims, [features], perm)
  }

  private reshape(node: OnnxNode): void {
    const x = this.act(node, node.inputs[0]!, "data")
    const shape = this.constant(node, 1, "shape")
    const allowZero = attrInt(node, "allowzero", 0) !== 0
    const target = Array.from(shape.data, (d, i) => (d === 0 && !allowZero ? (x.dims[i] ?? 0) : d))
    const known = target.filter((d) => d !== -1).reduce((a, b) => a * b, 1)
    const total = sizeOf(x.dims)
    const resolved = target.map((d) => (d === -1 ? total / known : d))
    if (resolved.length === x.dims.length && resolved.every((d, i) => d === x.dims[i])) {
      this.alias(node, x)
      return
    }
    if (resolved.length === 2 && resolved[0] === x.dims[0] && resolved[1] === total / x.dims[0]!) {
      this.toFlat(node, x)
      return
    }
    this.nodeFail(
      node,
      `reshapes ${show(x.dims)} to ${show(resolved)}, expected a flatten to [batch, -1] (Spade's flatten)`,
    )
  }

  private squeeze(node: OnnxNode): void {
    const x = this.act(node, node.inputs[0]!, "data")
    const axes =
      this.model.opset >= 13 && node.inputs.length > 1 && node.inputs[1] !== ""
        ? Array.from(this.constant(node, 1, "axes").data)
        : (attrInts(node, "axes") ?? x.dims.map((d, i) => (d === 1 && i > 0 ? i : -1)).filter((i) => i >= 0))
    const rest = x.dims.filter((_, i) => !axes.map((a) => (a < 0 ? a + x.dims.length : a)).includes(i))
    if (rest.length === 2 && rest[0] === x.dims[0] && x.spade.length === 1) {
      this.alias(node, x, rest)
      return
    }
    this.nodeFail(node, `squeezes ${show(x.dims)} to ${show(rest)}, expected [batch, C, 1, 1] → [batch, C]`)
  }

  private add(node: OnnxNode): void {
    const inputs = node.inputs.filter((i) => i !== "")
    const values = inputs.map((i, k) => this.value(node, i, `${k}`))
    const acts = values.filter((v): v is Act => v.kind === "act")
    const consts = values.filter((v): v is Const => v.kind === "const")
    if (acts.length === 0) this.nodeFail(node, "adds constants only, expected activations")
    if (consts.length > 0) {
      if (acts.length !== 1 || consts.length !== 1 || node.opType !== "Add")
        this.nodeFail(node, "adds a constant to several activations, expected activation + activation or a bias")
      this.addBias(node, acts[0]!, inputs[values.indexOf(acts[0]!)]!, consts[0]!, inputs[values.indexOf(consts[0]!)]!)
      return
    }
    const first = acts[0]!
    for (const a of acts.slice(1)) {
      if (a.dims.length !== first.dims.length || a.dims.some((d, i) => d !== first.dims[i]))
        this.nodeFail(node, `adds ${show(first.dims)} and ${show(a.dims)}, expected equal shapes (no broadcasting)`)
      if (!samePerm(a.perm, first.perm)) this.nodeFail(node, "adds activations whose flattened orders differ")
    }
    if (acts.length === 1) {
      this.alias(node, first)
      return
    }
    this.emit(node, { type: "add", inputs: [] } as unknown as Draft, acts, first.dims, first.spade, first.perm)
  }

  /** MatMul + Add(bias) is how PyTorch exports a Linear on a sequence: the Add becomes the linear's bias. */
  private addBias(node: OnnxNode, x: Act, xName: string, c: Const, cName: string): void {
    const prior = this.draftOf(x.source)
    const channels = x.dims.length === 4 ? x.dims[1]! : x.dims[x.dims.length - 1]!
    const expected =
      x.dims.length === 4
        ? (d: ReadonlyArray<number>) =>
            sizeOf(d) === channels && d.length >= 3 && d[d.length - 1] === 1 && d[d.length - 2] === 1
        : (d: ReadonlyArray<number>) => sizeOf(d) === channels && d[d.length - 1] === channels
    if (
      prior === undefined ||
      (prior.type !== "linear" && prior.type !== "conv2d") ||
      prior.bias !== false ||
      !this.fusable(x, xName) ||
      !expected(c.dims)
    )
      this.nodeFail(
        node,
        `adds constant "${cName}" ${show(c.dims)} to an activation, expected it to be the bias of the Gemm, MatMul or Conv before it`,
      )
    prior.bias = true
    const info = this.infos.find((i) => i.layer === prior.name)
    if (this.weights !== null && info !== undefined) {
      const t = this.constant(node, node.inputs.indexOf(cName), "bias")
      this.weights.set(`${prior.name}.bias`, Float32Array.from(t.data))
    }
    this.alias(node, x)
  }

  private concat(node: OnnxNode): void {
    const acts = node.inputs.map((i, k) => this.act(node, i, `${k}`))
    const first = acts[0]!
    const rank = first.dims.length
    const axisAttr = attrInt(node, "axis", 1)
    const axis = axisAttr < 0 ? axisAttr + rank : axisAttr
    // Spade concatenates along its last axis: channels of an image (ONNX axis 1), features of a
    // flat value (axis 1) or of a token (axis 2).
    const expected = rank === 4 ? 1 : rank - 1
    if (axis !== expected || first.spade.length !== (rank === 4 ? 3 : rank - 1))
      this.nodeFail(node, `axis ${axisAttr} of ${show(first.dims)}, expected the channel or feature axis (${expected})`)
    for (const a of acts) {
      if (a.dims.length !== rank || a.dims.some((d, i) => i !== axis && d !== first.dims[i]))
        this.nodeFail(node, `joins ${show(first.dims)} and ${show(a.dims)}, expected equal dims except axis ${axis}`)
      if (a.perm !== null) this.nodeFail(node, "joins flattened images, expected channels or plain features")
    }
    const joined = acts.reduce((s, a) => s + a.dims[axis]!, 0)
    const dims = first.dims.map((d, i) => (i === axis ? joined : d))
    const spade = [...first.spade.slice(0, -1), joined]
    this.emit(node, { type: "concat", inputs: [] } as unknown as Draft, acts, dims, spade, null)
  }

  private batchNorm(node: OnnxNode): void {
    const x = this.act(node, node.inputs[0]!, "X")
    if (!(x.dims.length === 4 || x.dims.length === 2))
      this.nodeFail(node, `input X has dims ${show(x.dims)}, expected [batch, C, H, W] or [batch, C]`)
    for (let o = 1; o < node.outputs.length; o++)
      if (node.outputs[o] !== "" && (this.uses.get(node.outputs[o]!) ?? 0) > 0)
        this.nodeFail(node, "a running-statistics output is used, expected an inference-mode BatchNormalization")
    const channels = x.dims[1]!
    const params = (["scale", "B", "input_mean", "input_var"] as const).map((role, k) => {
      const p = this.weight(node, k + 1, role)
      if (sizeOf(p.dims) !== channels) this.nodeFail(node, `${role} has dims ${show(p.dims)}, expected [${channels}]`)
      return p.data
    })
    // ONNX's momentum weights the running value (0.9), PyTorch's and Spade's the batch value (0.1).
    const momentum = tidy(1 - tidy(attrFloat(node, "momentum", 0.9)))
    const eps = attrFloat(node, "epsilon", 1e-5)
    const name = this.nameFor(node, node.inputs[1]!)
    this.emit(node, { type: "batchnorm", eps: tidy(eps), momentum } as Draft, [x], x.dims, x.spade, x.perm, name)
    if (this.weights !== null) {
      const [scale, b, mean, variance] = params.map((p) => permute(p!, x.perm))
      this.weights.set(`${name}.weight`, scale!)
      this.weights.set(`${name}.bias`, b!)
      this.weights.set(`${name}.running_mean`, mean!)
      this.weights.set(`${name}.running_var`, variance!)
    }
  }

  private layerNorm(node: OnnxNode): void {
    const x = this.act(node, node.inputs[0]!, "X")
    const rank = x.dims.length
    const axis = attrInt(node, "axis", -1)
    if ((axis < 0 ? axis + rank : axis) !== rank - 1)
      this.nodeFail(node, `normalizes from axis ${axis} of ${show(x.dims)}, expected the last axis`)
    const scale = this.weight(node, 1, "Scale")
    const bias = this.optionalWeight(node, 2, "B")
    this.normalize(node, x, scale, bias, attrFloat(node, "epsilon", 1e-5), node.inputs[1]!)
  }

  /** Spade's layernorm over the last axis of features or tokens; absent γ is 1, absent β is 0. */
  private normalize(
    node: OnnxNode,
    x: Act,
    scale: Weight | null,
    bias: Weight | null,
    eps: number,
    weightName: string | null,
  ): void {
    if (x.spade.length === 3)
      this.nodeFail(node, `normalizes the last axis of ${show(x.dims)} (width), expected features or tokens`)
    const d = x.dims[x.dims.length - 1]!
    for (const p of [scale, bias])
      if (p !== null && sizeOf(p.dims) !== d)
        this.nodeFail(node, `scale or bias has dims ${show(p.dims)}, expected [${d}]`)
    const name = this.nameFor(node, weightName)
    this.emit(node, { type: "layernorm", eps: tidy(eps) } as Draft, [x], x.dims, x.spade, x.perm, name)
    if (this.weights !== null) {
      this.weights.set(`${name}.weight`, scale === null ? new Float32Array(d).fill(1) : permute(scale.data!, x.perm))
      this.weights.set(`${name}.bias`, bias === null ? new Float32Array(d) : permute(bias.data!, x.perm))
    }
  }

  private softmax(node: OnnxNode): void {
    const x = this.act(node, node.inputs[0]!, "input")
    const rank = x.dims.length
    const axis = attrInt(node, "axis", this.model.opset >= 13 ? -1 : 1)
    if ((axis < 0 ? axis + rank : axis) !== rank - 1 || x.spade.length === 3)
      this.nodeFail(node, `axis ${axis} of ${show(x.dims)}, expected the last axis of features or tokens`)
    this.emit(node, { type: "softmax" }, [x], x.dims, x.spade, x.perm)
  }

  /** Constant folding for the shape arithmetic exporters emit around Reshape. False: not foldable here. */
  private fold(node: OnnxNode): boolean {
    const ins = node.inputs.map((n, k) => (n === "" ? null : this.constant(node, k, `${k}`)))
    const a = ins[0]
    if (a === null || a === undefined) return false
    const b = ins[1] ?? null
    const set = (dims: ReadonlyArray<number>, values: ArrayLike<number>, kind: "float" | "int" = a.kind) => {
      this.setConst(node.outputs[0]!, makeConst(kind, dims, values))
      return true
    }
    switch (node.opType) {
      case "Identity":
        return set(a.dims, a.data)
      case "Cast": {
        const to = attrInt(node, "to", 1)
        const float = to === 1 || to === 10 || to === 11 || to === 16
        return set(a.dims, float ? a.data : Array.from(a.data, Math.trunc), float ? "float" : "int")
      }
      case "Gather": {
        if (b === null || a.dims.length !== 1 || attrInt(node, "axis", 0) !== 0) return false
        return set(
          b.dims,
          Array.from(b.data, (i) => a.data[i < 0 ? i + a.data.length : i]!),
        )
      }
      case "Unsqueeze": {
        const axes = b !== null ? Array.from(b.data) : (attrInts(node, "axes") ?? [])
        const dims = [...a.dims]
        const rank = dims.length + axes.length
        for (const ax of axes.map((x) => (x < 0 ? x + rank : x)).sort((x, y) => x - y)) dims.splice(ax, 0, 1)
        return set(dims, a.data)
      }
      case "Squeeze":
        return set(
          a.dims.filter((d) => d !== 1),
          a.data,
        )
      case "Reshape": {
        if (b === null) return false
        const known = Array.from(b.data, (d, i) => (d === 0 ? (a.dims[i] ?? 0) : d))
        const fixed = known.filter((d) => d !== -1).reduce((x, y) => x * y, 1)
        return set(
          known.map((d) => (d === -1 ? a.data.length / fixed : d)),
          a.data,
        )
      }
      case "Concat": {
        const parts = ins.filter((t): t is ConstTensor => t !== null)
        if (parts.some((t) => t.dims.length > 1)) return false
        const all = parts.flatMap((t) => Array.from(t.data))
        return set([all.length], all)
      }
      case "Sqrt":
        return set(a.dims, Array.from(a.data, Math.sqrt))
      case "Neg":
        return set(
          a.dims,
          Array.from(a.data, (v) => -v),
        )
      default: {
        if (b === null || !(a.data.length === b.data.length || a.data.length === 1 || b.data.length === 1)) return false
        const n = Math.max(a.data.length, b.data.length)
        const op = node.opType
        const f = (x: number, y: number): number =>
          op === "Add"
            ? x + y
            : op === "Sub"
              ? x - y
              : op === "Mul"
                ? x * y
                : op === "Pow"
                  ? x ** y
                  : a.kind === "int"
                    ? Math.trunc(x / y)
                    : x / y
        const values = Array.from({ length: n }, (_, i) =>
          f(a.data[a.data.length === 1 ? 0 : i]!, b.data[b.data.length === 1 ? 0 : i]!),
        )
        // ONNX's Pow keeps the base's type, but PyTorch casts an int base to float first.
        const kind = op === "Pow" && b.kind === "float" ? "float" : a.kind
        return set(a.data.length >= b.data.length ? a.dims : b.dims, values, kind)
      }
    }
  }
}

const makeConst = (kind: "float" | "int", dims: ReadonlyArray<number>, values: ArrayLike<number>): ConstTensor =>
  kind === "float" ? { kind, dims, data: Float32Array.from(values) } : { kind, dims, data: Float64Array.from(values) }

/**
 * ONNX stores float attributes as float32: 1e-5 arrives as 9.99999974e-6. The shortest decimal that
 * rounds to the same float32 is what the exporter meant, and what a model file should say.
 */
const tidy = (v: number): number => {
  for (let digits = 1; digits <= 9; digits++) {
    const short = Number(v.toPrecision(digits))
    if (Math.fround(short) === Math.fround(v)) return short
  }
  return v
}

/** The other input of a binary node, given one; null if `value` is not one of exactly two inputs. */
const other = (node: OnnxNode, value: string): string | null =>
  node.inputs.length !== 2
    ? null
    : node.inputs[0] === value
      ? node.inputs[1]!
      : node.inputs[1] === value
        ? node.inputs[0]!
        : null

const samePerm = (a: Int32Array | null, b: Int32Array | null): boolean =>
  a === b || (a !== null && b !== null && a.length === b.length && a.every((v, i) => v === b[i]))

/** Convert a checked ONNX model. */
export const convertOnnx = (model: OnnxModel, options: ImportOptions = {}): Either.Either<ImportedModel, OnnxError> => {
  const shapesOnly = options.shapesOnly === true || model.initializers.size === 0
  const name = options.name ?? path.basename(model.file).replace(/\.onnx$/i, "")
  try {
    const result = new Converter(model, shapesOnly).run(name)
    return Either.right({
      file: model.file,
      sha256: model.sha256,
      opset: model.opset,
      producer: model.producer,
      ...result,
    })
  } catch (e) {
    if (e instanceof Fail) return Either.left(e.error)
    throw e
  }
}
