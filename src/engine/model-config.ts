import { type Effect, Schema } from "effect"
import { loadConfig, type ConfigError, type FileError, type NotFoundError } from "../config/index.ts"
import { convOut } from "../tensor/index.ts"

const PositiveInt = Schema.Int.pipe(Schema.positive())
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())

/** Fields every layer with weights shares. */
const weighted = {
  /** Unique within the model; traces and results name layers by it. */
  name: Schema.NonEmptyTrimmedString,
  /** Default true. */
  bias: Schema.optional(Schema.Boolean),
  /**
   * Default true: weight sparsifiers prune this layer. Set false to keep it dense, as most pruning
   * papers do for a first conv layer with one input channel (too few weights to prune usefully).
   */
  sparse: Schema.optional(Schema.Boolean),
}

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
})
export type Conv2dLayerConfig = typeof Conv2dLayerConfig.Type

export const ReluLayerConfig = Schema.Struct({ type: Schema.Literal("relu") })
export type ReluLayerConfig = typeof ReluLayerConfig.Type

const pool = {
  /** Square window edge. */
  size: PositiveInt,
  /** Default: the window size (non-overlapping windows). */
  stride: Schema.optional(PositiveInt),
}
// One struct per type literal: a union member keyed by a single literal lets a decode error name
// the bad field instead of blaming "type".
export const MaxPoolLayerConfig = Schema.Struct({ type: Schema.Literal("maxpool"), ...pool })
export const AvgPoolLayerConfig = Schema.Struct({ type: Schema.Literal("avgpool"), ...pool })
export const PoolLayerConfig = Schema.Union(MaxPoolLayerConfig, AvgPoolLayerConfig)
export type PoolLayerConfig = typeof PoolLayerConfig.Type

export const FlattenLayerConfig = Schema.Struct({ type: Schema.Literal("flatten") })

