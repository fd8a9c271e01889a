import { Effect, Either } from "effect"
import * as path from "node:path"
import { ConfigError, type FileError } from "../../config/index.ts"
import type { LevelConstraints } from "../nest/constraints.ts"
import type { Einsum } from "../nest/einsum.ts"
import type { Hierarchy } from "../nest/hierarchy.ts"
import type { NestMapping } from "../nest/nest.ts"
import type { SparseSpec } from "../nest/sparse/spec.ts"
import { decodeArchitecture, decodeErt, flatten, hierarchyOf, type FlatComponent } from "./architecture.ts"
import { constraintsOf } from "./constraints.ts"
import { TimeloopInputError } from "./errors.ts"
import { decodeMapping, mappingOf } from "./mapping.ts"
import { decodeProblem, problemOf } from "./problem.ts"
import { densitiesOf, sparseOf } from "./sparse.ts"
import { readYaml } from "./yaml.ts"

/**
 * Timeloop's inputs, read the way `timeloop-model` reads them: any number of YAML files whose
 * top-level keys (architecture, problem, mapping, ERT) are merged, each section decoded and
 * checked against the others.
 */
export interface TimeloopSpec {
  readonly einsum: Einsum
  readonly densities: ReadonlyArray<{ readonly distribution: string; readonly density: number }>
  readonly hierarchy: Hierarchy
  readonly components: ReadonlyArray<FlatComponent>
  readonly mapping: NestMapping
  /** What the architecture allows a mapping to do, per storage level (innermost first). */
  readonly constraints: ReadonlyArray<LevelConstraints>
  /** Sparseloop's densities and sparse optimizations (none asked for in a dense design). */
  readonly sparse: SparseSpec
  /** Which file each section came from. */
  readonly sources: { readonly [section: string]: string }
}

export type SpecError = ConfigError | FileError | TimeloopInputError

const fromEither = <A, E>(e: Either.Either<A, E>): Effect.Effect<A, E> =>
  Either.match(e, { onLeft: (l) => Effect.fail(l), onRight: (r) => Effect.succeed(r) })

export const readTimeloopSpec = (files: ReadonlyArray<string>): Effect.Effect<TimeloopSpec, SpecError> =>
  Effect.gen(function* () {
    const sections = new Map<string, { file: string; value: unknown }>()
    for (const file of files) {
      const doc = yield* readYaml(file)
      if (typeof doc !== "object" || doc === null || Array.isArray(doc))
        return yield* Effect.fail(new ConfigError({ file, path: "", expected: "a YAML map of top-level sections" }))
      for (const [k, v] of Object.entries(doc)) sections.set(k, { file, value: v })
    }
    const need = (key: string) =>
      Effect.suspend(() => {
        const s = sections.get(key)
        return s === undefined
          ? Effect.fail(
              new ConfigError({
                file: files.join(", "),
                path: key,
                expected: `is missing: give a file with a top-level "${key}" section`,
              }),
            )
          : Effect.succeed(s)
      })
    const separate = sections.get("sparse_optimizations")
    if (separate !== undefined)
      return yield* Effect.fail(
        new TimeloopInputError({
          file: separate.file,
          path: "sparse_optimizations",
          expected: "sparse optimizations inside the architecture's components (v0.4), not as a section of their own",
        }),
      )
    const arch = yield* need("architecture")
    const prob = yield* need("problem")
    const map = yield* need("mapping")
    const ert = yield* need("ERT")
    const archSpec = yield* fromEither(decodeArchitecture(arch.file, arch.value))
    const problemSpec = yield* fromEither(decodeProblem(prob.file, prob.value))
    const ertSpec = yield* fromEither(decodeErt(ert.file, ert.value))
    const mappingSpec = yield* fromEither(decodeMapping(map.file, map.value))
    const components = yield* fromEither(flatten(arch.file, archSpec))
    const flat = yield* fromEither(hierarchyOf({ architecture: arch.file, ert: ert.file }, components, ertSpec))
    // Timeloop's designs are named by the folder their architecture file lives in.
    const hierarchy = { ...flat, name: path.basename(path.dirname(path.resolve(arch.file))) }
    const problem = yield* fromEither(problemOf(prob.file, problemSpec))
    const mapping = yield* fromEither(mappingOf(map.file, mappingSpec, problem.einsum, hierarchy))
    const densities = yield* fromEither(densitiesOf(prob.file, problem.einsum, problem.densities))
    const sparse = yield* fromEither(sparseOf(arch.file, prob.file, components, problem.einsum, densities))
    const constraints = yield* fromEither(constraintsOf(arch.file, components, problem.einsum))
    return {
      constraints,
      einsum: problem.einsum,
      densities: problem.densities,
      hierarchy,
      components,
      mapping,
      sparse,
      sources: { architecture: arch.file, problem: prob.file, mapping: map.file, ERT: ert.file },
    }
  })
