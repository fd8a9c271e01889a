import { modelGemms } from "./gemms.ts"
import { type ModelConfig, outputFeatures } from "./model-config.ts"

/** Where a model file is at fault, and what was expected there: a ConfigError's path and text. */
export interface ModelIssue {
  readonly path: string
  readonly expected: string
}

/**
 * Weights (and as many biases, gradients, momenta and masks) the engine allocates at most unless
 * raised: 2^28 floats are 1 GiB per copy, several copies of which a 2-core, 24 GiB machine holds;
 * a layer past it is a typo (`outFeatures: 1000000000`), not a network anyone trains on a CPU.
 */
export const MAX_PARAMETERS = 2 ** 28

const layerPath = (model: ModelConfig, index: number): string => {
  const layer = model.layers[index]
  const field =
    layer !== undefined && "outFeatures" in layer
      ? "outFeatures"
      : layer !== undefined && "outChannels" in layer
        ? "outChannels"
        : ""
  return `layers[${index}]${field === "" ? "" : `.${field}`}`
}

/** The config layer a GEMM belongs to (an attention layer's GEMMs are `<name>.qkv`, …). */
const configIndex = (model: ModelConfig, gemmLayer: string): number =>
  Math.max(
    0,
    model.layers.findIndex(
      (l) => "name" in l && l.name !== undefined && (l.name === gemmLayer || gemmLayer.startsWith(`${l.name}.`)),
    ),
  )

/**
 * Whether a model fits before anything is allocated: its weights counted from the shapes alone
 * (every weighted layer's forward GEMM, K × N per group), against `maxParameters`. The layer with
 * the most is named, with the estimate and the limit.
 */
export const modelSizeIssue = (model: ModelConfig, maxParameters: number = MAX_PARAMETERS): ModelIssue | null => {
  let total = 0
  let largest = { index: 0, count: 0 }
  for (const g of modelGemms(model, 1)) {
    if (g.pass !== "forward" || g.op === "matmul") continue
    const count = g.groups * g.gemm.k * g.gemm.n
    total += count
    if (count > largest.count) largest = { index: configIndex(model, g.layer), count }
  }
  return total <= maxParameters
    ? null
    : {
        path: layerPath(model, largest.index),
        expected:
          `expected a model of at most ${maxParameters.toExponential(2)} weights (--max-parameters raises it), ` +
          `got ${total.toExponential(2)}, ${largest.count.toExponential(2)} of them in this layer`,
      }
}

/** Whether a model's input and output fit a dataset's samples and classes; the model file's field is blamed. */
export const dataFitIssue = (
  model: ModelConfig,
  data: { readonly features: number; readonly classes: number },
  dataset: string,
): ModelIssue | null => {
  if (model.input.features !== data.features)
    return {
      path: "input.features",
      expected: `expected ${data.features}, the values per sample of dataset "${dataset}", got ${model.input.features}`,
    }
  const outputs = outputFeatures(model)
  if (outputs === data.classes) return null
  let last = model.layers.length - 1
  while (last > 0 && !("outFeatures" in model.layers[last]! || "outChannels" in model.layers[last]!)) last--
  return {
    path: layerPath(model, last),
    expected: `expected the ${data.classes} classes of dataset "${dataset}" as the model's outputs, got ${outputs}`,
  }
}
