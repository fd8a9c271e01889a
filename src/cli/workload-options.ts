import { Options } from "@effect/cli"
import { Effect, Either, Option } from "effect"
import { ConfigError, FileError, loadConfig, NotFoundError } from "../config/index.ts"
import { MAX_PARAMETERS } from "../engine/index.ts"
import { Accelerator } from "../hardware/index.ts"
import {
  loadDataflow,
  timingsOf,
  workloadFromConvArgs,
  workloadFromGemmArgs,
  type LayerWorkload,
  type MachineOptions,
  type MachineSettings,
  type OperandSpec,
  type Timing,
  type WorkloadArgError,
} from "../machine/index.ts"
import { DEFAULT_MAX_TOPOLOGY_LAYERS, readTopologyCsv, type TopologyCsvError } from "../sim/index.ts"
import { choice, float, integer, withShownDefault } from "./flags.ts"

/** Options shared by the commands that take layers without a trace. */
export const acceleratorOption = Options.text("accelerator").pipe(
  Options.withDescription(
    "An accelerator name from accelerators/ (see `spade list`) or a path to a JSON file. Required.",
  ),
)
export const gemmOption = Options.text("gemm").pipe(
  Options.optional,
  Options.withDescription(
    "One GEMM layer: M,N,K (out[M×N] = a[M×K]·b[K×N]). Give exactly one layer source (--gemm, --conv, ...).",
  ),
)
export const convOption = Options.text("conv").pipe(
  Options.optional,
  Options.withDescription(
    "One conv layer: H,W,R,S,C,K[,stride] (ifmap H×W, filter R×S, C channels, K filters). " +
      "Give exactly one layer source (--gemm, --conv, ...).",
  ),
)
export const jsonOption = Options.boolean("json").pipe(
  Options.withDescription("Print JSON, one object per line, instead of text. Default: text."),
)

const commandLine = (path: string, expected: string) => new ConfigError({ file: "command line", path, expected })

/**
 * A name typed after a flag that matches no config file, or a path that cannot be read: the error
 * names the flag as well. (What is wrong inside a file that was read is the file's error.)
 */
export const namedBy =
  (flag: string) =>
  <A, E, R>(self: Effect.Effect<A, E, R>) =>
    Effect.catchIf(
      self,
      (e): e is Extract<E, NotFoundError | FileError> => e instanceof NotFoundError || e instanceof FileError,
      (e) => Effect.fail(commandLine(flag, e.message)),
    )

/** `--accelerator <name or file>`. */
export const loadAccelerator = (nameOrFile: string) =>
  loadConfig("accelerators", Accelerator)(nameOrFile).pipe(namedBy("--accelerator"))

/** `--dataflow <name, file or os/ws/is>`. */
export const loadDataflowFlag = (nameOrFile: string) => loadDataflow(nameOrFile).pipe(namedBy("--dataflow"))

const fromEither = <A, E>(e: Either.Either<A, E>): Effect.Effect<A, E> =>
  Either.match(e, { onLeft: Effect.fail, onRight: Effect.succeed })

/** Exactly one of the layer sources must be given. */
export const resolveWorkloads = (sources: {
  readonly topology: Option.Option<string>
  readonly gemm: Option.Option<string>
  readonly conv: Option.Option<string>
  readonly maxLayers?: number | undefined
}): Effect.Effect<ReadonlyArray<LayerWorkload>, ConfigError | FileError | TopologyCsvError | WorkloadArgError> => {
  const given = (["topology", "gemm", "conv"] as const).filter((k) => Option.isSome(sources[k]))
  if (given.length !== 1)
    return Effect.fail(
      commandLine(
        "",
        `expected exactly one of --topology, --gemm, --conv; got ${given.length === 0 ? "none" : given.map((g) => `--${g}`).join(" and ")}`,
      ),
    )
  if (Option.isSome(sources.gemm))
    return fromEither(workloadFromGemmArgs(sources.gemm.value)).pipe(Effect.map((w) => [w]))
  if (Option.isSome(sources.conv))
    return fromEither(workloadFromConvArgs(sources.conv.value)).pipe(Effect.map((w) => [w]))
  return readTopologyCsv(Option.getOrThrow(sources.topology), sources.maxLayers)
}

