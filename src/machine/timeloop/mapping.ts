import { Either, Schema } from "effect"
import { type ConfigError, decodeValue } from "../../config/index.ts"
import type { Einsum } from "../nest/einsum.ts"
import type { Hierarchy } from "../nest/hierarchy.ts"
import type { NestMapping } from "../nest/nest.ts"
import { TimeloopInputError } from "./errors.ts"

/**
 * A Timeloop mapping: directives per target level. `temporal` and `spatial` give factors
 * ("C3 M4" or "C=3 M=4") and a permutation listed innermost first; a spatial directive's `split`
 * puts the loops before it on the array's X axis and the rest on Y; `datatype` (or `bypass`) says
 * what the level keeps.
 */
const Names = Schema.Union(Schema.String, Schema.Array(Schema.String))
export const DirectiveSchema = Schema.Struct({
  target: Schema.String,
  type: Schema.String,
  factors: Schema.optional(Schema.Union(Schema.String, Schema.Array(Schema.String))),
  permutation: Schema.optional(Names),
  split: Schema.optional(Schema.Int.pipe(Schema.nonNegative())),
  keep: Schema.optional(Schema.NullOr(Schema.Array(Schema.String))),
  bypass: Schema.optional(Schema.NullOr(Schema.Array(Schema.String))),
})
export const MappingSchema = Schema.Array(DirectiveSchema)
export type MappingSpec = typeof MappingSchema.Type

export const decodeMapping = (file: string, value: unknown): Either.Either<MappingSpec, ConfigError> =>
  decodeValue(MappingSchema, "ignore")(file, value)

const splitFactors = (f: string | ReadonlyArray<string>): string[] =>
  (typeof f === "string" ? f.split(/\s+/) : [...f]).map((s) => s.trim()).filter((s) => s !== "")

/** Dims of a permutation, innermost first: a list, or a string of single-letter dims. */
const permutationDims = (p: string | ReadonlyArray<string>, dims: ReadonlyArray<string>): string[] => {
  if (typeof p !== "string") return [...p]
  if (p.includes(" ")) return p.split(/\s+/).filter((s) => s !== "")
  if (dims.every((d) => d.length === 1)) return [...p]
  return [p]
}

export const mappingOf = (
  file: string,
  spec: MappingSpec,
  e: Einsum,
  h: Hierarchy,
): Either.Either<NestMapping, TimeloopInputError> => {
  const fail = (path: string, expected: string) => Either.left(new TimeloopInputError({ file, path, expected }))
  const names = h.storage.map((s) => s.name)
  const D = e.dims.length
  const temporal = names.map(() => new Array<number>(D).fill(1))
  const spatial = names.map(() => new Array<number>(D).fill(1))
  const tOrder: string[][] = names.map(() => [...e.dims])
  const sOrder: string[][] = names.map(() => [...e.dims])
  const split = names.map(() => D)
  const keep = names.map(() => e.dataSpaces.map(() => true))
  for (const [i, d] of spec.entries()) {
    const path = `mapping[${i}]`
    const level = names.indexOf(d.target)
    if (level < 0) return fail(`${path}.target`, `one of the storage levels ${names.join(", ")}; got ${d.target}`)
    if (d.type === "temporal" || d.type === "spatial") {
      const into = d.type === "temporal" ? temporal[level]! : spatial[level]!
      for (const f of splitFactors(d.factors ?? [])) {
        const m = /^([A-Za-z_][A-Za-z0-9_]*?)=?(\d+)$/.exec(f)
        const dim = m === null ? -1 : e.dims.indexOf(m[1]!)
        if (m === null || dim < 0)
          return fail(
            `${path}.factors`,
            `factors like ${e.dims[0]}4 or ${e.dims[0]}=4 over ${e.dims.join(", ")}; got ${f}`,
          )
        into[dim] = Number(m[2])
      }
      if (d.permutation !== undefined) {
        const order = permutationDims(d.permutation, e.dims)
        const unknown = order.find((x) => !e.dims.includes(x))
        if (unknown !== undefined) return fail(`${path}.permutation`, `dims among ${e.dims.join(", ")}; got ${unknown}`)
        const rest = e.dims.filter((x) => !order.includes(x))
        ;(d.type === "temporal" ? tOrder : sOrder)[level] = [...order, ...rest]
      }
      if (d.type === "spatial") split[level] = d.split ?? D
    } else if (d.type === "datatype" || d.type === "bypass") {
      for (const [field, value] of [
        ["keep", true],
        ["bypass", false],
      ] as const)
        for (const ds of d[field] ?? []) {
          const pv = e.dataSpaces.findIndex((x) => x.name === ds)
          if (pv < 0)
            return fail(
              `${path}.${field}`,
              `data spaces among ${e.dataSpaces.map((x) => x.name).join(", ")}; got ${ds}`,
            )
          keep[level]![pv] = value
        }
    } else return fail(`${path}.type`, `temporal, spatial, datatype or bypass; got ${d.type}`)
  }
  for (let dim = 0; dim < D; dim++) {
    const product = names.reduce((p, _, l) => p * temporal[l]![dim]! * spatial[l]![dim]!, 1)
    if (product !== e.bounds[dim])
      return fail(
        "mapping",
        `the factors of ${e.dims[dim]} multiply to ${product} but the problem's bound is ${e.bounds[dim]} ` +
          "(imperfect factorization is not modelled)",
      )
  }
  for (let l = 0; l < names.length; l++) {
    const s = h.storage[l]!
    const child = l === 0 ? h.compute : h.storage[l - 1]!
    const used = spatial[l]!.reduce((a, b) => a * b, 1)
    if (used > (child.meshX * child.meshY) / (s.meshX * s.meshY))
      return fail(
        "mapping",
        `${names[l]} spreads ${used} ways but has ${(child.meshX * child.meshY) / (s.meshX * s.meshY)} children`,
      )
  }
  return Either.right({
    levels: names.map((_, l) => ({
      temporal: tOrder[l]!.map((name) => {
        const dim = e.dims.indexOf(name)
        return { dim, bound: temporal[l]![dim]! }
      }),
      spatial: sOrder[l]!.map((name, i) => {
        const dim = e.dims.indexOf(name)
        return { dim, bound: spatial[l]![dim]!, axis: i < split[l]! ? ("x" as const) : ("y" as const) }
      }),
      keep: keep[l]!,
    })),
  })
}

