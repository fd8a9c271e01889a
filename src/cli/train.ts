import { Command, Options } from "@effect/cli"
import { Console, Effect, Either, Option } from "effect"
import { ConfigError } from "../config/index.ts"
import {
  buildModel,
  dataFitIssue,
  MAX_PARAMETERS,
  modelSizeIssue,
  DATASET_NAMES,
  ENGINE_VERSION,
  loadDataset,
  parseSparsity,
  sparsityLabel,
  sparsityParams,
  SPARSITY_HELP,
  train,
} from "../engine/index.ts"
import { progress } from "../experiment/index.ts"
import { buildImportedNetwork, loadAnyModel, traceForward, withWeightNm } from "../onnx/index.ts"
import { encodeTrace, observe, TRACE_SCHEMA_VERSION, type TraceRecord } from "../trace/index.ts"
import { choice, float, integer, withShownDefault } from "./flags.ts"
import { checkFolder, writeAtomically } from "./out.ts"
import { jsonOption } from "./workload-options.ts"

const options = {
  model: Options.text("model").pipe(
    Options.withDescription(
      "A model name from models/ (see `spade list`), a path to a JSON file, or an ONNX file (*.onnx) whose " +
        "weights it starts from. Required.",
    ),
  ),
  shapesOnly: Options.boolean("shapes-only").pipe(
    Options.withDescription(
      "For an ONNX model: import its layers only and start from Spade's seeded initialization. " +
        "Default: start from the file's weights.",
    ),
  ),
  dataset: Options.text("dataset").pipe(
    Options.withDescription(
      `${DATASET_NAMES.join(", ")}, or a directory or file prefix holding MNIST-style IDX files ` +
        "(train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte).",
    ),
    withShownDefault("mnist-digits"),
  ),
  sparsity: Options.text("sparsity").pipe(Options.withDescription(SPARSITY_HELP), withShownDefault("dense")),
  epochs: integer("epochs").pipe(
    Options.withDescription(
      "Passes over the training split; 0: no training, only the forward pass over the test split (inference; the " +
        "trace holds forward records).",
    ),
    withShownDefault(1),
  ),
  batchSize: integer("batch-size").pipe(Options.withDescription("Samples per training step."), withShownDefault(64)),
  learningRate: float("lr").pipe(
    Options.withDescription("Learning rate (its peak, under a schedule)."),
    withShownDefault(0.05),
  ),
  optimizer: choice("optimizer", ["sgd", "adam"]).pipe(
    Options.withDescription("sgd (momentum 0.9) or adam."),
    withShownDefault("sgd"),
  ),
  schedule: choice("lr-schedule", ["constant", "cosine", "step"]).pipe(
    Options.withDescription("constant, cosine (to 0 over the run) or step (×0.1 every third of the epochs)."),
    withShownDefault("constant"),
  ),
  weightDecay: float("weight-decay").pipe(
    Options.withDescription("L2 weight decay added to every weight's gradient."),
    withShownDefault(0.0001),
  ),
  seed: integer("seed").pipe(
    Options.withDescription("Seed for initialization, the dataset split and shuffling: a seed gives the same run."),
    withShownDefault(1),
  ),
  traceEvery: integer("trace-every").pipe(
    Options.withDescription("Trace every k-th step (with --trace)."),
    withShownDefault(25),
  ),
  trace: Options.text("trace").pipe(
    Options.optional,
    Options.withDescription("Write the trace to this Arrow IPC file. Default: no trace."),
  ),
  maxParameters: integer("max-parameters").pipe(
    Options.withDescription(
      "The most weights a model may have, counted from its shapes before anything is allocated (a 10⁹-wide " +
        "layer is a typo, not a CPU job).",
    ),
    withShownDefault(MAX_PARAMETERS),
  ),
  json: jsonOption,
}

const atLeast = (flag: string, v: number, min: number) =>
  v < min
    ? Effect.fail(
        new ConfigError({ file: "command line", path: flag, expected: `expected an integer >= ${min}, got ${v}` }),
      )
    : Effect.void