/** `--max-layers`: how many layers a topology may expand to (a depthwise row is one per channel). */
export const maxLayersOption = integer("max-layers").pipe(
  Options.withDescription(
    "The most layers a --topology may expand to, checked before expanding (a depthwise row becomes one layer per channel).",
  ),
  withShownDefault(DEFAULT_MAX_TOPOLOGY_LAYERS),
)

/** `--max-parameters`: a model's weights, counted from its shapes before any layer is listed or allocated. */
export const maxParametersOption = integer("max-parameters").pipe(
  Options.withDescription(
    "The most weights a --model may have, counted from its shapes before anything is listed or allocated (a " +
      "10⁹-wide layer is a typo, not a network).",
  ),
  withShownDefault(MAX_PARAMETERS),
)

/** Statistical operands, for `layer` and `map` alike. */
export const operandOptions = {
  density: float("density").pipe(
    Options.optional,
    Options.withDescription(
      "Statistical ifmap (activation) operand: uniform random nonzeros at this density (0..1). Default: dense.",
    ),
  ),
  weightDensity: float("weight-density").pipe(
    Options.optional,
    Options.withDescription(
      "Statistical filter (weight) operand: uniform random nonzeros at this density (0..1). Default: dense.",
    ),
  ),
  nm: Options.text("nm").pipe(
    Options.optional,
    Options.withDescription(
      "Statistical filter operand with N:M structure along the reduction dim, e.g. 2:8. Default: dense.",
    ),
  ),
  seed: integer("seed").pipe(
    Options.withDescription("Seed for statistical operands' masks (and, for map, the search)."),
    withShownDefault(1),
  ),
}

const fraction = (flag: string, v: Option.Option<number>) =>
  Option.isSome(v) && !(v.value >= 0 && v.value <= 1)
    ? Effect.fail(commandLine(flag, `expected a density between 0 and 1, got ${v.value}`))
    : Effect.void

export const parseNm = (value: string): Effect.Effect<{ n: number; m: number }, ConfigError> => {
  const match = /^(\d+):(\d+)$/.exec(value.trim())
  const n = Number(match?.[1])
  const m = Number(match?.[2])
  return match === null || n < 1 || m < 1 || n > m
    ? Effect.fail(commandLine("--nm", `expected N:M with 1 <= N <= M (e.g. 2:8), got "${value}"`))
    : Effect.succeed({ n, m })
}

/** The operand specs the flags ask for: dense unless a density or N:M is given. */
export const operandSpecs = (o: {
  readonly density: Option.Option<number>
  readonly weightDensity: Option.Option<number>
  readonly nm: Option.Option<string>
}): Effect.Effect<{ a: OperandSpec; b: OperandSpec }, ConfigError> =>
  Effect.gen(function* () {
    yield* fraction("--density", o.density)
    yield* fraction("--weight-density", o.weightDensity)
    if (Option.isSome(o.nm) && Option.isSome(o.weightDensity))
      return yield* Effect.fail(commandLine("--nm", "expected at most one of --nm and --weight-density"))
    const a: OperandSpec = Option.match(o.density, {
      onNone: () => ({ kind: "dense" }),
      onSome: (density) => ({ kind: "uniform", density }),
    })
    if (Option.isSome(o.nm)) {
      const nm = yield* parseNm(o.nm.value)
      return { a, b: { kind: "nm", n: nm.n, m: nm.m } }
    }
    const b: OperandSpec = Option.match(o.weightDensity, {
      onNone: () => ({ kind: "dense" }),
      onSome: (density) => ({ kind: "uniform", density }),
    })
    return { a, b }
  })

