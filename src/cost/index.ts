/**
 * The counting primitives every family's machine model is built from: problems (the loop nests of
 * layer passes), the loop-nest access-counting model of a mapping (per level and tensor accesses,
 * capacity, transfer cycles), storage formats (exact and expected sizes side by side) and energy as
 * Σ count × energy per action. Problem, architecture view and mapping are kept apart, as in Timeloop.
 */
export * from "./energy.ts"
export * from "./problem.ts"
export * from "./loopnest.ts"
export * from "./formats/index.ts"
export { walkLoopNest } from "./loopnest-walk.ts"