/** Keep the `fraction` largest activations of each sample (at least one), zero the rest ("lazy neuron" sparsity). */
export const TopKLayerConfig = Schema.Struct({
  type: Schema.Literal("topk"),
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

export const LayerConfig = Schema.Union(
  LinearLayerConfig,
  Conv2dLayerConfig,
  ReluLayerConfig,
  MaxPoolLayerConfig,
  AvgPoolLayerConfig,
  FlattenLayerConfig,
  TopKLayerConfig,
  DeltaLayerConfig,
)
export type LayerConfig = typeof LayerConfig.Type

/** Per-sample shape: [features] or [height, width, channels] (NHWC, the engine's image layout). */
export type SampleShape = readonly [number] | readonly [number, number, number]

/**
 * Every layer's output shape, or the first layer that cannot take its input (index and reason).
 * Shared by the schema filter (so a bad file names its field) and by the model builder.
 */
export const inferShapes = (
  input: { readonly features: number; readonly shape?: ReadonlyArray<number> | undefined },
  layers: ReadonlyArray<LayerConfig>,
):
  | { readonly shapes: ReadonlyArray<SampleShape> }
  | { readonly index: number; readonly field: string; readonly reason: string } => {
  let shape: SampleShape =
    input.shape !== undefined && input.shape.length === 3
      ? [input.shape[0]!, input.shape[1]!, input.shape[2]!]
      : [input.features]
  const shapes: SampleShape[] = []
  for (const [index, layer] of layers.entries()) {
    switch (layer.type) {
      case "linear":
        if (shape.length !== 1)
          return {
            index,
            field: "type",
            reason: `linear needs flat input, got [${shape.join(", ")}]: add { "type": "flatten" } before it`,
          }
        shape = [layer.outFeatures]
        break
      case "conv2d": {
        if (shape.length !== 3)
          return {
            index,
            field: "type",
            reason: `conv2d needs height×width×channels input, got [${shape.join(", ")}]: give the model an input.shape`,
          }
        const [h, w] = shape
        const s = layer.stride ?? 1
        const p = layer.padding ?? 0
        const oh = convOut(h, layer.kernelSize, s, p)
        const ow = convOut(w, layer.kernelSize, s, p)
        if (oh < 1 || ow < 1)
          return {
            index,
            field: "kernelSize",
            reason: `kernel ${layer.kernelSize} does not fit input ${h}×${w} with padding ${p}`,
          }
        shape = [oh, ow, layer.outChannels]
        break
      }
      case "maxpool":
      case "avgpool": {
        if (shape.length !== 3)
          return {
            index,
            field: "type",
            reason: `${layer.type} needs height×width×channels input, got [${shape.join(", ")}]`,
          }
        const [h, w, c] = shape
        const s = layer.stride ?? layer.size
        if (layer.size > h || layer.size > w)
          return { index, field: "size", reason: `window ${layer.size} does not fit input ${h}×${w}` }
        shape = [convOut(h, layer.size, s, 0), convOut(w, layer.size, s, 0), c]
        break
      }
      case "flatten":
        shape = [shape.reduce((a, b) => a * b, 1)]
        break
      case "relu":
      case "topk":
        break
      case "delta":
        if (shape.length !== 1)
          return { index, field: "type", reason: `delta needs flat input, got [${shape.join(", ")}]` }
        break
    }
    shapes.push(shape)
  }
  return { shapes }
}

/** A model file in models/: the input size and a sequence of layers; the last layer's outputs are the logits. */
export const ModelConfig = Schema.Struct({
  name: Schema.NonEmptyTrimmedString,
  /** What the model is and why it is here; `spade list` shows its first sentence. */
  description: Schema.String,
  input: Schema.Struct({
    /** Values per sample (per frame for sequences), as the dataset stores them. */
    features: PositiveInt,
    /** Optional [height, width, channels] view of those features, needed by conv and pooling layers. */
    shape: Schema.optional(Schema.Tuple(PositiveInt, PositiveInt, PositiveInt)),
  }),
  layers: Schema.NonEmptyArray(LayerConfig),
}).pipe(
  Schema.filter((model) => {
    const shape = model.input.shape
    if (shape !== undefined && shape[0] * shape[1] * shape[2] !== model.input.features)
      return {
        path: ["input", "shape"],
        message: `expected height·width·channels = features (${model.input.features}), got ${shape.join("·")}`,
      }
    const seen = new Set<string>()
    for (const [i, layer] of model.layers.entries()) {
      if (layer.type !== "linear" && layer.type !== "conv2d") continue
      if (seen.has(layer.name)) return { path: ["layers", i, "name"], message: `duplicate layer name "${layer.name}"` }
      seen.add(layer.name)
    }
    if (!model.layers.some((l) => l.type === "linear" || l.type === "conv2d"))
      return { path: ["layers"], message: "needs at least one linear or conv2d layer" }
    const inferred = inferShapes(model.input, model.layers)
    if ("reason" in inferred) {
      const layer = model.layers[inferred.index]!
      // A conv or pooling layer on a model without input.shape: the shape is what is missing.
      if (
        shape === undefined &&
        inferred.field === "type" &&
        layer.type !== "linear" &&
        layer.type !== "delta" &&
        model.layers.slice(0, inferred.index).every((l) => l.type !== "linear")
      )
        return {
          path: ["input", "shape"],
          message: `is missing: layer ${inferred.index} (${layer.type}) needs a [height, width, channels] input shape`,
        }
      return { path: ["layers", inferred.index, inferred.field], message: inferred.reason }
    }
    const last = inferred.shapes[inferred.shapes.length - 1]!
    return last.length === 1
      ? undefined
      : { path: ["layers"], message: `the last layer must produce flat logits, got [${last.join(", ")}]` }
  }),
)
export type ModelConfig = typeof ModelConfig.Type

/** A model by name (a file stem in models/) or by path. */
export const loadModel = (nameOrFile: string): Effect.Effect<ModelConfig, ConfigError | FileError | NotFoundError> =>
  loadConfig("models", ModelConfig)(nameOrFile)

/** Number of logits the model produces. */
export const outputFeatures = (model: ModelConfig): number => {
  const inferred = inferShapes(model.input, model.layers)
  if ("reason" in inferred) throw new RangeError(`model ${model.name}: layer ${inferred.index}: ${inferred.reason}`)
  const last = inferred.shapes[inferred.shapes.length - 1]!
  return last.reduce((a, b) => a * b, 1)
}