/**
 * A nest mapping as Timeloop mapping directives (what `timeloop-model` reads): per level its
 * keep/bypass, temporal factors and permutation (innermost first), and where the level fans out,
 * spatial factors with the X loops first and `split` after them.
 */
export const mappingDirectives = (e: Einsum, h: Hierarchy, m: NestMapping): Array<Record<string, unknown>> => {
  const factorText = (loops: ReadonlyArray<{ readonly dim: number; readonly bound: number }>) =>
    e.dims.map((name, d) => `${name}${loops.filter((l) => l.dim === d).reduce((p, l) => p * l.bound, 1)}`).join(" ")
  // Single-letter dims read as a string ("CMRSNPQ"), longer names as a list.
  const order = (dims: ReadonlyArray<number>) =>
    e.dims.every((n) => n.length === 1) ? dims.map((d) => e.dims[d]).join("") : dims.map((d) => e.dims[d]!)
  const out: Array<Record<string, unknown>> = []
  for (const [l, level] of m.levels.entries()) {
    const target = h.storage[l]!.name
    out.push({
      target,
      type: "datatype",
      keep: e.dataSpaces.filter((_, pv) => level.keep[pv] === true).map((ds) => ds.name),
      bypass: e.dataSpaces.filter((_, pv) => level.keep[pv] !== true).map((ds) => ds.name),
    })
    const child = l === 0 ? h.compute : h.storage[l - 1]!
    if (child.meshX * child.meshY > h.storage[l]!.meshX * h.storage[l]!.meshY) {
      const x = level.spatial.filter((s) => s.axis === "x" && s.bound > 1).map((s) => s.dim)
      const y = level.spatial.filter((s) => s.axis === "y" && s.bound > 1).map((s) => s.dim)
      const rest = e.dims.map((_, d) => d).filter((d) => !x.includes(d) && !y.includes(d))
      out.push({
        target,
        type: "spatial",
        factors: factorText(level.spatial),
        permutation: order([...x, ...y, ...rest]),
        split: x.length,
      })
    }
    out.push({
      target,
      type: "temporal",
      factors: factorText(level.temporal),
      permutation: order(level.temporal.map((t) => t.dim)),
    })
  }
  return out
}
