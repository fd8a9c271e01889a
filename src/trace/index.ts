/**
 * The trace stage: the contract between the engine (which observes) and the simulators (which
 * replay). Depends on config only; the engine builds `LayerPassObservation`s structurally.
 */
export * from "./observation.ts"
export { InvalidObservationError, TraceError } from "./errors.ts"
export {
  ConvDimsSchema,
  GemmDimsSchema,
  MethodParams,
  NmStructure as NmStructureSchema,
  OperandTrace,
  SparsifierTrace,
  TemporalTrace,
  TILE,
  TRACE_SCHEMA_VERSION,
  TraceMeta,
  TraceRecord,
  type Trace,
  type TraceMetaInput,
} from "./schema.ts"
export {
  maskBit,
  observe,
  operandProblem,
  packMask,
  recountOperand,
  recordGroups,
  satisfiesNm,
  summarizeOperand,
  unpackMask,
} from "./summarize.ts"
export { META_KEYS, decodeTrace, encodeTrace, traceColumns } from "./arrow.ts"
export { decodeTraceFile, readTrace, writeTrace } from "./io.ts"
export { decodeNpzTrace, NPZ_FORMAT, NPZ_FORMAT_VERSION } from "./npz.ts"
