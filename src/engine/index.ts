/**
 * Bumped whenever a change can alter trained weights or traces for the same inputs: caches of
 * finished runs are keyed by it.
 */
export const ENGINE_VERSION = "0.1.0"

export { Var, leaf, noGrad, backward, topologicalOrder } from "./autograd.ts"
export { linear, relu, softmaxCrossEntropy, dotConstant, type LinearWeights } from "./ops.ts"
export { Linear, Relu, Sequential, buildModel, type Layer, type Parameter } from "./layers.ts"
export { Sgd, type SgdOptions } from "./optim.ts"
export {
  ModelConfig, LayerConfig, LinearLayerConfig, ReluLayerConfig, loadModel, outputFeatures,
} from "./model-config.ts"
export {
  type SparsitySpec, type MaskChange, parseSparsity, sparsityLabel, sparsityMethod, targetSparsity, nmMask, maskChange,
  defaultMaskUpdateEverySteps,
} from "./sparsity.ts"
export { type Dataset, type Split, type MnistOptions, mnistDigits, loadMnist, loadMnistDigits, splitDataset, selectRows } from "./mnist.ts"
export {
  train, trainNetwork, evaluate,
  type TrainOptions, type TrainResult, type TrainProgress, type HistoryRow, type LayerSummary,
} from "./train.ts"
export type {
  LayerPassObservation, OperandObservation, SparsifierObservation, NmStructure, GemmDims, ConvDims, Pass, LayerOp,
} from "./observation.ts"
