import { Schema } from "effect"
import { SystolicDataflow } from "./accelerator.ts"

/** A GEMM dimension: out[M×N] = a[M×K] · b[K×N]. */
export const GemmDim = Schema.Literal("M", "N", "K")
export type GemmDim = typeof GemmDim.Type

/**
 * A dataflow file (`dataflows/*.json`): constraints on mappings. For a systolic array it fixes which
 * tensor stays in the PEs and which GEMM dims unroll over the array's rows and columns.
 */
export const Dataflow = Schema.Struct({
  name: Schema.String.pipe(Schema.minLength(1)),
  description: Schema.String,
  systolic: SystolicDataflow,
  stationary: Schema.Literal("ofmap", "filter", "ifmap"),
  spatial: Schema.Struct({ rows: GemmDim, cols: GemmDim }),
}).pipe(
  Schema.filter((d) =>
    d.spatial.rows === d.spatial.cols ? { path: ["spatial", "cols"], message: "expected a dim different from spatial.rows" } : true,
  ),
)
export type Dataflow = typeof Dataflow.Type
