/**
 * The simulators: layers with real (trace) or statistical operands run through the machine model
 * under a mapping, and the tidy rows they give; SCALE-Sim topology CSVs in, CSV and Arrow rows out.
 */
export { TopologyCsvError } from "./errors.ts"
export {
  DEFAULT_MAX_TOPOLOGY_LAYERS,
  parseTopologyCsv,
  readTopologyCsv,
  type TopologyFormat,
} from "./topology.ts"
export {
  iterationSummary,
  simulate,
  simulateLayer,
  simulateWithEntry,
  type IterationSummary,
  type SimulateOptions,
} from "./simulate.ts"
export { rowsToArrow, rowsToCsv, writeRows } from "./rows-io.ts"
