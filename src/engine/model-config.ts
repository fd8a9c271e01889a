import { type Effect, Schema } from "effect"
import { loadConfig, type ConfigError, type FileError, type NotFoundError } from "../config/index.ts"
import { convOut } from "../tensor/index.ts"

const PositiveInt = Schema.Int.pipe(Schema.positive())
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())
const LayerName = Schema.NonEmptyTrimmedString

/** The name `inputs` uses for the model's input; no layer may take it. */
export const MODEL_INPUT = "input"

/**
 * Where a layer reads from: names of earlier layers, or "input" for the model input. Absent: the
 * previous layer's output (the model input for the first layer), so plain chains need no names.
 */
const graph = {
  inputs: Schema.optional(Schema.NonEmptyArray(LayerName)),
}

/** A layer without weights may be named, so that later layers can read it. */
const optionalName = { name: Schema.optional(LayerName), ...graph }

/** Fields every layer with weights shares. */
const weighted = {
  /** Unique within the model; traces and results name layers by it. */
  name: LayerName,
  /** Default true. */
  bias: Schema.optional(Schema.Boolean),
  /**
   * Default true: weight sparsifiers prune this layer. Set false to keep it dense, as most pruning
   * papers do for a first conv layer with one input channel (too few weights to prune usefully).
   */
  sparse: Schema.optional(Schema.Boolean),
  ...graph,
}

/** Per sample: flat [features] → [outFeatures]; on a token sequence [T, D] it acts per token → [T, outFeatures]. */
export const LinearLayerConfig = Schema.Struct({
  type: Schema.Literal("linear"),
  ...weighted,
  outFeatures: PositiveInt,
})
export type LinearLayerConfig = typeof LinearLayerConfig.Type

/** 2-D convolution on height×width×channels input; square kernels. */
export const Conv2dLayerConfig = Schema.Struct({
  type: Schema.Literal("conv2d"),
  ...weighted,
  outChannels: PositiveInt,
  kernelSize: PositiveInt,
  /** Default 1. */
  stride: Schema.optional(PositiveInt),
  /** Zero padding on every side, default 0. */
  padding: Schema.optional(NonNegativeInt),
  /**
   * Default 1. Channels split into `groups` independent convolutions; it must divide the input and
   * output channels. Depthwise: groups = input channels.
   */
  groups: Schema.optional(PositiveInt),
})
export type Conv2dLayerConfig = typeof Conv2dLayerConfig.Type

export const ReluLayerConfig = Schema.Struct({
  type: Schema.Literal("relu"),
  ...optionalName,
  /** Clip at this value too (6 gives MobileNet's ReLU6); default none. */
  max: Schema.optional(Schema.Number.pipe(Schema.positive())),
})
export type ReluLayerConfig = typeof ReluLayerConfig.Type

const pool = {
  /** Square window edge. */
  size: PositiveInt,
  /** Default: the window size (non-overlapping windows). */
  stride: Schema.optional(PositiveInt),
  /**
   * Rows and columns added on every side, default 0; at most half the window (PyTorch's bound), so
   * every window keeps an input cell. A max pool pads with −∞: padded cells never win.
   */
  padding: Schema.optional(NonNegativeInt),
  ...optionalName,
}
// One struct per type literal: a union member keyed by a single literal lets a decode error name
// the bad field instead of blaming "type".
export const MaxPoolLayerConfig = Schema.Struct({ type: Schema.Literal("maxpool"), ...pool })
export const AvgPoolLayerConfig = Schema.Struct({
  type: Schema.Literal("avgpool"),
  ...pool,
  /**
   * With padding: whether padded cells (zeros) count in the mean. Default true, as PyTorch's
   * nn.AvgPool2d (count_include_pad=True); ONNX's AveragePool defaults to false.
   */
  countIncludePad: Schema.optional(Schema.Boolean),
})
export const PoolLayerConfig = Schema.Union(MaxPoolLayerConfig, AvgPoolLayerConfig)
export type PoolLayerConfig = typeof PoolLayerConfig.Type

export const FlattenLayerConfig = Schema.Struct({ type: Schema.Literal("flatten"), ...optionalName })

/** Keep the `fraction` largest activations of each sample (at least one), zero the rest ("lazy neuron" sparsity). */
export const TopKLayerConfig = Schema.Struct({
  type: Schema.Literal("topk"),
  ...optionalName,
  fraction: Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThanOrEqualTo(1)),
})
export type TopKLayerConfig = typeof TopKLayerConfig.Type

