import { Effect, Schema } from "effect"
import { loadConfig, type ConfigError, type FileError, type NotFoundError } from "../config/index.ts"

const PositiveInt = Schema.Int.pipe(Schema.positive())

export const LinearLayerConfig = Schema.Struct({
  type: Schema.Literal("linear"),
  /** Unique within the model; traces and results name layers by it. */
  name: Schema.NonEmptyTrimmedString,
  outFeatures: PositiveInt,
  /** Default true. */
  bias: Schema.optional(Schema.Boolean),
})
export type LinearLayerConfig = typeof LinearLayerConfig.Type

export const ReluLayerConfig = Schema.Struct({
  type: Schema.Literal("relu"),
})
export type ReluLayerConfig = typeof ReluLayerConfig.Type

export const LayerConfig = Schema.Union(LinearLayerConfig, ReluLayerConfig)
export type LayerConfig = typeof LayerConfig.Type

/** A model file in models/: the input size and a sequence of layers; the last layer's outputs are the logits. */
export const ModelConfig = Schema.Struct({
  name: Schema.NonEmptyTrimmedString,
  /** What the model is and why it is here; `spade list` shows its first sentence. */
  description: Schema.String,
  input: Schema.Struct({ features: PositiveInt }),
  layers: Schema.NonEmptyArray(LayerConfig),
}).pipe(
  Schema.filter((model) => {
    const seen = new Set<string>()
    for (const [i, layer] of model.layers.entries()) {
      if (layer.type !== "linear") continue
      if (seen.has(layer.name)) return { path: ["layers", i, "name"], message: `duplicate layer name "${layer.name}"` }
      seen.add(layer.name)
    }
    return model.layers.some((l) => l.type === "linear") ? undefined : { path: ["layers"], message: "needs at least one linear layer" }
  }),
)
export type ModelConfig = typeof ModelConfig.Type

/** A model by name (a file stem in models/) or by path. */
export const loadModel = (nameOrFile: string): Effect.Effect<ModelConfig, ConfigError | FileError | NotFoundError> =>
  loadConfig("models", ModelConfig)(nameOrFile)

/** Number of logits the model produces. */
export const outputFeatures = (model: ModelConfig): number => {
  let features = model.input.features
  for (const layer of model.layers) if (layer.type === "linear") features = layer.outFeatures
  return features
}
