/**
 * Sparseloop's sparse modelling over the loop-nest family: densities, per-rank representation
 * formats, gating and skipping of storage reads, compute-unit optimizations, and what they cost.
 */
export { analyseSparsity, type SparseAnalysis } from "./analysis.ts"
export { type ComputeActions, computeActions } from "./compute.ts"
export { blockRatio, spaceCost, type SpaceCost } from "./costs.ts"
export { dense, fixedStructured, type DensityModel } from "./density.ts"
export { SparseAnalysisError } from "./errors.ts"
export {
  RANK_FORMATS,
  rankFormat,
  type OccupancyQuery,
  type RankFormat,
  type RankFormatName,
  type RankOccupancy,
} from "./formats/index.ts"
export { completeNest, type CompleteNest, type NestLoop } from "./loops.ts"
export {
  appliesOptimizations,
  type ActionGroup,
  type ActionOption,
  type ComputeSparsity,
  type DensitySpec,
  type LevelSparsity,
  type RankSpec,
  type Representation,
  type SparseSpec,
} from "./spec.ts"
export type { Access, FormatCounts, Kind } from "./tile.ts"