/**
 * Delta Activation Layer (Neil et al. "Delta networks"; Gao et al. "DeltaRNN"): activations are
 * quantized to `bits`-bit levels of `quantStep`, and per frame a unit sends Δ = q_t − x̂ only when
 * |Δ| > `threshold`, then x̂ ← x̂ + Δ. The next layer computes with x̂ (equivalently accumulates W·Δ).
 */
export const DeltaLayerConfig = Schema.Struct({
  type: Schema.Literal("delta"),
  ...optionalName,
  /** θ in activation units; 0 sends every change. */
  threshold: Schema.Number.pipe(Schema.nonNegative()),
  /** Quantization step in activation units, default 1/32. */
  quantStep: Schema.optional(Schema.Number.pipe(Schema.positive())),
  /** Signed levels: |q| ≤ 2^(bits−1) − 1. Default 8. */
  bits: Schema.optional(Schema.Int.pipe(Schema.between(2, 16))),
  /** Weight of the L1 penalty on sent deltas added to the loss (0 = off, the default). */
  l1: Schema.optional(Schema.Number.pipe(Schema.nonNegative())),
})
export type DeltaLayerConfig = typeof DeltaLayerConfig.Type

/**
 * Batch normalization per channel (the last axis): batch statistics in training (biased variance,
 * as PyTorch normalizes), running statistics at inference, a learnable gain and bias.
 * Parameters `<name>.weight`, `<name>.bias`; buffers `<name>.running_mean`, `<name>.running_var`.
 */
export const BatchNormLayerConfig = Schema.Struct({
  type: Schema.Literal("batchnorm"),
  name: LayerName,
  ...graph,
  /** Default 1e-5. */
  eps: Schema.optional(Schema.Number.pipe(Schema.positive())),
  /** Running statistics: r ← (1 − momentum)·r + momentum·batch (PyTorch's convention); default 0.1. */
  momentum: Schema.optional(Schema.Number.pipe(Schema.between(0, 1))),
})
export type BatchNormLayerConfig = typeof BatchNormLayerConfig.Type

/** Elementwise sum of equally shaped inputs (a residual connection). */
export const AddLayerConfig = Schema.Struct({
  type: Schema.Literal("add"),
  name: Schema.optional(LayerName),
  inputs: Schema.NonEmptyArray(LayerName),
})
export type AddLayerConfig = typeof AddLayerConfig.Type

/** Concatenation along the last axis (channels, features); the other axes must agree. */
export const ConcatLayerConfig = Schema.Struct({
  type: Schema.Literal("concat"),
  name: Schema.optional(LayerName),
  inputs: Schema.NonEmptyArray(LayerName),
})
export type ConcatLayerConfig = typeof ConcatLayerConfig.Type

/** Mean over every position: [H, W, C] → [C], and a token sequence [T, D] → [D]. */
export const GlobalAvgPoolLayerConfig = Schema.Struct({ type: Schema.Literal("globalavgpool"), ...optionalName })

/** Normalize each position over the last axis; learnable gain `<name>.weight` and bias `<name>.bias`. */
export const LayerNormLayerConfig = Schema.Struct({
  type: Schema.Literal("layernorm"),
  name: LayerName,
  ...graph,
  /** Default 1e-5. */
  eps: Schema.optional(Schema.Number.pipe(Schema.positive())),
})
export type LayerNormLayerConfig = typeof LayerNormLayerConfig.Type

/** GELU, the exact erf form (PyTorch's default): x·Φ(x). */
export const GeluLayerConfig = Schema.Struct({ type: Schema.Literal("gelu"), ...optionalName })

/** Softmax over the last axis. */
export const SoftmaxLayerConfig = Schema.Struct({ type: Schema.Literal("softmax"), ...optionalName })

/**
 * Multi-head self-attention on a token sequence [T, D] as its GEMMs: `<name>.qkv` (linear D → 3D,
 * output columns Q | K | V, head h owning columns h·dh..(h+1)·dh of each, as PyTorch's in_proj),
 * per head S = Q·Kᵀ/√dh (`<name>.scores`), softmax over keys, O = S·V (`<name>.context`), heads
 * concatenated, `<name>.out` (linear D → D). Sparsifiers prune the two linears (unless `sparse` is
 * false); the two products of activations have no weights.
 */
