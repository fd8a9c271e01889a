/**
 * The general loop-nest family: any storage hierarchy, spatial fan-outs, bandwidths and per-action
 * energies, evaluated with Timeloop's reuse analysis. Problem, hierarchy and mapping are kept apart.
 */
export { boxSize, subtract, type Box } from "./aahr.ts"
export { dataSpaceWords, operations, projectBox, type DataSpace, type Einsum, type Term } from "./einsum.ts"
export {
  evaluateNest,
  type LevelResult,
  type NestResult,
  type SpaceAtLevel,
  type SparseCounts,
} from "./evaluate.ts"
export * from "./sparse/index.ts"
export { fanouts, instancesOf, type ComputeLevel, type Hierarchy, type StorageLevel } from "./hierarchy.ts"
export { loopNest, type LevelLoops, type Loop, type LoopNest, type NestMapping } from "./nest.ts"
export { analyseReuse, totalAccesses, type LoopTile, type Reuse } from "./reuse.ts"
export { levelCounts, type LevelCounts } from "./tiles.ts"
export {
  NO_CONSTRAINTS,
  nestMappingIssue,
  tileWords,
  type FactorRule,
  type LevelConstraints,
} from "./constraints.ts"
