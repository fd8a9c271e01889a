import { Either, Schema } from "effect"
import { decodeValue } from "../../config/index.ts"
import type { Einsum } from "../nest/einsum.ts"
import { RANK_FORMATS, type RankFormatName, rankFormat } from "../nest/sparse/formats/index.ts"
import {
  type ActionGroup,
  appliesOptimizations,
  type ComputeSparsity,
  type DensitySpec,
  type LevelSparsity,
  type Representation,
  type SparseSpec,
} from "../nest/sparse/spec.ts"
import type { FlatComponent } from "./architecture.ts"
import { TimeloopInputError } from "./errors.ts"

/**
 * Sparseloop's `sparse_optimizations` of an architecture's components (v0.4): per storage level a
 * `representation_format` (a format per rank of each data space, top rank first) and an
 * `action_optimization` list (gating or skipping of a target's reads conditioned on other data
 * spaces), and on the compute unit a `compute_optimization` list. Every field is decoded strictly:
 * anything Spade does not model is an error naming where it is.
 */
const WordBits = Schema.Int.pipe(Schema.nonNegative())

const RankSchema = Schema.Struct({
  format: Schema.String,
  flattened_rankIDs: Schema.optional(Schema.Array(Schema.Array(Schema.String))),
  metadata_word_bits: Schema.optional(WordBits),
  payload_word_bits: Schema.optional(WordBits),
})

const RepresentationSchema = Schema.Struct({
  data_spaces: Schema.Array(
    Schema.Struct({
      name: Schema.String,
      ranks: Schema.Array(RankSchema).pipe(Schema.minItems(1)),
      rank_application_order: Schema.optional(Schema.Literal("inner_to_outer", "outer_to_inner")),
    }),
  ),
})

const ConditionSchema = Schema.Struct({ target: Schema.String, condition_on: Schema.Array(Schema.String) })

const ActionSchema = Schema.Struct({
  // Sparseloop's `skipping_spatial` (idling whole array instances) is not modelled.
  type: Schema.Literal("gating", "skipping"),
  options: Schema.optional(Schema.Array(ConditionSchema)),
  target: Schema.optional(Schema.String),
  condition_on: Schema.optional(Schema.Array(Schema.String)),
})

const ComputeSchema = Schema.Struct({
  type: Schema.Literal("gate_on_zero_operand", "gating", "skip_on_not_aligned_operands", "skipping"),
})

export const SparseOptimizationsSchema = Schema.Struct({
  representation_format: Schema.optional(RepresentationSchema),
  action_optimization: Schema.optional(Schema.Array(ActionSchema)),
  compute_optimization: Schema.optional(Schema.Array(ComputeSchema)),
})

const NO_COMPUTE: ComputeSparsity = { gateOnZeroOperand: false, skipOnNotAlignedOperands: false }

/** Densities as the problem declares them; only `fixed_structured` is reproduced. */
export const densitiesOf = (
  file: string,
  e: Einsum,
  densities: ReadonlyArray<{ readonly distribution: string; readonly density: number }>,
): Either.Either<DensitySpec[], TimeloopInputError> => {
  const out: DensitySpec[] = []
  for (const [pv, d] of densities.entries()) {
    if (d.distribution !== "fixed_structured")
      return Either.left(
        new TimeloopInputError({
          file,
          path: `problem.instance.densities.${e.dataSpaces[pv]!.name}.distribution`,
          expected: `fixed_structured (the density model Spade reproduces); got ${d.distribution}`,
        }),
      )
    out.push({ distribution: "fixed_structured", density: d.density })
  }
  return Either.right(out)
}

/**
 * The sparse specification of a flattened architecture: storage levels innermost first (fan-out
 * markers carry none), the compute unit's optimizations last.
 */