export const AttentionLayerConfig = Schema.Struct({
  type: Schema.Literal("attention"),
  ...weighted,
  /** Must divide D; each head works on dh = D / heads features. */
  heads: PositiveInt,
})
export type AttentionLayerConfig = typeof AttentionLayerConfig.Type

export const LayerConfig = Schema.Union(
  LinearLayerConfig,
  Conv2dLayerConfig,
  ReluLayerConfig,
  MaxPoolLayerConfig,
  AvgPoolLayerConfig,
  FlattenLayerConfig,
  TopKLayerConfig,
  DeltaLayerConfig,
  BatchNormLayerConfig,
  AddLayerConfig,
  ConcatLayerConfig,
  GlobalAvgPoolLayerConfig,
  LayerNormLayerConfig,
  GeluLayerConfig,
  SoftmaxLayerConfig,
  AttentionLayerConfig,
)
export type LayerConfig = typeof LayerConfig.Type

/** Layer types whose work is a weighted GEMM (what sparsifiers prune and traces record). */
export const isGemmLayer = (
  layer: LayerConfig,
): layer is LinearLayerConfig | Conv2dLayerConfig | AttentionLayerConfig =>
  layer.type === "linear" || layer.type === "conv2d" || layer.type === "attention"

/**
 * Per-sample shape: [features], a token sequence [tokens, features], or an image
 * [height, width, channels] (NHWC, the engine's image layout).
 */
export type SampleShape = readonly [number] | readonly [number, number] | readonly [number, number, number]

/** One layer of a model, resolved: where it reads from and what it produces. */
export interface GraphNode {
  readonly index: number
  readonly layer: LayerConfig
  /** Indices of the layers it reads, in order; -1 is the model input. */
  readonly inputs: ReadonlyArray<number>
  readonly inputShapes: ReadonlyArray<SampleShape>
  readonly shape: SampleShape
  /**
   * Whether its output depends on a parameter, i.e. carries a gradient in training. A weighted
   * layer whose input does not (it reads the model input, perhaps through pooling) has no
   * backward-data GEMM: nothing consumes that gradient.
   */
  readonly gradient: boolean
}

export type GraphProblem = { readonly index: number; readonly field: string; readonly reason: string }

const show = (shape: ReadonlyArray<number>): string => `[${shape.join(", ")}]`
const sameShape = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): boolean =>
  a.length === b.length && a.every((v, i) => v === b[i])

const inputShapeOf = (input: {
  readonly features: number
  readonly shape?: ReadonlyArray<number> | undefined
}): SampleShape => {
  const s = input.shape
  if (s !== undefined && s.length === 3) return [s[0]!, s[1]!, s[2]!]
  if (s !== undefined && s.length === 2) return [s[0]!, s[1]!]
  return [input.features]
}

