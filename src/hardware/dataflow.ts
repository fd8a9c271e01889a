import { Schema } from "effect"
import { SystolicDataflow, TensorName } from "./accelerator.ts"

/** A GEMM dimension: out[M×N] = a[M×K] · b[K×N]. */
export const GemmDim = Schema.Literal("M", "N", "K")
export type GemmDim = typeof GemmDim.Type

/** A convolution dimension: N batch, K filters, C channels, P×Q output, R×S filter. */
export const ConvDim = Schema.Literal("N", "K", "C", "P", "Q", "R", "S")
export type ConvDim = typeof ConvDim.Type

const PositiveInt = Schema.Int.pipe(Schema.positive())

const noRepeats = <A>(xs: ReadonlyArray<A>): boolean => new Set(xs).size === xs.length

/**
 * Constraints on one temporal storage level (`dram`, `glb`, or the PEs' `rf`). Absent fields leave
 * that part of the mapspace open.
 */
const levelConstraint = <D extends string>(dim: Schema.Schema<D>, dims: ReadonlyArray<D>) =>
  Schema.Struct({
    /** Exact temporal loop bounds of some dims at this level. */
    factors: Schema.optional(
      Schema.Struct(
        Object.fromEntries(dims.map((d) => [d, Schema.optional(PositiveInt)])) as {
          [K in D]: Schema.optional<typeof PositiveInt>
        },
      ),
    ),
    /** These dims are the level's innermost loops, in this order (the last one innermost). */
    innermost: Schema.optional(
      Schema.Array(dim).pipe(Schema.filter((xs) => noRepeats(xs) || "expected no repeated dims")),
    ),
    /** Tensors the level must keep (only the GLB may bypass). */
    keep: Schema.optional(Schema.Array(TensorName)),
    /** Tensors the level must bypass (only the GLB may bypass). */
    bypass: Schema.optional(Schema.Array(TensorName)),
  }).pipe(
    Schema.filter((l) => {
      const clash = (l.keep ?? []).find((t) => (l.bypass ?? []).includes(t))
      return clash === undefined ? true : { path: ["bypass"], message: `expected ${clash} in keep or bypass, not both` }
    }),
  )

/**
 * The dims allowed to unroll over each PE-array axis. An absent axis is open; an empty list keeps it
 * unused. A dim may unroll over both axes (SparTen's spare units take further output positions);
 * what an array cannot do at all (a systolic array reducing along both axes) its family rules out.
 */
const spatialConstraint = <D extends string>(dim: Schema.Schema<D>) =>
  Schema.Struct({
    rows: Schema.optional(Schema.Array(dim)),
    cols: Schema.optional(Schema.Array(dim)),
  })

const levels = <D extends string>(dim: Schema.Schema<D>, dims: ReadonlyArray<D>) => {
  const level = levelConstraint(dim, dims)
  return Schema.Struct({ dram: Schema.optional(level), glb: Schema.optional(level), rf: Schema.optional(level) })
}

/** The part of a dataflow that speaks in one problem's dims. */
const constraintFields = <D extends string>(dim: Schema.Schema<D>, dims: ReadonlyArray<D>) => ({
  /**
   * The tensor the PEs hold while others stream past: the innermost non-trivial temporal loop of the
   * whole nest (RF, then GLB, then DRAM) must be irrelevant to it.
   */
  stationary: Schema.optional(TensorName),
  spatial: Schema.optional(spatialConstraint(dim)),
  levels: Schema.optional(levels(dim, dims)),
})

export const GemmConstraints = Schema.Struct(constraintFields(GemmDim, GemmDim.literals))
export type GemmConstraints = typeof GemmConstraints.Type
export const ConvConstraints = Schema.Struct(constraintFields(ConvDim, ConvDim.literals))
export type ConvConstraints = typeof ConvConstraints.Type

/**
 * A dataflow file (`dataflows/*.json`): a set of constraints on mappings, in GEMM dims at the top
 * level and optionally in convolution dims under `conv` (without it, a convolution gets the GEMM
 * constraints through im2col: M is N·P·Q, N is K, K is C·R·S). `systolic` names the SCALE-Sim
 * dataflow the dense systolic simulator runs for it, when there is one.
 */
export const Dataflow = Schema.Struct({
  name: Schema.String.pipe(Schema.minLength(1)),
  description: Schema.String,
  systolic: Schema.optional(SystolicDataflow),
  ...constraintFields(GemmDim, GemmDim.literals),
  conv: Schema.optional(ConvConstraints),
})
export type Dataflow = typeof Dataflow.Type
