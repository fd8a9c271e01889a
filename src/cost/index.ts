/**
 * The cost model shared by the simulators and the scheduler: action counts in, energy out, and the
 * loop-nest access counting of a mapping (per level and tensor accesses, cycles, energy). It sits
 * after hardware and before both sim and schedule, so the two can never disagree on what an access costs.
 */
export * from "./energy.ts"
export * from "./loopnest.ts"
export { walkLoopNest } from "./loopnest-walk.ts"