/** A layer's output shape from its input shapes, or why it cannot take them. */
const layerShape = (
  layer: LayerConfig,
  inputs: ReadonlyArray<SampleShape>,
): SampleShape | { readonly field: string; readonly reason: string } => {
  const shape = inputs[0]!
  const needsImage = (what: string) => ({
    field: "type",
    reason: `${what} needs height×width×channels input, got ${show(shape)}${
      shape.length === 1 ? ": give the model an input.shape" : ""
    }`,
  })
  switch (layer.type) {
    case "linear":
      if (shape.length === 3)
        return {
          field: "type",
          reason: `linear needs flat input or a token sequence, got ${show(shape)}: add { "type": "flatten" } before it`,
        }
      return shape.length === 2 ? [shape[0], layer.outFeatures] : [layer.outFeatures]
    case "conv2d": {
      if (shape.length !== 3) return needsImage("conv2d")
      const [h, w, c] = shape
      const groups = layer.groups ?? 1
      if (c % groups !== 0) return { field: "groups", reason: `${groups} groups do not divide the ${c} input channels` }
      if (layer.outChannels % groups !== 0)
        return { field: "groups", reason: `${groups} groups do not divide the ${layer.outChannels} output channels` }
      const s = layer.stride ?? 1
      const p = layer.padding ?? 0
      const oh = convOut(h, layer.kernelSize, s, p)
      const ow = convOut(w, layer.kernelSize, s, p)
      if (oh < 1 || ow < 1)
        return {
          field: "kernelSize",
          reason: `kernel ${layer.kernelSize} does not fit input ${h}×${w} with padding ${p}`,
        }
      return [oh, ow, layer.outChannels]
    }
    case "maxpool":
    case "avgpool": {
      if (shape.length !== 3) return needsImage(layer.type)
      const [h, w, c] = shape
      const s = layer.stride ?? layer.size
      const p = layer.padding ?? 0
      if (2 * p > layer.size) return { field: "padding", reason: `padding ${p} exceeds half the window ${layer.size}` }
      if (layer.size > h + 2 * p || layer.size > w + 2 * p)
        return {
          field: "size",
          reason: `window ${layer.size} does not fit input ${h}×${w}${p > 0 ? ` with padding ${p}` : ""}`,
        }
      return [convOut(h, layer.size, s, p), convOut(w, layer.size, s, p), c]
    }
    case "flatten":
      return [shape.reduce((a, b) => a * b, 1)]
    case "delta":
      if (shape.length !== 1) return { field: "type", reason: `delta needs flat input, got ${show(shape)}` }
      return shape
    case "relu":
    case "topk":
    case "batchnorm":
    case "layernorm":
    case "gelu":
    case "softmax":
      return shape
    case "add": {
      const bad = inputs.findIndex((s) => !sameShape(s, shape))
      if (bad >= 0)
        return {
          field: "inputs",
          reason: `add needs equal shapes, but "${layer.inputs[0]}" is ${show(shape)} and "${layer.inputs[bad]}" is ${show(inputs[bad]!)}`,
        }
      return shape
    }
    case "concat": {
      const head = shape.slice(0, -1)
      const bad = inputs.findIndex((s) => !sameShape(s.slice(0, -1), head) || s.length !== shape.length)
      if (bad >= 0)
        return {
          field: "inputs",
          reason: `concat joins the last axis, so the others must agree, but "${layer.inputs[0]}" is ${show(shape)} and "${layer.inputs[bad]}" is ${show(inputs[bad]!)}`,
        }
      const last = inputs.reduce((sum, s) => sum + s[s.length - 1]!, 0)
      return [...head, last] as unknown as SampleShape
    }
    case "globalavgpool":
      if (shape.length === 1)
        return { field: "type", reason: `globalavgpool needs an image or a token sequence, got ${show(shape)}` }
      return [shape[shape.length - 1]!]
    case "attention": {
      if (shape.length !== 2)
        return {
          field: "type",
          reason: `attention needs a token sequence [tokens, features], got ${show(shape)}: give the model an input.shape [T, D]`,
        }
      const d = shape[1]
      if (d % layer.heads !== 0) return { field: "heads", reason: `${layer.heads} heads do not divide D = ${d}` }
      return shape
    }
  }
}

const hasParameters = (layer: LayerConfig): boolean =>
  isGemmLayer(layer) || layer.type === "batchnorm" || layer.type === "layernorm"

/**
 * Resolve every layer's inputs and infer its output shape, in file order (which must be a
 * topological order: inputs name earlier layers). The first problem found is returned with the
 * layer's index, the field to blame and why; the schema filter turns it into a path.
 */
export const analyzeGraph = (
  input: { readonly features: number; readonly shape?: ReadonlyArray<number> | undefined },
  layers: ReadonlyArray<LayerConfig>,
): { readonly nodes: ReadonlyArray<GraphNode> } | GraphProblem => {
  const modelInput = inputShapeOf(input)
  const byName = new Map<string, number>()
  const nodes: GraphNode[] = []
  for (const [index, layer] of layers.entries()) {
    const names = layer.inputs ?? null
    const inputs: number[] = []
    if (names === null) inputs.push(index - 1)
    else
      for (const name of names) {
        const at = name === MODEL_INPUT ? -1 : byName.get(name)
        if (at === undefined) {
          const later = layers.findIndex((l, j) => j >= index && l.name === name)
          return {
            index,
            field: "inputs",
            reason:
              later >= 0
                ? `"${name}" is layer ${later}, not an earlier layer: a layer reads only layers before it`
                : `no earlier layer is named "${name}" (name a layer, or "${MODEL_INPUT}" for the model input)`,
          }
        }
        inputs.push(at)
      }
    const inputShapes = inputs.map((i) => (i < 0 ? modelInput : nodes[i]!.shape))
    const shape = layerShape(layer, inputShapes)
    if (!Array.isArray(shape)) return { index, ...(shape as { field: string; reason: string }) }
    const gradient = hasParameters(layer) || inputs.some((i) => i >= 0 && nodes[i]!.gradient)
    nodes.push({ index, layer, inputs, inputShapes, shape: shape as SampleShape, gradient })
    if (layer.name !== undefined) byName.set(layer.name, index)
  }
  return { nodes }
}

