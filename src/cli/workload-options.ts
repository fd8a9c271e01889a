import { Options } from "@effect/cli"
import { Effect, Either, Option } from "effect"
import { ConfigError, FileError, loadConfig } from "../config/index.ts"
import { Accelerator } from "../hardware/index.ts"
import { readTopologyCsv, workloadFromConvArgs, workloadFromGemmArgs, type LayerWorkload, type TopologyCsvError, type WorkloadArgError } from "../sim/index.ts"

/** Options shared by the commands that take layers without a trace. */
export const acceleratorOption = Options.text("accelerator").pipe(
  Options.withDescription("An accelerator name from accelerators/ (see `spade list`) or a path to a JSON file."),
)
export const gemmOption = Options.text("gemm").pipe(Options.optional, Options.withDescription("One GEMM layer: M,N,K (out[M×N] = a[M×K]·b[K×N])."))
export const convOption = Options.text("conv").pipe(
  Options.optional,
  Options.withDescription("One conv layer: H,W,R,S,C,K[,stride] (ifmap H×W, filter R×S, C channels, K filters)."),
)
export const jsonOption = Options.boolean("json").pipe(Options.withDescription("Print JSON, one object per line."))

export const loadAccelerator = loadConfig("accelerators", Accelerator)

const fromEither = <A, E>(e: Either.Either<A, E>): Effect.Effect<A, E> => Either.match(e, { onLeft: Effect.fail, onRight: Effect.succeed })

/** Exactly one of the layer sources must be given. */
export const resolveWorkloads = (sources: {
  readonly topology: Option.Option<string>
  readonly gemm: Option.Option<string>
  readonly conv: Option.Option<string>
}): Effect.Effect<ReadonlyArray<LayerWorkload>, ConfigError | FileError | TopologyCsvError | WorkloadArgError> => {
  const given = (["topology", "gemm", "conv"] as const).filter((k) => Option.isSome(sources[k]))
  if (given.length !== 1)
    return Effect.fail(new ConfigError({ file: "command line", path: "", expected: `expected exactly one of --topology, --gemm, --conv; got ${given.length === 0 ? "none" : given.map((g) => `--${g}`).join(" and ")}` }))
  if (Option.isSome(sources.gemm)) return fromEither(workloadFromGemmArgs(sources.gemm.value)).pipe(Effect.map((w) => [w]))
  if (Option.isSome(sources.conv)) return fromEither(workloadFromConvArgs(sources.conv.value)).pipe(Effect.map((w) => [w]))
  return readTopologyCsv(Option.getOrThrow(sources.topology))
}
