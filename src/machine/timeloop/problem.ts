import { Either, Schema } from "effect"
import { type ConfigError, decodeValue } from "../../config/index.ts"
import type { Einsum, Term } from "../nest/einsum.ts"
import { TimeloopInputError } from "./errors.ts"

/** A Timeloop problem (v0.4): a shape (dims, coefficients, projections) and an instance (bounds). */
const TermSchema = Schema.Array(Schema.Union(Schema.String, Schema.Number))

const DensitySchema = Schema.Struct({
  distribution: Schema.optional(Schema.String),
  density: Schema.Number.pipe(Schema.between(0, 1)),
})

export const ProblemSchema = Schema.Struct({
  version: Schema.optional(Schema.Union(Schema.Number, Schema.String)),
  shape: Schema.Struct({
    name: Schema.optional(Schema.String),
    dimensions: Schema.Array(Schema.String).pipe(Schema.minItems(1)),
    coefficients: Schema.optional(Schema.Array(Schema.Struct({ name: Schema.String, default: Schema.Number }))),
    data_spaces: Schema.Array(
      Schema.Struct({
        name: Schema.String,
        projection: Schema.Array(Schema.Array(TermSchema)),
        read_write: Schema.optional(Schema.Union(Schema.Boolean, Schema.Literal("True", "False", "true", "false"))),
      }),
    ).pipe(Schema.minItems(1)),
  }),
  instance: Schema.Record({
    key: Schema.String,
    value: Schema.Union(Schema.Number, Schema.Record({ key: Schema.String, value: DensitySchema })),
  }),
})
export type ProblemSpec = typeof ProblemSchema.Type

/** The problem, and for each data space the density the instance declares (1 where it declares none). */
export interface TimeloopProblem {
  readonly einsum: Einsum
  readonly densities: ReadonlyArray<{ readonly distribution: string; readonly density: number }>
}

export const decodeProblem = (file: string, value: unknown): Either.Either<ProblemSpec, ConfigError> =>
  decodeValue(ProblemSchema, "ignore")(file, value)

export const problemOf = (file: string, p: ProblemSpec): Either.Either<TimeloopProblem, TimeloopInputError> => {
  const dims = p.shape.dimensions
  const numbers = new Map<string, number>()
  for (const c of p.shape.coefficients ?? []) numbers.set(c.name, c.default)
  for (const [k, v] of Object.entries(p.instance)) if (typeof v === "number") numbers.set(k, v)
  const fail = (path: string, expected: string) => Either.left(new TimeloopInputError({ file, path, expected }))
  const bounds: number[] = []
  for (const [i, d] of dims.entries()) {
    const b = p.instance[d]
    if (typeof b !== "number" || !Number.isInteger(b) || b < 1)
      return fail(`problem.instance.${d}`, `dimension ${d} (shape.dimensions[${i}]) needs a positive integer bound`)
    bounds.push(b)
  }
  const dataSpaces = []
  for (const [s, ds] of p.shape.data_spaces.entries()) {
    const ranks: Term[][] = []
    for (const [r, rank] of ds.projection.entries()) {
      const terms: Term[] = []
      for (const [t, term] of rank.entries()) {
        const path = `problem.shape.data_spaces[${s}].projection[${r}][${t}]`
        const [dimName, coef] = term
        const dim = typeof dimName === "string" ? dims.indexOf(dimName) : -1
        if (dim < 0) return fail(path, `a term starts with one of the dimensions ${dims.join(", ")}`)
        if (term.length > 2) return fail(path, "a term is [dimension] or [dimension, coefficient]")
        const coefficient = coef === undefined ? 1 : typeof coef === "number" ? coef : numbers.get(coef)
        if (coefficient === undefined) return fail(path, `coefficient ${String(coef)} is neither declared nor given`)
        terms.push({ dim, coefficient })
      }
      ranks.push(terms)
    }
    const rw = ds.read_write
    dataSpaces.push({ name: ds.name, ranks, readWrite: rw === true || rw === "True" || rw === "true" })
  }
  const declared = p.instance["densities"]
  const densities = dataSpaces.map((ds) => {
    const d = typeof declared === "object" ? declared[ds.name] : undefined
    return { distribution: d?.distribution ?? "fixed_structured", density: d?.density ?? 1 }
  })
  return Either.right({ einsum: { name: p.shape.name ?? "problem", dims, bounds, dataSpaces }, densities })
}
