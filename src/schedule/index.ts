/**
 * The scheduler: dataflow constraints → mapspace → search (exhaustive, random-pruned, simulated
 * annealing) over the shared loop-nest cost model in src/cost, with the Pareto front of cycles vs
 * energy and the Smith et al. DRAM lower bound beside every GEMM. Deterministic for a seed at any
 * concurrency: the budget is split into fixed seeded chunks merged in order.
 */
export { ceilTileSizes, gemmDramLowerBoundWords, gemmTwoLevelDramOptimum, smithAccumulateLowerBoundWords, twoLevelDramWords, type TwoLevelTiling } from "./bound.ts"
export { constraintProblem, freeConstraints, innermostTemporalDim, orderSatisfies, resolveConstraints, type MapConstraints } from "./constraints.ts"
export { DataflowError, NoMappingError } from "./errors.ts"
export { loopNestText, namedMapping, type NamedLevel, type NamedMapping } from "./format.ts"
export { lowerBoundOf, mapLayer, type LayerMapping, type LowerBound } from "./map.ts"
export { compile, Compiled, factorCandidates, objectives, type Evaluation, type Objective, type Space } from "./mapspace.ts"
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
export { convTarget, gemmTarget, im2colGemm, targetsFromModel, targetsFromTrace, type MapTarget } from "./workloads.ts"