/** How the machine is read: timing, array overrides, one shared buffer. */
export const machineFlags = {
  timing: choice("timing", ["default", "scalesim"]).pipe(
    Options.optional,
    Options.withDescription(
      "scalesim: SCALE-Sim v2's conventions (full fill and drain per fold, no overlap, one-byte words; " +
        "systolic arrays); default: folds overlap with double buffering. Default: default, or the timing a " +
        "--mapping file was found under.",
    ),
  ),
  rows: integer("rows").pipe(
    Options.optional,
    Options.withDescription("Override the PE array's rows. Default: the accelerator file's (or the --mapping file's)."),
  ),
  cols: integer("cols").pipe(
    Options.optional,
    Options.withDescription(
      "Override the PE array's columns. Default: the accelerator file's (or the --mapping file's).",
    ),
  ),
  glbWords: integer("glb-words").pipe(
    Options.optional,
    Options.withDescription(
      "Replace the on-chip buffers by one shared buffer of this many words. Default: the accelerator file's buffers.",
    ),
  ),
}

export interface MachineFlagValues {
  readonly timing: Option.Option<"default" | "scalesim">
  readonly rows: Option.Option<number>
  readonly cols: Option.Option<number>
  readonly glbWords: Option.Option<number>
}

const positive = (flag: string, v: Option.Option<number>): Effect.Effect<number | undefined, ConfigError> =>
  Option.isNone(v)
    ? Effect.succeed(undefined)
    : Number.isSafeInteger(v.value) && v.value >= 1
      ? Effect.succeed(v.value)
      : Effect.fail(commandLine(flag, `expected a positive integer, got ${v.value}`))

/**
 * The machine options of the flags, checked against the accelerator's family. A mapping found under
 * other options would not give the mapper's numbers, so `found`, when given, fills the flags left out
 * and must agree with those given.
 */
export const machineOptionsOf = (
  acc: Accelerator,
  o: MachineFlagValues,
  found?: { readonly source: string; readonly settings: MachineSettings },
): Effect.Effect<MachineOptions & { readonly timing: Timing }, ConfigError> =>
  Effect.gen(function* () {
    const flags = {
      timing: Option.getOrUndefined(o.timing),
      rows: yield* positive("--rows", o.rows),
      cols: yield* positive("--cols", o.cols),
      glbWords: yield* positive("--glb-words", o.glbWords),
    }
    const f = found?.settings
    if (f !== undefined) {
      const own = { timing: f.timing, rows: f.rows, cols: f.cols, glbWords: f.glbWords ?? undefined }
      for (const key of ["timing", "rows", "cols", "glbWords"] as const) {
        const flag = flags[key]
        if (flag !== undefined && flag !== own[key])
          return yield* Effect.fail(
            commandLine(
              `--${key === "glbWords" ? "glb-words" : key}`,
              `expected ${String(own[key] ?? "no value")}: the mapping in ${found!.source} was found with it`,
            ),
          )
      }
    }
    const timing = flags.timing ?? f?.timing ?? "default"
    if (!timingsOf(acc).includes(timing))
      return yield* Effect.fail(
        commandLine(
          "--timing",
          `expected one of ${timingsOf(acc).join(", ")}: ${acc.name} is a ${acc.family} accelerator, and SCALE-Sim timing is for dense systolic arrays`,
        ),
      )
    return {
      timing,
      rows: flags.rows ?? (f !== undefined && f.rows !== acc.peArray.rows ? f.rows : undefined),
      cols: flags.cols ?? (f !== undefined && f.cols !== acc.peArray.cols ? f.cols : undefined),
      glbWords: flags.glbWords ?? f?.glbWords ?? undefined,
    }
  })

/** What a mapping file records of the machine a mapping was found on. */
export const settingsOf = (acc: Accelerator, o: MachineOptions & { readonly timing: Timing }): MachineSettings => ({
  timing: o.timing,
  glbWords: o.glbWords ?? null,
  rows: o.rows ?? acc.peArray.rows,
  cols: o.cols ?? acc.peArray.cols,
})
