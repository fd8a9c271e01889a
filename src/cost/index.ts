/**
 * The cost model shared by the simulators and the scheduler: action counts in, energy out (and,
 * as it grows, per-level access counting for a mapping). It sits after hardware and before both
 * sim and schedule, so the two can never disagree on what an access costs.
 */
export * from "./energy.ts"
