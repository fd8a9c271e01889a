import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { ConfigError } from "../config/index.ts"
import { DATASET_NAMES, MAX_PARAMETERS, SPARSITY_HELP } from "../engine/index.ts"
import { modelReport, REPORT_ACCELERATORS } from "../experiment/index.ts"
import { float, integer } from "./flags.ts"

const options = {
  trace: Options.file("trace").pipe(
    Options.optional,
    Options.withDescription(
      "A trace: Spade's Arrow IPC (spade train, experiments) or the PyTorch recorder's .npz (python/spade_recorder). " +
        "Give exactly one of --trace, --model.",
    ),
  ),
  model: Options.text("model").pipe(
    Options.optional,
    Options.withDescription(
      "Instead of a trace, a model: a name from models/, a JSON file (models/zoo/*.json) or an ONNX file. A model " +
        "file runs as one training step of its shapes with statistical operands (--density, --weight-density, --nm); " +
        "an ONNX file with weights runs its forward pass over --dataset (real activation masks); --sparsity " +
        "fine-tunes it (or trains a model file from Spade's seeded init) and reports the last step's three passes. " +
        "Give exactly one of --trace, --model.",
    ),
  ),
  out: Options.text("out").pipe(
    Options.optional,
    Options.withDescription("The HTML report to write. Default: reports/<trace or model base name>.html."),
  ),
  step: Options.text("step").pipe(
    Options.optional,
    Options.withDescription("Which traced step to report: last, all, or a step number. Default: last."),
  ),
  batch: integer("batch").pipe(
    Options.optional,
    Options.withDescription("Samples per step. Default: 1 for shapes, 16 for inference and fine-tuning."),
  ),
  density: float("density").pipe(
    Options.optional,
    Options.withDescription("Shapes: uniform random activation (ifmap) density (0..1). Default: dense."),
  ),
  weightDensity: float("weight-density").pipe(
    Options.optional,
    Options.withDescription("Shapes: uniform random weight density (0..1). Default: dense."),
  ),
  nm: Options.text("nm").pipe(
    Options.optional,
    Options.withDescription("Shapes: N:M weights along the reduction dim, e.g. 2:4. Default: dense."),
  ),
  shapesOnly: Options.boolean("shapes-only").pipe(
    Options.withDescription(
      "An ONNX file with weights: report its shapes (statistical operands), not inference. Default: inference.",
    ),
  ),
  dataset: Options.text("dataset").pipe(
    Options.optional,
    Options.withDescription(
      `Inference and fine-tuning: ${DATASET_NAMES.filter((d) => d !== "moving-digits").join(", ")} ` +
        "or a directory of MNIST-style IDX files. Default: mnist-digits.",
    ),
  ),
  samples: integer("samples").pipe(
    Options.optional,
    Options.withDescription("Inference and fine-tuning: samples taken from the dataset. Default: 256."),
  ),
  sparsity: Options.text("sparsity").pipe(
    Options.optional,
    Options.withDescription(`Fine-tune: ${SPARSITY_HELP} Default: no fine-tuning.`),
  ),
  epochs: integer("epochs").pipe(
    Options.optional,
    Options.withDescription("Fine-tuning epochs over the samples. Default: 1."),
  ),
  learningRate: float("lr").pipe(
    Options.optional,
    Options.withDescription("Fine-tuning learning rate, SGD with momentum 0.9. Default: 0.01."),
  ),
  seed: integer("seed").pipe(
    Options.optional,
    Options.withDescription("Seed for statistical masks, the dataset split and initialization. Default: 1."),
  ),
  accelerator: Options.text("accelerator").pipe(
    Options.repeated,
    Options.withDescription(
      `An accelerator name or file; repeat for several. Default: one per family, ${REPORT_ACCELERATORS.join(", ")}.`,
    ),
  ),
  maxParameters: integer("max-parameters").pipe(
    Options.optional,
    Options.withDescription(
      "The most weights a --model may have, counted from its shapes before anything is allocated (a 10⁹-wide " +
        `layer is a typo, not a network). Default: ${MAX_PARAMETERS}.`,
    ),
  ),
  baseline: Options.text("baseline").pipe(
    Options.optional,
    Options.withDescription(
      "The accelerator speedups and energy ratios are taken against. Default: the first --accelerator.",
    ),
  ),
}

/** The spec's field names as the flags that set them, so an error names what the user typed. */
const FLAGS: Readonly<Record<string, string>> = {
  weightDensity: "--weight-density",
  shapesOnly: "--shapes-only",
  learningRate: "--lr",
  accelerators: "--accelerator",
  maxParameters: "--max-parameters",
}
const flagOf = (field: string): string => {
  const head = field.split(".")[0] ?? field
  return FLAGS[head] ?? `--${head}`
}

export const reportCommand = Command.make("report", options, (o) => {
  const step = Option.map(o.step, (s) => (/^\d+$/.test(s) ? Number(s) : s))
  const spec = {
    trace: Option.getOrUndefined(o.trace),
    model: Option.getOrUndefined(o.model),
    out: Option.getOrUndefined(o.out),
    step: Option.getOrUndefined(step),
    batch: Option.getOrUndefined(o.batch),
    density: Option.getOrUndefined(o.density),
    weightDensity: Option.getOrUndefined(o.weightDensity),
    nm: Option.getOrUndefined(o.nm),
    shapesOnly: o.shapesOnly ? true : undefined,
    dataset: Option.getOrUndefined(o.dataset),
    samples: Option.getOrUndefined(o.samples),
    sparsity: Option.getOrUndefined(o.sparsity),
    epochs: Option.getOrUndefined(o.epochs),
    learningRate: Option.getOrUndefined(o.learningRate),
    seed: Option.getOrUndefined(o.seed),
    accelerators: o.accelerator.length === 0 ? undefined : o.accelerator,
    baseline: Option.getOrUndefined(o.baseline),
    maxParameters: Option.getOrUndefined(o.maxParameters),
  }
  // Fields left out are absent, not undefined: the spec is decoded with exact optional fields.
  const given = Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== undefined))
  return modelReport(given, { source: "command line" }).pipe(
    Effect.mapError((e) =>
      e instanceof ConfigError && e.file === "command line"
        ? new ConfigError({ file: e.file, path: flagOf(e.path), expected: e.expected })
        : e,
    ),
    Effect.asVoid,
  )
}).pipe(
  Command.withDescription(
    "One HTML report on a network for every accelerator family: a trace (Arrow or the PyTorch recorder's .npz) or a " +
      "model (shapes, an ONNX checkpoint's inference, or a fine-tuning run), every layer and pass simulated, with " +
      "the step's totals, speedups and energy ratios against a dense baseline.",
  ),
)
