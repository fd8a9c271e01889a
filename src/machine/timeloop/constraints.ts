import { Either, Schema } from "effect"
import { decodeValue } from "../../config/index.ts"
import type { FactorRule, LevelConstraints } from "../nest/constraints.ts"
import type { Einsum } from "../nest/einsum.ts"
import type { FlatComponent } from "./architecture.ts"
import { TimeloopInputError } from "./errors.ts"

/**
 * Timeloop's architecture constraints, per node: `temporal` and `spatial` factors ("R=1", "M<=8")
 * and permutations (innermost first; a spatial `split` puts the dims before it on X), and
 * `dataspace` keep/bypass lists. A container's constraints bind its fan-out marker.
 */
const Names = Schema.Union(Schema.String, Schema.Array(Schema.String))
const Directive = Schema.Struct({
  factors: Schema.optional(Names),
  permutation: Schema.optional(Names),
  split: Schema.optional(Schema.Int),
})
const ConstraintsSchema = Schema.Struct({
  temporal: Schema.optional(Directive),
  spatial: Schema.optional(Directive),
  dataspace: Schema.optional(
    Schema.Struct({
      keep: Schema.optional(Schema.Array(Schema.String)),
      bypass: Schema.optional(Schema.Array(Schema.String)),
    }),
  ),
})

const words = (v: string | ReadonlyArray<string>): string[] =>
  (typeof v === "string" ? v.split(/[\s,]+/) : v.flatMap((x) => x.split(/[\s,]+/))).filter((x) => x !== "")

export const constraintsOf = (
  file: string,
  components: ReadonlyArray<FlatComponent>,
  e: Einsum,
): Either.Either<LevelConstraints[], TimeloopInputError> =>
  Either.gen(function* () {
    const out: LevelConstraints[] = []
    // Innermost first, as the hierarchy lists storage levels (the compute unit is last top-down).
    for (const c of components.slice(0, -1).reverse()) {
      const fail = (path: string, expected: string) =>
        Either.left(new TimeloopInputError({ file, path: `${c.path}.constraints${path}`, expected }))
      const decoded = decodeValue(ConstraintsSchema)(file, c.constraints ?? {})
      if (Either.isLeft(decoded))
        return yield* fail("", `constraints with temporal, spatial and dataspace only (${decoded.left.expected})`)
      const k = decoded.right
      const dim = (name: string): number => e.dims.indexOf(name)
      const rules = (f: string | ReadonlyArray<string> | undefined, path: string) =>
        Either.gen(function* () {
          const map = new Map<number, FactorRule>()
          for (const w of words(f ?? [])) {
            const m = /^([A-Za-z_]\w*?)(<=|=)(\d+)$/.exec(w)
            if (m === null || dim(m[1]!) < 0)
              return yield* fail(path, `factors like R=1 or M<=8 over ${e.dims.join(", ")}; got ${w}`)
            // A factor beyond the dim's bound cannot be met; Timeloop's mapper caps it at the bound.
            const value = Math.min(Number(m[3]), e.bounds[dim(m[1]!)]!)
            // "=0" leaves the level whatever the others do not take: no rule for the search to keep.
            if (m[2] === "=" && value === 0) continue
            map.set(dim(m[1]!), { kind: m[2] === "<=" ? "max" : "exact", value })
          }
          return map
        })
      const order = (p: string | ReadonlyArray<string> | undefined, path: string) => {
        const names = p === undefined ? [] : typeof p === "string" && !p.includes(" ") ? [...p] : words(p)
        const bad = names.find((n) => dim(n) < 0)
        return bad === undefined
          ? Either.right(names.map(dim))
          : fail(path, `a permutation over ${e.dims.join(", ")}; got ${bad}`)
      }
      const spaces = (names: ReadonlyArray<string> | undefined, path: string) => {
        const ids = (names ?? []).map((n) => e.dataSpaces.findIndex((ds) => ds.name === n))
        return ids.includes(-1)
          ? fail(path, `data spaces among ${e.dataSpaces.map((ds) => ds.name).join(", ")}`)
          : Either.right(new Set(ids))
      }
      const temporal = yield* rules(k.temporal?.factors, ".temporal.factors")
      const spatial = yield* rules(k.spatial?.factors, ".spatial.factors")
      const permutation = yield* order(k.temporal?.permutation, ".temporal.permutation")
      const spatialOrder = yield* order(k.spatial?.permutation, ".spatial.permutation")
      // A partial spatial permutation lists the outermost dims: the unlisted ones come first, and
      // `split` counts from the start of the whole permutation (Timeloop's own mappings show it).
      const axis = new Map<number, "x" | "y">()
      const split = k.spatial?.split
      if (split !== undefined) {
        const unlisted = e.dims.map((_, d) => d).filter((d) => !spatialOrder.includes(d))
        for (const [i, d] of spatialOrder.entries()) axis.set(d, unlisted.length + i < split ? "x" : "y")
        if (split >= unlisted.length || split === 0) for (const d of unlisted) axis.set(d, split === 0 ? "y" : "x")
      }
      const keep = yield* spaces(k.dataspace?.keep, ".dataspace.keep")
      const bypass = yield* spaces(k.dataspace?.bypass, ".dataspace.bypass")
      out.push({ temporal, permutation, spatial, axis, keep, bypass })
    }
    return out
  })