export const trainCommand = Command.make("train", options, (o) =>
  Effect.gen(function* () {
    yield* atLeast("--epochs", o.epochs, 0)
    yield* atLeast("--batch-size", o.batchSize, 1)
    yield* atLeast("--trace-every", o.traceEvery, 1)
    yield* atLeast("--seed", o.seed, 0)
    yield* atLeast("--max-parameters", o.maxParameters, 1)
    // Before any training: a trace that cannot be written must not cost the run it records.
    if (Option.isSome(o.trace)) yield* checkFolder(o.trace.value)
    if (!(o.learningRate > 0))
      yield* Effect.fail(
        new ConfigError({
          file: "command line",
          path: "--lr",
          expected: `expected a positive number, got ${o.learningRate}`,
        }),
      )
    const { config: model, imported } = yield* loadAnyModel(o.model, { shapesOnly: o.shapesOnly })
    // What the import changed or dropped (a padded pool's window, a trailing softmax) goes to stderr.
    for (const note of imported?.notes ?? []) yield* Console.error(`note: ${o.model}: ${note}`)
    const sparsity = yield* Either.match(parseSparsity(o.sparsity), { onLeft: Effect.fail, onRight: Effect.succeed })
    const data = yield* Either.match(loadDataset(o.dataset, { seed: o.seed, testFraction: 0.2 }), {
      onLeft: Effect.fail,
      onRight: Effect.succeed,
    })
    // The model file is blamed for a model that cannot be allocated or does not fit the data, before training.
    const issue =
      modelSizeIssue(model, o.maxParameters) ??
      dataFitIssue(model, { features: data.train.features, classes: data.train.classes }, o.dataset)
    if (issue !== null) return yield* Effect.fail(new ConfigError({ file: o.model, ...issue }))
    const records: TraceRecord[] = []
    const tracing = Option.isSome(o.trace)
    const writeTrace = (method: string, methodParams: Readonly<Record<string, string | number>>) =>
      Option.match(o.trace, {
        onNone: () => Effect.void,
        // Whole or not at all (a temporary name, renamed): a reader never meets half a trace.
        onSome: (file) =>
          writeAtomically(file, () =>
            encodeTrace(
              {
                schemaVersion: TRACE_SCHEMA_VERSION,
                model: model.name,
                dataset: o.dataset,
                method,
                methodParams,
                seed: o.seed,
                engineVersion: ENGINE_VERSION,
              },
              records,
            ),
          ),
      })
    if (o.epochs === 0) {
      // Inference: the model as loaded (an imported checkpoint, or the seeded init) on the test split.
      const network = imported === null ? buildModel(model, o.seed) : buildImportedNetwork(imported, o.seed)
      const result = traceForward(network, data.test, {
        batchSize: o.batchSize,
        traceEveryBatches: tracing ? o.traceEvery : 0,
        onObservation: (obs) => records.push(observe(obs)),
      })
      yield* writeTrace("inference", { epochs: 0 })
      const summary = {
        model: model.name,
        dataset: o.dataset,
        sparsity: "inference",
        seed: o.seed,
        testAccuracy: result.accuracy,
        samples: result.samples,
        batches: result.batches,
        layers: imported?.layers ?? [],
        traceRecords: records.length,
        trace: Option.getOrNull(o.trace),
      }
      yield* Console.log(
        o.json
          ? JSON.stringify(summary)
          : `inference on ${result.samples} test samples: accuracy ${(result.accuracy * 100).toFixed(2)}%`,
      )
      return
    }
    const label = sparsityLabel(sparsity)
    const bar = progress(`train ${label}`, o.epochs)
    const result = train({
      model,
      data,
      sparsity,
      epochs: o.epochs,
      batchSize: o.batchSize,
      learningRate: o.learningRate,
      momentum: 0.9,
      weightDecay: o.weightDecay,
      seed: o.seed,
      optimizer: o.optimizer,
      lrSchedule:
        o.schedule === "step"
          ? { kind: "step", everyEpochs: Math.max(1, Math.ceil(o.epochs / 3)), gamma: 0.1 }
          : { kind: o.schedule },
      traceEverySteps: tracing ? o.traceEvery : 0,
      // An imported checkpoint's weights (and running statistics) are where fine-tuning starts.
      ...(imported?.weights == null ? {} : { initialTensors: imported.weights }),
      onObservation: tracing
        ? imported === null
          ? (obs) => records.push(observe(obs))
          : // An imported checkpoint's weights may be N:M without a sparsifier saying so.
            withWeightNm((obs) => records.push(observe(obs)))
        : undefined,
      onProgress: (p) =>
        bar.update(p.epoch + ((p.step % p.stepsPerEpoch) + 1) / p.stepsPerEpoch, `loss ${p.trainLoss.toFixed(3)}`),
      onEpoch: (h) => bar.update(h.epoch, `epoch ${h.epoch}: test accuracy ${(h.testAccuracy * 100).toFixed(2)}%`),
    })
    bar.finish(`test accuracy ${(result.testAccuracy * 100).toFixed(2)}%`)
    yield* writeTrace(label, sparsityParams(sparsity))
    const summary = {
      model: model.name,
      dataset: o.dataset,
      sparsity: label,
      seed: o.seed,
      testAccuracy: result.testAccuracy,
      trainLoss: result.trainLoss,
      epochs: result.epochs,
      seconds: result.seconds,
      samplesPerSecond: result.samplesPerSecond,
      densities: Object.fromEntries(result.layers.map((l) => [l.layer, l.weightDensity])),
      layers: result.layers,
      hiddenActivationDensity: result.hiddenActivationDensity,
      temporal: result.temporal,
      history: result.history,
      traceRecords: records.length,
      trace: Option.getOrNull(o.trace),
    }
    yield* Console.log(
      o.json
        ? JSON.stringify(summary)
        : `test accuracy ${(result.testAccuracy * 100).toFixed(2)}%, loss ${result.trainLoss.toFixed(4)}, ${result.samplesPerSecond.toFixed(0)} samples/s`,
    )
  }),
).pipe(Command.withDescription("Train a model with a sparsity method and optionally write its per-layer trace."))
