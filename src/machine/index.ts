/**
 * The one machine model. Each accelerator family is one record (families/): its legal mapspace,
 * how a mapping of a layer becomes cycles (fill, drain, stalls, load imbalance), access counts per
 * level and tensor, sparse savings, and energy with leakage. The mapper (schedule) searches these
 * records with statistical operands; the simulators (sim) evaluate the same records under the
 * mapping the mapper chose or the dataflow's canonical one, on a trace's real masks. The workload
 * facts both need (training GEMMs, conv output sizes, operands, storage formats) are defined here once.
 */
export { baseArch, leakagePerCycle, type MachineOptions, type Timing } from "./arch.ts"
export { canonicalMapping, evaluateCanonical, placeSkeleton, type Skeleton } from "./canonical.ts"
export {
  constraintProblem,
  freeConstraints,
  innermostTemporalDim,
  orderSatisfies,
  resolveConstraints,
  type MapConstraints,
} from "./constraints.ts"
export { dataflowFile, dataflowLabel, dataflowsOf, loadDataflow } from "./dataflows.ts"
export { DataflowError, MappingError, WorkloadArgError } from "./errors.ts"
export { evaluate, evaluateGroup, mappingIssue, repeatCost, sumCosts } from "./evaluate.ts"
export { families } from "./families/index.ts"
export { neuromorphicPlan } from "./families/neuromorphic.ts"
export {
  joinCount,
  twoSidedCycles,
  twoSidedGeometry,
  twoSidedSchedule,
  type TwoSidedGeometry,
} from "./families/two-sided.ts"
export { systolicStationary } from "./families/systolic.ts"
export {
  dramWordsOf,
  groupPrepared,
  type ComputeTiming,
  type Grouped,
  type EnergyParts,
  type FamilyModel,
  type Machine,
  type MachineCost,
  type MacCounts,
  type Prepared,
} from "./family.ts"
export { foldTiming, type FoldParams } from "./folds.ts"
export { clearMachineCaches, machineCachesEnabled, setMachineCaches } from "./memo.ts"
export { machineOf, prepare, runLayer, timingsOf, type MachineRun } from "./machine.ts"
export {
  entryFor,
  MachineSettings,
  MappingEntry,
  NamedMappingSchema,
  readMappingFile,
  type NamedLevel,
  type NamedMapping,
} from "./mapping-file.ts"
export { loopNestText, mappingFromNamed, namedMapping } from "./mapping-text.ts"
export * from "./groups.ts"
export * from "./operand.ts"
export { accessesOf, resultOf, SIM_ROW_COLUMNS, type SimResult, type SimRow } from "./result.ts"
export * from "./workload.ts"
export * from "./nest/index.ts"
export * from "./timeloop/index.ts"
