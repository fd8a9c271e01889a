export { TopologyCsvError, WorkloadArgError } from "./errors.ts"
export {
  convOutputSize,
  gemmFromConv,
  workloadFromConv,
  workloadFromConvArgs,
  workloadFromGemm,
  workloadFromGemmArgs,
  workloadFromTraceRecord,
  type LayerWorkload,
} from "./workload.ts"
export { parseTopologyCsv, readTopologyCsv, type TopologyFormat } from "./topology.ts"
export { scaleSimCounts, spatioTemporal, type ScaleSimCounts } from "./scalesim.ts"
export { energyOf, zeroCounts, type ActionCounts, type EnergyBreakdown, type TensorCounts } from "../cost/index.ts"
export {
  dramTraffic,
  simulateSystolic,
  type DramTraffic,
  type LayerResult,
  type SystolicOptions,
  type SystolicTiming,
} from "./systolic.ts"