/**
 * Every layer's output shape, or the first layer that cannot take its input (index and reason).
 * Shared by the schema filter (so a bad file names its field) and by the model builder.
 */
export const inferShapes = (
  input: { readonly features: number; readonly shape?: ReadonlyArray<number> | undefined },
  layers: ReadonlyArray<LayerConfig>,
): { readonly shapes: ReadonlyArray<SampleShape> } | GraphProblem => {
  const graph = analyzeGraph(input, layers)
  return "reason" in graph ? graph : { shapes: graph.nodes.map((n) => n.shape) }
}

/** A model file in models/: the input size and a graph of layers; the last layer's outputs are the logits. */
export const ModelConfig = Schema.Struct({
  name: Schema.NonEmptyTrimmedString,
  /** What the model is and why it is here; `spade list` shows its first sentence. */
  description: Schema.String,
  input: Schema.Struct({
    /** Values per sample (per frame for sequences), as the dataset stores them. */
    features: PositiveInt,
    /**
     * Optional view of those features: [height, width, channels] for conv and pooling layers, or
     * [tokens, features] for a token sequence (attention, per-token linear layers).
     */
    shape: Schema.optional(
      // An array with a length check, not a union of tuples: a bad entry is then named by its index.
      Schema.Array(PositiveInt).pipe(
        Schema.filter(
          (s) => s.length === 2 || s.length === 3 || `expected [height, width, channels] or [tokens, features]`,
        ),
      ),
    ),
  }),
  layers: Schema.NonEmptyArray(LayerConfig),
}).pipe(
  Schema.filter((model) => {
    const shape = model.input.shape
    if (shape !== undefined && shape.reduce((a, b) => a * b, 1) !== model.input.features)
      return {
        path: ["input", "shape"],
        message: `expected ${shape.length === 3 ? "height·width·channels" : "tokens·features"} = features (${model.input.features}), got ${shape.join("·")}`,
      }
    const seen = new Set<string>()
    for (const [i, layer] of model.layers.entries()) {
      if (layer.name === undefined) continue
      if (layer.name === MODEL_INPUT)
        return { path: ["layers", i, "name"], message: `"${MODEL_INPUT}" names the model input; pick another name` }
      if (seen.has(layer.name)) return { path: ["layers", i, "name"], message: `duplicate layer name "${layer.name}"` }
      seen.add(layer.name)
    }
    if (!model.layers.some(isGemmLayer))
      return { path: ["layers"], message: "needs at least one linear, conv2d or attention layer" }
    const inferred = analyzeGraph(model.input, model.layers)
    if ("reason" in inferred) {
      const layer = model.layers[inferred.index]!
      // Without input.shape every activation is flat, so a layer that cannot take its input's
      // rank (a conv, a pool, attention) is missing the shape, wherever it stands.
      if (shape === undefined && inferred.field === "type")
        return {
          path: ["input", "shape"],
          message: `is missing: layer ${inferred.index} (${layer.type}) needs a [height, width, channels] or [tokens, features] input shape`,
        }
      return { path: ["layers", inferred.index, inferred.field], message: inferred.reason }
    }
    const last = inferred.nodes[inferred.nodes.length - 1]!.shape
    return last.length === 1
      ? undefined
      : { path: ["layers"], message: `the last layer must produce flat logits, got ${show(last)}` }
  }),
)
export type ModelConfig = typeof ModelConfig.Type

/** A model by name (a file stem in models/) or by path. */
export const loadModel = (nameOrFile: string): Effect.Effect<ModelConfig, ConfigError | FileError | NotFoundError> =>
  loadConfig("models", ModelConfig)(nameOrFile)

/** The resolved graph of a decoded model; throws on a model that did not come through the decoder. */
export const modelGraph = (model: ModelConfig): ReadonlyArray<GraphNode> => {
  const graph = analyzeGraph(model.input, model.layers)
  if ("reason" in graph) throw new RangeError(`model ${model.name}: layer ${graph.index}: ${graph.reason}`)
  return graph.nodes
}

/** Number of logits the model produces. */
export const outputFeatures = (model: ModelConfig): number => {
  const nodes = modelGraph(model)
  return nodes[nodes.length - 1]!.shape.reduce((a, b) => a * b, 1)
}
