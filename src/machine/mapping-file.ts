import { Effect, Either, Schema } from "effect"
import { ConfigError, decodeValue, FileError, jsonValueIssue, readText } from "../config/index.ts"
import { TensorName } from "../hardware/index.ts"

/**
 * A mapping file: what `spade map --json` prints, one JSON object per line (a JSON array or a single
 * object also reads). Each entry names the layer and pass it was found for, its dataflow, the dims of
 * the problem it maps, and the mapping; the rest of what `map` prints is ignored here.
 */
const PositiveInt = Schema.Int.pipe(Schema.positive())

const NamedLevelSchema = Schema.Struct({
  loops: Schema.Array(Schema.Struct({ dim: Schema.String, factor: PositiveInt })),
  keeps: Schema.Array(TensorName),
})

export const NamedMappingSchema = Schema.Struct({
  dram: NamedLevelSchema,
  glb: NamedLevelSchema,
  spatial: Schema.Struct({
    rows: Schema.Record({ key: Schema.String, value: PositiveInt }),
    cols: Schema.Record({ key: Schema.String, value: PositiveInt }),
  }),
  rf: Schema.NullOr(NamedLevelSchema),
  doubleBuffer: Schema.Boolean,
  /** The tensor the PEs hold still, where the mapping chose it (systolic arrays). */
  stationary: Schema.optional(TensorName),
})

/** The machine options a mapping was found under: a run must use the same ones to get its numbers. */
export const MachineSettings = Schema.Struct({
  timing: Schema.Literal("default", "scalesim"),
  glbWords: Schema.NullOr(PositiveInt),
  rows: PositiveInt,
  cols: PositiveInt,
})
export type MachineSettings = typeof MachineSettings.Type

export const MappingEntry = Schema.Struct({
  layer: Schema.String,
  pass: Schema.NullOr(Schema.String),
  accelerator: Schema.String,
  dataflow: Schema.String,
  machine: MachineSettings,
  dims: Schema.Record({ key: Schema.String, value: PositiveInt }),
  mapping: NamedMappingSchema,
})
export type MappingEntry = typeof MappingEntry.Type

/** A mapping in names rather than indices: what `spade map --json` prints and a user can read back. */
export type NamedMapping = typeof NamedMappingSchema.Type
/** One temporal level: its non-trivial loops, outermost first, and the tensors it keeps. */
export type NamedLevel = typeof NamedLevelSchema.Type

/** The entries of a mapping file; each is decoded on its own, so an error names its line. */
export const readMappingFile = (file: string): Effect.Effect<ReadonlyArray<MappingEntry>, ConfigError | FileError> =>
  Effect.flatMap(readText(file), (text): Effect.Effect<ReadonlyArray<MappingEntry>, ConfigError | FileError> => {
    const body = text.replace(/^\uFEFF/, "")
    const trimmed = body.trim()
    let values: Array<{ where: string; value: unknown }>
    try {
      const whole: unknown = JSON.parse(trimmed)
      values = Array.isArray(whole)
        ? whole.map((value, i) => ({ where: `${file} entry ${i}`, value }))
        : [{ where: file, value: whole }]
    } catch {
      values = []
      for (const [i, line] of body.split("\n").entries()) {
        if (line.trim() === "") continue
        try {
          values.push({ where: `${file}:${i + 1}`, value: JSON.parse(line) as unknown })
        } catch (e) {
          return Effect.fail(
            new FileError({
              file: `${file}:${i + 1}`,
              reason: `not valid JSON (${e instanceof Error ? e.message : String(e)})`,
            }),
          )
        }
      }
    }
    if (values.length === 0)
      return Effect.fail(
        new ConfigError({
          file,
          path: "",
          expected: "expected at least one mapping (the JSON lines of spade map --json)",
        }),
      )
    return Effect.forEach(values, ({ where, value }) => {
      // What JSON lets through before the schema looks (1e400 as Infinity, absurd nesting), as config files.
      const issue = jsonValueIssue(value)
      if (issue !== null) return Effect.fail(new ConfigError({ file: where, ...issue }))
      return Either.match(decodeValue(MappingEntry, "ignore")(where, value), {
        onLeft: Effect.fail,
        onRight: Effect.succeed,
      })
    })
  })

/**
 * The entry for a (layer, pass): the one whose layer and pass match, or the file's only entry when it
 * has one (a mapping found for `--gemm 64,128,784` fits the same GEMM under any name). Null if none.
 */
export const entryFor = (
  entries: ReadonlyArray<MappingEntry>,
  layer: string,
  pass: string | null,
): MappingEntry | null =>
  entries.find((e) => e.layer === layer && e.pass === pass) ?? (entries.length === 1 ? entries[0]! : null)
