export { TopologyCsvError, WorkloadArgError } from "./errors.ts"
export {
  convOutputSize,
  gemmFromConv,
  loweredIfmapWords,
  workloadFromConv,
  workloadFromConvArgs,
  workloadFromGemm,
  workloadFromGemmArgs,
  workloadFromTraceRecord,
  type LayerWorkload,
} from "./workload.ts"
export { parseTopologyCsv, readTopologyCsv, type TopologyFormat } from "./topology.ts"
export { scaleSimCounts, spatioTemporal, type ScaleSimCounts } from "./scalesim.ts"
export { energyOf, energyOfAccesses, zeroCounts, type AccessEnergy, type ActionCounts, type EnergyBreakdown, type LevelAccess, type TensorCounts } from "../cost/index.ts"
export {
  dramTraffic,
  simulateSystolic,
  type DramTraffic,
  type LayerResult,
  type SystolicOptions,
  type SystolicTiming,
} from "./systolic.ts"
export {
  columnCounts,
  effectualMacs,
  materializeMask,
  nmOf,
  operandCols,
  operandDensity,
  operandLabel,
  operandNnz,
  operandRows,
  packRows,
  popRange,
  reductionAxis,
  rowCounts,
  statisticalOperand,
  type Operand,
  type OperandSpec,
  type PackedRows,
} from "./operand.ts"
export { encodedSize, type EncodedSize } from "./encoding.ts"
export { capacityWords, finishRow, sramCapacities, memoryModel, type MemoryOutcome, type ReadWrite, type SimLayer, type SimResult, type SimRow, type Traffic } from "./machine.ts"
export { pipelineCycles, pipelineCyclesStepped, throttled, type FoldClass, type FoldPlan } from "./pipeline.ts"
export { nmMode, simulateNmTraining, systolicFoldPlan, systolicFoldPlanInOrder, type NmTrainingOptions } from "./nm-training.ts"
export { rsComputeCycles, rsComputeCyclesStepped, rsPlan, rsShape, simulateRowStationary, type RsPlan, type RsShape } from "./row-stationary.ts"
export {
  oneSidedCycles,
  oneSidedCyclesStepped,
  oneSidedGeometry,
  simulateOneSided,
  simulateTwoSided,
  twoSidedCycles,
  twoSidedCyclesStepped,
  twoSidedGeometry,
  type SkippingOptions,
} from "./skipping.ts"
export { neuromorphicPlan, simulateNeuromorphic } from "./neuromorphic.ts"
export {
  iterationSummary,
  simLayerFromTrace,
  simulate,
  statisticalLayer,
  trainingGemms,
  trainingStepLayers,
  type IterationSummary,
  type LayerShape,
  type SimulateOptions,
  type TrainingMethod,
} from "./simulate.ts"
export { rowsToArrow, rowsToCsv, writeRows } from "./rows-io.ts"
