/**
 * Timeloop and Sparseloop interop: their YAML inputs (architecture, problem, mapping, ERT) read
 * into Spade's loop-nest model, and their reports read back to compare against.
 */
export { compareWithReference, ENERGY_TOLERANCE, type ComparisonRow } from "./compare.ts"
export { TimeloopInputError } from "./errors.ts"
export { numberOf, parseReferenceStats, referenceEnergyPj, type ReferenceStats } from "./reference.ts"
export { mappingDirectives } from "./mapping.ts"
export { readTimeloopSpec, type SpecError, type TimeloopSpec } from "./spec.ts"
export { DESIGNS, EXERCISES, referenceCase, referenceRoot, type ReferenceCase } from "./cases.ts"
