import { Schema } from "effect"
import type { ConvDims, GemmDims, LayerOp, NmStructure as NmStructureT, Pass } from "./observation.ts"

/**
 * Bumped whenever the Arrow column layout or the meaning of a field changes; readers reject any
 * other version rather than guess, so stale traces fail loudly instead of simulating nonsense.
 */
export const TRACE_SCHEMA_VERSION = 1

/** Tile edge for `tileNnz`: 16×16 matches the smallest PE arrays and SCALE-Sim's default folds. */
export const TILE = 16

// Every count is stored as Arrow int32, so anything outside int32 must be refused before writing.
const INT32_MAX = 2 ** 31 - 1
const Count = Schema.Int.pipe(Schema.between(0, INT32_MAX))
const Positive = Schema.Int.pipe(Schema.between(1, INT32_MAX))
const Fraction = Schema.Number.pipe(Schema.between(0, 1))

export const NmStructure = Schema.Struct({
  n: Positive,
  m: Positive,
  axis: Schema.Literal("row", "col"),
}).pipe(Schema.filter((s) => s.n <= s.m || `N:M needs n <= m, got ${s.n}:${s.m}`))

/**
 * One operand as kept in the trace: no values, only where the nonzeros are.
 * `mask` is numpy.packbits of the row-major nonzero map (MSB first, zero-padded last byte), so
 * `np.unpackbits(mask)[:rows*cols].reshape(rows, cols)` recovers it. `tileNnz` is row-major over
 * a ceil(rows/16) × ceil(cols/16) grid; edge tiles cover fewer elements. `density` is nnz/(rows·cols)
 * (0 for an empty operand).
 */
export const OperandTrace = Schema.Struct({
  tensor: Schema.String,
  rows: Count,
  cols: Count,
  nnz: Count,
  density: Fraction,
  mask: Schema.Uint8ArrayFromSelf,
  rowNnz: Schema.instanceOf(Int32Array),
  tileNnz: Schema.instanceOf(Int32Array),
  nm: Schema.NullOr(NmStructure),
})
export type OperandTrace = typeof OperandTrace.Type

export const GemmDimsSchema = Schema.Struct({ m: Count, n: Count, k: Count })

export const ConvDimsSchema = Schema.Struct({
  batch: Count,
  ifmapHeight: Count,
  ifmapWidth: Count,
  filterHeight: Count,
  filterWidth: Count,
  channels: Count,
  numFilters: Count,
  stride: Positive,
  padding: Count,
  /** Additive in version 1: absent = 1. Channels and numFilters are the whole layer's. */
  groups: Schema.optional(Positive),
})

export const SparsifierTrace = Schema.Struct({
  method: Schema.String,
  targetSparsity: Fraction,
  dropped: Count,
  grown: Count,
  hamming: Count,
})
export type SparsifierTrace = typeof SparsifierTrace.Type

/**
 * Per-frame traffic into a layer for sequence input, summed over the batch (additive in schema
 * version 1: traces written before it have no temporal columns and decode with it absent).
 * `events[t]`: values sent in frame t (nonzero deltas behind a Delta layer, else nonzero
 * activations); `activationNnz[t]`: nonzero activations, the cost of sending them all.
 */
export const TemporalTrace = Schema.Struct({
  frames: Positive,
  events: Schema.instanceOf(Int32Array),
  activationNnz: Schema.instanceOf(Int32Array),
}).pipe(
  Schema.filter(
    (t) =>
      (t.events.length === t.frames && t.activationNnz.length === t.frames) ||
      `expected ${t.frames} entries per frame list, got ${t.events.length} events and ${t.activationNnz.length} activation counts`,
  ),
)
export type TemporalTrace = typeof TemporalTrace.Type

/** One (sampled step, layer, pass). */
export const TraceRecord = Schema.Struct({
  step: Count,
  epoch: Count,
  layer: Schema.String,
  layerIndex: Count,
  op: Schema.Literal("linear", "conv2d", "matmul"),
  pass: Schema.Literal("forward", "backward-data", "backward-weight"),
  gemm: GemmDimsSchema,
  /**
   * Additive in version 1 (absent = 1): `groups` independent GEMMs of `gemm`'s dims, operands
   * stacked along rows (a: groups·m × k, b: groups·k × n, out: groups·m × n).
   */
  groups: Schema.optional(Positive),
  conv: Schema.NullOr(ConvDimsSchema),
  a: OperandTrace,
  b: OperandTrace,
  out: OperandTrace,
  temporalDeltaDensity: Schema.NullOr(Fraction),
  sparsifier: SparsifierTrace,
  temporal: Schema.optional(Schema.NullOr(TemporalTrace)),
})
export type TraceRecord = typeof TraceRecord.Type

/** Finite only: parameters travel as JSON, where NaN and Infinity do not survive. */
export const MethodParams = Schema.Record({
  key: Schema.String,
  value: Schema.Union(Schema.String, Schema.Number.pipe(Schema.finite())),
})

/** Run metadata. Deliberately no timestamp or host: the same seed must give a byte-identical file. */
export const TraceMeta = Schema.Struct({
  schemaVersion: Schema.Literal(TRACE_SCHEMA_VERSION),
  model: Schema.String,
  dataset: Schema.String,
  method: Schema.String,
  methodParams: MethodParams,
  seed: Schema.Int,
  engineVersion: Schema.String,
})
export type TraceMeta = typeof TraceMeta.Type

/** What a writer supplies: the version is the writer's to stamp, not the caller's. */
export type TraceMetaInput = Omit<TraceMeta, "schemaVersion"> & {
  readonly schemaVersion?: typeof TRACE_SCHEMA_VERSION
}

export interface Trace {
  readonly meta: TraceMeta
  readonly records: ReadonlyArray<TraceRecord>
}

// The schemas above restate the observation contract; these fail to compile if the two drift.
type Same<X, Y> = [X] extends [Y] ? ([Y] extends [X] ? true : false) : false
const agree = <T extends true>(): T | undefined => undefined
agree<Same<TraceRecord["pass"], Pass>>()
agree<Same<TraceRecord["op"], LayerOp>>()
agree<Same<typeof NmStructure.Type, NmStructureT>>()
agree<Same<typeof GemmDimsSchema.Type, GemmDims>>()
agree<Same<typeof ConvDimsSchema.Type, ConvDims>>()