export const sparseOf = (
  file: string,
  problemFile: string,
  components: ReadonlyArray<FlatComponent>,
  e: Einsum,
  densities: ReadonlyArray<DensitySpec>,
): Either.Either<SparseSpec, TimeloopInputError> => {
  const fail = (path: string, expected: string) => Either.left(new TimeloopInputError({ file, path, expected }))
  const spaceIndex = (name: string) => e.dataSpaces.findIndex((ds) => ds.name === name)
  const spaceNames = e.dataSpaces.map((ds) => ds.name).join(", ")
  const levels: LevelSparsity[] = []
  let compute = NO_COMPUTE
  for (const c of components) {
    const base = `${c.path}.sparse_optimizations`
    if (c.attributes["tile_partition_supported"] === true || c.attributes["tile_partition_supported"] === "true")
      return fail(`${c.path}.attributes.tile_partition_supported`, "false: runtime tile partitioning is not modelled")
    if (c.sparse === undefined || c.sparse === null) {
      if (c.kind !== "compute") levels.push({ representations: e.dataSpaces.map(() => undefined), actions: [] })
      continue
    }
    const decoded = decodeValue(SparseOptimizationsSchema, "error")(file, c.sparse)
    if (Either.isLeft(decoded))
      return fail(`${base}${decoded.left.path === "" ? "" : `.${decoded.left.path}`}`, decoded.left.expected)
    const spec = decoded.right
    if (c.kind === "compute") {
      if (spec.representation_format !== undefined || spec.action_optimization !== undefined)
        return fail(base, "the compute unit takes compute_optimization only")
      const types = (spec.compute_optimization ?? []).map((o) => o.type)
      compute = {
        gateOnZeroOperand: types.some((t) => t === "gating" || t === "gate_on_zero_operand"),
        skipOnNotAlignedOperands: types.some((t) => t === "skipping" || t === "skip_on_not_aligned_operands"),
      }
      continue
    }
    if (c.kind === "marker") return fail(base, "a fan-out has no storage to optimize")
    if (spec.compute_optimization !== undefined)
      return fail(`${base}.compute_optimization`, "compute_optimization belongs on the compute unit")
    const representations: Array<Representation | undefined> = e.dataSpaces.map(() => undefined)
    for (const [i, ds] of (spec.representation_format?.data_spaces ?? []).entries()) {
      const path = `${base}.representation_format.data_spaces[${i}]`
      const pv = spaceIndex(ds.name)
      if (pv < 0) return fail(`${path}.name`, `a data space among ${spaceNames}; got ${ds.name}`)
      const ranks = []
      for (const [r, rank] of ds.ranks.entries()) {
        const format = rankFormat(rank.format)
        if (format === undefined)
          return fail(
            `${path}.ranks[${r}].format`,
            `one of the formats ${Object.keys(RANK_FORMATS).join(", ")}; got ${rank.format}`,
          )
        const flattenedDims: number[][] = []
        for (const [g, group] of (rank.flattened_rankIDs ?? []).entries()) {
          const dims = group.map((d) => e.dims.indexOf(d))
          const unknown = group.find((_, k) => dims[k]! < 0)
          if (unknown !== undefined)
            return fail(
              `${path}.ranks[${r}].flattened_rankIDs[${g}]`,
              `dims among ${e.dims.join(", ")}; got ${unknown}`,
            )
          flattenedDims.push(dims)
        }
        ranks.push({
          format: rank.format.toUpperCase() as RankFormatName,
          flattenedDims,
          metadataWordBits: rank.metadata_word_bits,
          payloadWordBits: rank.payload_word_bits,
        })
      }
      // Ranks below an uncompressed rank must stay uncompressed: a partly compressed tensor
      // (compressed fibers under uncompressed ones is fine, not the reverse) is not modelled.
      const inner = [...ranks].reverse()
      const firstUncompressed = inner.findIndex((rank) => !rankFormat(rank.format)!.compressed)
      if (firstUncompressed >= 0 && inner.slice(firstUncompressed).some((rank) => rankFormat(rank.format)!.compressed))
        return fail(`${path}.ranks`, "compressed ranks above an uncompressed rank are not modelled")
      representations[pv] = { ranks, innerToOuter: ds.rank_application_order === "inner_to_outer" }
    }
    const actions: ActionGroup[] = []
    for (const [i, a] of (spec.action_optimization ?? []).entries()) {
      const path = `${base}.action_optimization[${i}]`
      const given =
        a.options ??
        (a.target !== undefined && a.condition_on !== undefined
          ? [{ target: a.target, condition_on: a.condition_on }]
          : undefined)
      if (given === undefined || given.length === 0)
        return fail(path, "options (or target and condition_on) naming what to optimize")
      const options = []
      for (const [o, opt] of given.entries()) {
        const target = spaceIndex(opt.target)
        if (target < 0)
          return fail(`${path}.options[${o}].target`, `a data space among ${spaceNames}; got ${opt.target}`)
        const conditionOn = opt.condition_on.map(spaceIndex)
        const unknown = opt.condition_on.find((_, k) => conditionOn[k]! < 0)
        if (unknown !== undefined)
          return fail(`${path}.options[${o}].condition_on`, `data spaces among ${spaceNames}; got ${unknown}`)
        options.push({ target, conditionOn })
      }
      actions.push({ kind: a.type, options })
    }
    levels.push({ representations, actions })
  }
  const spec: SparseSpec = { densities, levels: levels.reverse(), compute }
  const operands = e.dataSpaces.filter((ds) => !ds.readWrite).length
  if (appliesOptimizations(spec) && operands !== 2)
    return Either.left(
      new TimeloopInputError({
        file: problemFile,
        path: "problem.shape.data_spaces",
        expected: `two read-only operands for the sparse compute model; got ${operands}`,
      }),
    )
  return Either.right(spec)
}
