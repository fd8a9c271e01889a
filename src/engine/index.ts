/**
 * Bumped whenever a change can alter trained weights or traces for the same inputs: caches of
 * finished runs are keyed by it.
 */
export const ENGINE_VERSION = "0.3.2"

export { Var, leaf, noGrad, backward, topologicalOrder } from "./autograd.ts"
export { linear, relu, softmaxCrossEntropy, dotConstant, type LinearWeights } from "./ops.ts"
export {
  reshape,
  im2colOp,
  maxPool2d,
  avgPool2d,
  topK,
  deltaActivation,
  type DeltaOptions,
  type DeltaOutput,
} from "./ops-spatial.ts"
export {
  WeightedLayer,
  Linear,
  Conv2d,
  Relu,
  Pool2d,
  Reshape,
  TopK,
  DeltaLayer,
  Sequential,
  buildModel,
  type Layer,
  type Parameter,
  type BuildOptions,
  type DeltaSettings,
} from "./layers.ts"
export {
  Sgd,
  Adam,
  learningRateAt,
  type SgdOptions,
  type AdamOptions,
  type Optimizer,
  type LrSchedule,
} from "./optim.ts"
export {
  ModelConfig,
  LayerConfig,
  LinearLayerConfig,
  Conv2dLayerConfig,
  ReluLayerConfig,
  PoolLayerConfig,
  TopKLayerConfig,
  DeltaLayerConfig,
  FlattenLayerConfig,
  loadModel,
  outputFeatures,
  inferShapes,
  type SampleShape,
} from "./model-config.ts"
export {
  type SparsitySpec,
  type WeightSparsitySpec,
  type ActivationSparsitySpec,
  type DeltaOverride,
  type MaskChange,
  parseSparsity,
  sparsityLabel,
  sparsityMethod,
  sparsityParams,
  targetSparsity,
  nmMask,
  nmMaskColumns,
  maskChange,
  defaultMaskUpdateEverySteps,
  defaultSrsteDecay,
  SPARSITY_HELP,
} from "./sparsity.ts"
export {
  createSparsifier,
  topKMask,
  magnitudeMask,
  randomMask,
  erkDensities,
  countOnes,
  gmpSparsity,
  riglDropFraction,
  pgfBeta,
  pgfStepN,
  type Sparsifier,
  type SparsifierContext,
} from "./sparsifiers/index.ts"
export {
  type Dataset,
  type Split,
  type MnistOptions,
  mnistDigits,
  loadMnist,
  loadMnistDigits,
  splitDataset,
  selectRows,
} from "./mnist.ts"
export {
  DatasetError,
  DATASET_NAMES,
  FASHION_MNIST_DIR,
  loadDataset,
  loadFashionMnist,
  loadIdxDataset,
  loadIdxPair,
  parseIdx,
  movingDigits,
  isSequences,
  framesOf,
  type SequenceDataset,
  type Samples,
  type DataSplit,
  type MovingDigitsOptions,
  type LoadDatasetOptions,
} from "./datasets.ts"
export {
  train,
  trainNetwork,
  evaluate,
  evaluateDetailed,
  type TrainOptions,
  type TrainResult,
  type TrainProgress,
  type HistoryRow,
  type LayerSummary,
  type TemporalSummary,
  type EvaluationStats,
} from "./train.ts"
export type {
  LayerPassObservation,
  OperandObservation,
  SparsifierObservation,
  NmStructure,
  GemmDims,
  ConvDims,
  Pass,
  LayerOp,
  TemporalObservation,
} from "./observation.ts"
