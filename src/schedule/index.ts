/**
 * The scheduler: dataflow constraints → mapspace → search (exhaustive, random-pruned, simulated
 * annealing) over the machine model each family's record defines (the one the simulators run), with
 * the Pareto front of cycles vs energy and the DRAM lower bounds beside every GEMM. Deterministic for
 * a seed at any concurrency: the budget is split into fixed seeded chunks merged in order.
 */
export {
  ceilTileSizes,
  gemmDramLowerBoundWords,
  gemmTwoLevelDramOptimum,
  smithAccumulateLowerBoundWords,
  twoLevelDramWords,
  type TwoLevelTiling,
} from "./bound.ts"
export { NoMappingError } from "./errors.ts"
export { lowerBoundOf, mapLayer, type LayerMapping, type LowerBound } from "./map.ts"
export {
  better,
  compile,
  Compiled,
  factorCandidates,
  objectives,
  type Evaluation,
  type Objective,
  type Space,
} from "./mapspace.ts"
export { gemmTilingSeeds } from "./seeds.ts"
export {
  chunkJobs,
  DEFAULT_CHUNKS,
  mergeChunks,
  ParetoFront,
  resolveStrategy,
  runChunk,
  search,
  searchSync,
  strategies,
  type Candidate,
  type ChunkJob,
  type ChunkResult,
  type SearchOptions,
  type SearchResult,
  type Strategy,
} from "./search.ts"
export { workerRunner } from "./workers.ts"
export { targetsFromModel, targetsFromTrace, type MapTarget } from "./workloads.ts"
export {
  scoreOf,
  searchNestMapping,
  type NestObjective,
  type NestSearchOptions,
  type NestSearchResult,
} from "./nest-search.ts"
