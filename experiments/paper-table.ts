/**
 * Fidelity: Spade's simulators against the figures their papers publish, each with Spade's value
 * and the error, misses reported as misses. Writes reports/paper-table.html.
 *
 *   npx tsx experiments/paper-table.ts [--jobs N]
 *
 * A script rather than a declarative spec: it compares several accelerators on layer lists taken
 * from the papers, with statistical operands at the papers' densities, and on the engine's own
 * traces: short real training runs on Fashion-MNIST (BDWP 2:8 for SAT, dense conv nets' ReLU masks
 * for Cnvlutin), cached by content hash like every experiment's runs, so only a fresh cache trains.
 * `--jobs N` trains uncached runs in N worker processes (default: two, or one on a single core).
 */
import { Effect, Either } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { loadConfig, projectRoot } from "../src/config/index.ts"
import {
  ENGINE_VERSION,
  loadDataset,
  loadModel,
  parseSparsity,
  train,
  type LrSchedule,
  type ModelConfig,
  type TrainResult,
} from "../src/engine/index.ts"
import {
  cacheEntry,
  copyAtomically,
  defineScript,
  progress,
  runExperiment,
  runScriptWhenMain,
  say,
} from "../src/experiment/index.ts"
import { Accelerator } from "../src/hardware/index.ts"
import { barChart, lineChart, renderReport, writeReport, type Row } from "../src/report/index.ts"
import {
  clearMachineCaches,
  layerFromTrace,
  setExactElements,
  layerShapesOf,
  statisticalLayer,
  trainingStepLayers,
  workloadFromConv,
  workloadFromGemm,
  workloadFromTraceRecord,
  type Layer,
  type SimResult,
  type TrainingMethod,
} from "../src/machine/index.ts"
import { iterationSummary, simulate } from "../src/sim/index.ts"
import {
  encodeTrace,
  observe,
  readTrace,
  TRACE_SCHEMA_VERSION,
  type ConvDims,
  type TraceMeta,
  type TraceRecord,
} from "../src/trace/index.ts"
import defaultSpec from "./default.ts"

const SEED = 1
/** Workers re-run this file, whether it was started with tsx or through `spade run`. */
const SELF = fileURLToPath(import.meta.url)
const load = (name: string) => loadConfig("accelerators", Accelerator)(name)
const sum = (xs: ReadonlyArray<number>): number => xs.reduce((a, b) => a + b, 0)
const mean = (xs: ReadonlyArray<number>): number => sum(xs) / Math.max(1, xs.length)
const fromEither = <A, E>(e: Either.Either<A, E>): Effect.Effect<A, E> =>
  Either.match(e, { onLeft: Effect.fail, onRight: Effect.succeed })

/**
 * One published figure beside Spade's. Spade is held to `target`: the published figure itself, or,
 * where the published figure cannot be reached at the densities its source reports, the ideal those
 * densities allow (stated beside it, so the gap to the paper stays visible). A `formula` row holds
 * Spade to a closed-form expectation, not to a measurement: a sanity check, never a validation.
 * Every row states what it assumed: the workload, the baseline the speedup is over, and how the
 * figure averages.
 */
interface Figure extends Row {
  readonly figure: string
  readonly kind: "published" | "formula"
  readonly published: number
  readonly target: number
  readonly targetIs: string
  readonly spade: number
  readonly errorPercent: number
  readonly tolerancePercent: number
  readonly verdict: string
  readonly source: string
  readonly workload: string
  readonly operands: string
  readonly baseline: string
  readonly averaging: string
}

interface FigureSpec {
  readonly name: string
  readonly kind?: Figure["kind"]
  readonly published: number
  readonly spade: number
  readonly tolerancePercent: number
  readonly source: string
  readonly workload: string
  readonly operands: string
  readonly baseline: string
  readonly averaging: string
  readonly ideal?: { readonly value: number; readonly what: string }
}

const figure = (f: FigureSpec): Figure => {
  const target = f.ideal?.value ?? f.published
  const errorPercent = ((f.spade - target) / target) * 100
  return {
    figure: f.name,
    kind: f.kind ?? "published",
    published: f.published,
    target,
    targetIs: f.ideal?.what ?? (f.kind === "formula" ? "the formula" : "the published figure"),
    spade: f.spade,
    errorPercent,
    tolerancePercent: f.tolerancePercent,
    verdict: Math.abs(errorPercent) <= f.tolerancePercent ? "within" : "MISS",
    source: f.source,
    workload: f.workload,
    operands: f.operands,
    baseline: f.baseline,
    averaging: f.averaging,
  }
}

// ------------------------------------------------------------------ the engine's traces

/** A short real training run whose traces figures replay. */
export interface TracedRun {
  readonly model: string
  readonly dataset: string
  readonly method: string
  readonly training: {
    readonly epochs: number
    readonly batchSize: number
    readonly learningRate: number
    readonly momentum: number
    readonly weightDecay: number
    readonly optimizer: "sgd" | "adam"
    readonly lrSchedule: LrSchedule
    readonly seed: number
    /** Trace every k-th step (global step index from 0). */
    readonly traceEverySteps: number
  }
}

/**
 * One epoch of Fashion-MNIST (60,000 training images, 938 steps at batch 64) with every 100th step
 * traced (steps 0, 100, ..., 900): short, but real training, with the SGD settings the
 * engine-accuracy experiment trains LeNet-5 with (momentum 0.9, weight decay 5e-4, cosine schedule).
 */
export const TRACED_TRAINING: TracedRun["training"] = {
  epochs: 1,
  batchSize: 64,
  learningRate: 0.05,
  momentum: 0.9,
  weightDecay: 5e-4,
  optimizer: "sgd",
  lrSchedule: { kind: "cosine" },
  seed: SEED,
  traceEverySteps: 100,
}

const fashion = (model: string, method: string): TracedRun => ({
  model,
  dataset: "fashion-mnist",
  method,
  training: TRACED_TRAINING,
})

/** BDWP 2:8 (Fang et al.'s SAT) on the two models the engine trains for it. */
export const SAT_TRACED = [fashion("mlp-784-300-100-10", "nm:2:8:bdwp"), fashion("lenet5", "nm:2:8:bdwp")] as const
/** Dense conv nets whose ReLU masks Cnvlutin's skipping sees. LeNet-5's dense run is also SAT's dense-trace check. */
export const CNVLUTIN_TRACED = [fashion("lenet5", "dense"), fashion("convnet-28", "dense")] as const
/** Every run, longest first (a LeNet-5 epoch ≈ 80 s, convnet-28 ≈ 160 s on one core), so workers finish together. */
const TRACED_RUNS: ReadonlyArray<TracedRun> = [CNVLUTIN_TRACED[1], SAT_TRACED[1], CNVLUTIN_TRACED[0], SAT_TRACED[0]]

export const runLabel = (r: TracedRun): string => `${r.model} ${r.method}`

export interface TracedResult {
  readonly run: TracedRun
  readonly result: TrainResult
  readonly records: ReadonlyArray<TraceRecord>
  readonly traceFile: string
  /** Whether the run came from the cache rather than training now. */
  readonly cached: boolean
}

/**
 * A run's entry in the experiments' content-addressed cache (`cacheEntry`, namespace "train", as
 * `runExperiment` stores its runs): keyed by everything that determines the trained network and its
 * trace, and nothing else, so an edit to a model file or the engine retrains and nothing else does.
 */
const tracedEntry = (run: TracedRun, model: ModelConfig) =>
  cacheEntry("train", {
    engine: ENGINE_VERSION,
    trace: TRACE_SCHEMA_VERSION,
    model,
    dataset: run.dataset,
    method: run.method,
    training: run.training,
  })

export const isTracedRunCached = (run: TracedRun) =>
  Effect.map(loadModel(run.model), (model) => {
    const entry = tracedEntry(run, model)
    return entry.has("result.json") && entry.has("trace.arrow")
  })

/**
 * Train a run with the engine and trace it, or reuse the finished run from the cache; then read the
 * trace back from its file (the trace is the contract the simulators replay, not what memory held).
 * With `traceDir`, the trace is also copied there for inspection.
 */
export const trainTraced = (run: TracedRun, options: { readonly traceDir?: string } = {}) =>
  Effect.gen(function* () {
    const model = yield* loadModel(run.model)
    const entry = tracedEntry(run, model)
    const cached = entry.has("result.json") && entry.has("trace.arrow")
    if (cached) say(`${runLabel(run)}: reusing the finished run in ${path.relative(process.cwd(), entry.dir)}`)
    else {
      const data = yield* fromEither(loadDataset(run.dataset, { seed: run.training.seed }))
      const sparsity = yield* fromEither(parseSparsity(run.method))
      const records: TraceRecord[] = []
      const bar = progress(`train ${runLabel(run)}`.padEnd(36), run.training.epochs)
      const result = train({
        model,
        data,
        sparsity,
        ...run.training,
        onObservation: (o) => records.push(observe(o)),
        onProgress: (p) =>
          bar.update(p.epoch + ((p.step % p.stepsPerEpoch) + 1) / p.stepsPerEpoch, `loss ${p.trainLoss.toFixed(3)}`),
      })
      bar.finish(
        `test accuracy ${(result.testAccuracy * 100).toFixed(2)}%, ${result.samplesPerSecond.toFixed(0)} samples/s`,
      )
      const meta: TraceMeta = {
        schemaVersion: TRACE_SCHEMA_VERSION,
        model: model.name,
        dataset: run.dataset,
        method: run.method,
        methodParams: { spec: run.method },
        seed: run.training.seed,
        engineVersion: ENGINE_VERSION,
      }
      entry.write("trace.arrow", encodeTrace(meta, records))
      entry.write("result.json", JSON.stringify(result))
    }
    const result = JSON.parse(fs.readFileSync(entry.path("result.json"), "utf8")) as TrainResult
    let traceFile = entry.path("trace.arrow")
    if (options.traceDir !== undefined) {
      fs.mkdirSync(options.traceDir, { recursive: true })
      const copy = path.join(options.traceDir, `${run.model}-${run.method.replaceAll(":", "-")}.arrow`)
      copyAtomically(traceFile, copy)
      traceFile = copy
    }
    const { records } = yield* readTrace(traceFile)
    return { run, result, records, traceFile, cached } satisfies TracedResult
  })

/**
 * Train the uncached runs in up to `jobs` worker processes (this file with `--train-run i`), each
 * writing its run into the cache; the caller then reads every run back with `trainTraced`. A worker
 * that fails only costs time: its run is trained in this process afterwards. Workers write progress
 * through a pipe, so each prints whole lines at every tenth instead of redrawing one terminal line.
 */
const trainInWorkers = (jobs: number) =>
  Effect.gen(function* () {
    const todo: number[] = []
    for (const [i, run] of TRACED_RUNS.entries()) if (!(yield* isTracedRunCached(run))) todo.push(i)
    if (todo.length === 0 || jobs <= 1) return
    say(`training ${todo.length} traced run(s) in ${Math.min(jobs, todo.length)} worker processes`)
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < todo.length) {
        const i = todo[next++]!
        await new Promise<void>((resolve) => {
          const child = spawn(process.execPath, ["--import", "tsx", SELF, "--train-run", String(i)], {
            cwd: projectRoot,
            stdio: ["ignore", "inherit", "pipe"],
          })
          child.stderr.pipe(process.stderr, { end: false })
          child.on("error", () => resolve())
          child.on("exit", (code) => {
            if (code !== 0) say(`worker for ${runLabel(TRACED_RUNS[i]!)} exited with ${code}; it trains here instead`)
            resolve()
          })
        })
      }
    }
    yield* Effect.promise(() => Promise.all(Array.from({ length: Math.min(jobs, todo.length) }, worker)))
  })

/** A traced (layer, pass) as the same GEMM with dense operands: what a dense run of it costs. */
const denseTwin = (r: TraceRecord): Layer =>
  statisticalLayer(workloadFromTraceRecord(r), { kind: "dense" }, { kind: "dense" }, SEED)

/** Records grouped by traced step, in step order. */
const stepsOf = (records: ReadonlyArray<TraceRecord>): ReadonlyArray<[number, ReadonlyArray<TraceRecord>]> => {
  const by = new Map<number, TraceRecord[]>()
  for (const r of records) by.set(r.step, [...(by.get(r.step) ?? []), r])
  return [...by.entries()].sort(([a], [b]) => a - b)
}

export interface TracedIteration {
  readonly step: number
  readonly sparse: ReadonlyArray<SimResult>
  readonly dense: ReadonlyArray<SimResult>
  readonly sparseCycles: number
  readonly denseCycles: number
  readonly exposedMaskGenCycles: number
  readonly speedup: number
  readonly macSpeedup: number
}

/**
 * Training-iteration speedup from a trace: every traced (layer, pass) of each traced step replayed
 * on `acc` with the trace's real masks (and N:M metadata), beside the same GEMMs with dense
 * operands; each step is summed as one iteration with `iterationSummary` (mask generation counted
 * where the weight-gradient pass cannot hide it). `pooled` is the dense cycles of all traced steps
 * over their sparse cycles: the time those iterations take, so no step counts more than its cycles.
 */
export const tracedIterationSpeedup = (
  acc: Accelerator,
  records: ReadonlyArray<TraceRecord>,
): { readonly steps: ReadonlyArray<TracedIteration>; readonly pooled: number } => {
  const steps = stepsOf(records).map(([step, rs]): TracedIteration => {
    const sparse = rs.map((r) => simulate(acc, layerFromTrace(r)))
    const dense = rs.map((r) => simulate(acc, denseTwin(r)))
    const s = iterationSummary(sparse)
    const d = iterationSummary(dense)
    return {
      step,
      sparse,
      dense,
      sparseCycles: s.cycles,
      denseCycles: d.cycles,
      exposedMaskGenCycles: s.exposedMaskGenCycles,
      speedup: d.cycles / s.cycles,
      macSpeedup: d.macs / s.macs,
    }
  })
  return { steps, pooled: sum(steps.map((s) => s.denseCycles)) / sum(steps.map((s) => s.sparseCycles)) }
}

/** The accelerator with another activation-port width (an N:M training array; others unchanged). */
export const withActivationPort = (acc: Accelerator, wordsPerCycle: number): Accelerator =>
  acc.family === "nm-training"
    ? {
        ...acc,
        name: `${acc.name}-port${wordsPerCycle}`,
        nmTraining: { ...acc.nmTraining, activationPortWordsPerCycle: wordsPerCycle },
      }
    : acc

export interface TracedConvForward {
  readonly step: number
  readonly layer: string
  readonly aDensity: number
  readonly denseCycles: number
  readonly realCycles: number
  readonly uniformCycles: number
  /** Dense MACs and MACs with a nonzero activation: their ratio is the ideal skipping speedup. */
  readonly denseMacs: number
  readonly effectualMacs: number
  readonly mechanism: string
  readonly boundBy: string
}

/**
 * Activation skipping from the engine's real masks: the forward pass of every traced conv layer,
 * its ifmap operand holding the ReLU zeros (and the image's zeros and padding for the first conv)
 * exactly as traced, beside the same GEMM with dense operands and with uniform random ifmap masks of
 * the traced density. `pooled` is dense over real cycles summed over every traced step and conv layer.
 */
export const tracedConvForwardSpeedup = (
  acc: Accelerator,
  records: ReadonlyArray<TraceRecord>,
): { readonly rows: ReadonlyArray<TracedConvForward>; readonly pooled: number } => {
  const rows = records
    .filter((r) => r.pass === "forward" && r.conv !== null)
    .map((r): TracedConvForward => {
      const real = simulate(acc, layerFromTrace(r)).row
      const uniform = simulate(
        acc,
        statisticalLayer(
          workloadFromTraceRecord(r),
          r.a.density >= 1 ? { kind: "dense" } : { kind: "uniform", density: r.a.density },
          { kind: "dense" },
          SEED,
        ),
      ).row
      return {
        step: r.step,
        layer: r.layer,
        aDensity: r.a.density,
        denseCycles: simulate(acc, denseTwin(r)).row.cycles,
        realCycles: real.cycles,
        uniformCycles: uniform.cycles,
        denseMacs: real.denseMacs,
        effectualMacs: real.effectualMacs,
        mechanism: real.mechanism,
        boundBy: real.boundBy ?? "",
      }
    })
  return { rows, pooled: sum(rows.map((r) => r.denseCycles)) / sum(rows.map((r) => r.realCycles)) }
}

// ------------------------------------------------------------------ SAT / BDWP

const BATCH = 64
/** The models the engine trains (models/), batch 64 as the default experiment trains them. */
const SAT_MODELS = ["mlp-784-300-100-10", "lenet5"] as const
/** Activation-port widths (words/cycle) for the sensitivity chart; the file's is 128. */
const PORT_WIDTHS = [16, 32, 48, 64, 96, 128] as const

// ------------------------------------------------------------------ delta networks

/**
 * What the delta-network accelerator papers publish, as far as the stored copies reachable offline
 * show (searched 2026-12-01: abstracts of all four; no full text of DeltaRNN, EdgeDRNN or the Delta
 * Networks paper was reachable, so their tables and figures are not used). Only a figure stated AT
 * a temporal sparsity Γ can be compared; the others are listed in the report, unused.
 *
 * Used: "Exploiting Symmetric Temporally Sparse BPTT for Efficient RNN Training" (arXiv 2312.09391;
 * the authors' RENETA repository, SensorsINI/RENETA, names it as published at the NeurIPS 2023
 * workshop MLNCP and at AAAI 2024), abstract: "Logic simulations of a hardware accelerator designed
 * for the training algorithm show 2-10X speedup in matrix computations for an activation sparsity
 * range of 50%-90%." Read here as its endpoints, 2x at Γ = 0.5 and 10x at Γ = 0.9 (the sentence
 * pairs the ranges; it does not tabulate them). These are RTL logic simulations, not FPGA
 * measurements. Their workload, from the performance-estimation script in that repository
 * (DTv1_perf_estm/gen_rnd_data_rnn.py, commit 1a957c93): one 256-input, 256-neuron layer (`Nh =
 * [256, 256]`), 256 time steps (`Nt = [256] * Ns`), batch 1, Δx nonzeros placed uniformly at random
 * at sparsity `Sp_x = [0.5, 0.8, 0.9]`, on 16 PEs (`NUM_PE = 16`).
 */
const RENETA = {
  source:
    '"Exploiting Symmetric Temporally Sparse BPTT for Efficient RNN Training", AAAI 2024 (arXiv 2312.09391), abstract: "Logic simulations of a hardware accelerator designed for the training algorithm show 2-10X speedup in matrix computations for an activation sparsity range of 50%-90%."',
  points: [
    { gamma: 0.5, speedup: 2 },
    { gamma: 0.9, speedup: 10 },
  ],
  /** Timesteps × inputs → neurons, from DTv1_perf_estm/gen_rnd_data_rnn.py. */
  gemm: { m: 256, n: 256, k: 256 },
} as const

/** Every delta-network source searched, with the sentence relied on, and whether it could be used. */
const DELTA_SOURCES: ReadonlyArray<Row> = [
  {
    source: "RENETA: Exploiting Symmetric Temporally Sparse BPTT for Efficient RNN Training",
    venue: "AAAI 2024 (arXiv 2312.09391); abstract",
    quoted:
      "Logic simulations of a hardware accelerator designed for the training algorithm show 2-10X speedup in matrix computations for an activation sparsity range of 50%-90%.",
    gammaStated: "yes: 50%-90% (read as its endpoints)",
    used: "yes: 2x at Γ = 0.5, 10x at Γ = 0.9 (logic simulation, not an FPGA measurement)",
  },
  {
    source: "DeltaRNN: A Power-efficient Recurrent Neural Network Accelerator (Gao, Neil, Ceolini, Liu, Delbruck)",
    venue: "FPGA 2018; abstract",
    quoted:
      "FPGA measurement results from a single-layer RNN of 256 Gated Recurrent Unit (GRU) neurons show that the DRNN achieves 1.2 TOp/s effective throughput and 164 GOp/s/W power efficiency. The delta update leads to a 5.7x speedup compared to a conventional RNN update because of the sparsity created by the DN algorithm and the zero-skipping ability of DRNN.",
    gammaStated: "no: the Γ of the 5.7x is in the paper's evaluation, which no stored copy reachable offline holds",
    used: "no: without its Γ the 5.7x cannot be modelled at the same sparsity",
  },
  {
    source:
      "EdgeDRNN: Recurrent Neural Network Accelerator for Edge Inference (Gao, Rios-Navarro, Chen, Liu, Delbruck)",
    venue: "IEEE JETCAS 10(4), 2020 (arXiv 2012.13600); abstract",
    quoted:
      "The sparse updates reduce DRAM weight memory access by a factor of up to 10x and the delta can be varied dynamically to trade-off between latency and accuracy. [...] For a batch size of 1, EdgeDRNN achieves a mean effective throughput of 20.2 GOp/s",
    gammaStated: "no: neither the Γ nor the peak (dense) throughput is in the text found offline",
    used: "no: an access reduction 'up to' a bound, and a throughput without its dense counterpart",
  },
  {
    source: "Delta Networks for Optimized Recurrent Network Computation (Neil, Lee, Delbruck, Liu)",
    venue: "ICML 2017, PMLR 70:2584-2593; abstract",
    quoted:
      "With these optimizations, we demonstrate a 9X reduction in cost with negligible loss of accuracy for the TIDIGITS audio digit recognition benchmark.",
    gammaStated: "no",
    used: "no: a reduction in operation count (no hardware), at a Γ not stated in the abstract",
  },
]

// ------------------------------------------------------------------ Cnvlutin / SparTen

/** A conv layer of a pruned network: shape, groups, and the densities its source reports. */
interface PrunedConv {
  readonly name: string
  readonly h: number
  readonly c: number
  readonly k: number
  readonly r: number
  readonly stride: number
  readonly padding: number
  /** Grouped conv: `groups` independent convs of c/groups channels and k/groups filters. */
  readonly groups: number
  /** Fraction of this layer's weights left after pruning (Han et al., "Weights%"). */
  readonly weightDensity: number
  /** Nonzero fraction of this layer's input: the previous layer's "Act%" (1 for the image). */
  readonly inputDensity: number
  /** The source's "FLOP%": the fraction of this layer's MACs that remain (a consistency check). */
  readonly flopPercent: number
}

/**
 * AlexNet as Caffe's bvlc_alexnet (the model Han et al. pruned): conv2, conv4 and conv5 are split
 * into two groups, as Krizhevsky et al. 2012 ran them on two GPUs (Han et al.'s per-layer FLOP
 * counts, e.g. 448M for conv2, are the grouped ones). Batch 1, 227x227 input.
 *
 * Densities: Han, Pool, Tran, Dally, "Learning both Weights and Connections for Efficient Neural
 * Networks" (NeurIPS 2015), Table 4 (pruned AlexNet, per layer: Weights%, Act%, FLOP%). The input
 * density of a layer is the previous layer's Act% (conv1 reads the image). Every value below was
 * checked on 2026-11-29 against a stored full-text copy of the paper (Tables 4 and 5; its Act% is a
 * layer's output density, so a layer's input density is the row above's). Check: for every conv
 * layer the table's FLOP% equals Weights% × the previous Act% (e.g. conv3: 35% × 52% = 18%), which
 * the script verifies to rounding at run time. Like Han et al.'s FLOP%, this ignores max-pooling,
 * which makes the inputs of AlexNet conv2/conv3 and VGG conv2_1, 3_1, 4_1, 5_1 somewhat denser.
 */
const alexnet: ReadonlyArray<PrunedConv> = [
  {
    name: "conv1",
    h: 227,
    c: 3,
    k: 96,
    r: 11,
    stride: 4,
    padding: 0,
    groups: 1,
    weightDensity: 0.84,
    inputDensity: 1,
    flopPercent: 84,
  },
  {
    name: "conv2",
    h: 27,
    c: 96,
    k: 256,
    r: 5,
    stride: 1,
    padding: 2,
    groups: 2,
    weightDensity: 0.38,
    inputDensity: 0.88,
    flopPercent: 33,
  },
  {
    name: "conv3",
    h: 13,
    c: 256,
    k: 384,
    r: 3,
    stride: 1,
    padding: 1,
    groups: 1,
    weightDensity: 0.35,
    inputDensity: 0.52,
    flopPercent: 18,
  },
  {
    name: "conv4",
    h: 13,
    c: 384,
    k: 384,
    r: 3,
    stride: 1,
    padding: 1,
    groups: 2,
    weightDensity: 0.37,
    inputDensity: 0.37,
    flopPercent: 14,
  },
  {
    name: "conv5",
    h: 13,
    c: 384,
    k: 256,
    r: 3,
    stride: 1,
    padding: 1,
    groups: 2,
    weightDensity: 0.37,
    inputDensity: 0.4,
    flopPercent: 14,
  },
]

/**
 * VGG-16's 13 conv layers (Simonyan & Zisserman 2015, configuration D), 3x3, stride 1, padding 1,
 * 224x224 input, batch 1. Densities: Han et al. (NeurIPS 2015), Table 5 (pruned VGG-16), read as for
 * AlexNet above, with the same FLOP% check (e.g. conv4_2: 27% × 51% = 14%).
 */
const vgg16: ReadonlyArray<PrunedConv> = (
  [
    ["conv1_1", 224, 3, 64, 0.58, 1, 58],
    ["conv1_2", 224, 64, 64, 0.22, 0.53, 12],
    ["conv2_1", 112, 64, 128, 0.34, 0.89, 30],
    ["conv2_2", 112, 128, 128, 0.36, 0.8, 29],
    ["conv3_1", 56, 128, 256, 0.53, 0.81, 43],
    ["conv3_2", 56, 256, 256, 0.24, 0.68, 16],
    ["conv3_3", 56, 256, 256, 0.42, 0.7, 29],
    ["conv4_1", 28, 256, 512, 0.32, 0.64, 21],
    ["conv4_2", 28, 512, 512, 0.27, 0.51, 14],
    ["conv4_3", 28, 512, 512, 0.34, 0.45, 15],
    ["conv5_1", 14, 512, 512, 0.35, 0.34, 12],
    ["conv5_2", 14, 512, 512, 0.29, 0.32, 9],
    ["conv5_3", 14, 512, 512, 0.36, 0.29, 11],
  ] as const
).map(([name, h, c, k, weightDensity, inputDensity, flopPercent]) => ({
  name,
  h,
  c,
  k,
  r: 3,
  stride: 1,
  padding: 1,
  groups: 1,
  weightDensity,
  inputDensity,
  flopPercent,
}))

const NETWORKS = [
  { network: "alexnet", layers: alexnet },
  { network: "vgg16", layers: vgg16 },
] as const

/** Transcription check: FLOP% = Weights% × input Act%, to the table's whole-percent rounding. */
for (const { network, layers } of NETWORKS)
  for (const l of layers) {
    const implied = l.weightDensity * l.inputDensity * 100
    if (Math.abs(implied - l.flopPercent) > 1.01)
      throw new RangeError(
        `${network} ${l.name}: Weights% × Act% = ${implied.toFixed(1)}%, table FLOP% ${l.flopPercent}%`,
      )
  }

/**
 * Cnvlutin's activations: Albericio et al. (ISCA 2016) report that on average 44% of conv-layer
 * input activations are zero across its networks, so 0.56 (conv1 reads the dense image); the
 * per-network values of its Figure 1 are not transcribed here.
 */
const CNVLUTIN_ACTIVATION_DENSITY = 0.56

/** One group of a (possibly grouped) conv with statistical operands. */
const convLayer = (l: PrunedConv, a: number, w: number): Layer => {
  const c: ConvDims = {
    batch: 1,
    ifmapHeight: l.h,
    ifmapWidth: l.h,
    filterHeight: l.r,
    filterWidth: l.r,
    channels: l.c / l.groups,
    numFilters: l.k / l.groups,
    stride: l.stride,
    padding: l.padding,
  }
  return statisticalLayer(
    workloadFromConv(l.name, c, "forward"),
    a >= 1 ? { kind: "dense" } : { kind: "uniform", density: a },
    w >= 1 ? { kind: "dense" } : { kind: "uniform", density: w },
    SEED,
  )
}
const geomean = (xs: ReadonlyArray<number>): number => Math.exp(mean(xs.map(Math.log)))

/**
 * A skipping study: each layer of a pruned network with statistical operands at its densities and
 * dense, on one accelerator; per layer the cycles, MACs and the report's detail row.
 */
export const skipStudy = (
  acc: Accelerator,
  network: string,
  layers: ReadonlyArray<PrunedConv>,
  aOf: (l: PrunedConv) => number,
  wOf: (l: PrunedConv) => number,
) => {
  const detail: Row[] = []
  const rows = layers.map((l) => {
    const s = simulate(acc, convLayer(l, aOf(l), wOf(l))).row
    const d = simulate(acc, convLayer(l, 1, 1)).row
    detail.push({
      study: acc.name,
      model: network,
      layer: s.layer,
      pass: s.pass,
      groups: l.groups,
      mechanism: s.mechanism,
      aDensity: s.aDensity,
      bDensity: s.bDensity,
      denseCycles: d.cycles * l.groups,
      cycles: s.cycles * l.groups,
      macs: s.macs * l.groups,
      denseMacs: s.denseMacs * l.groups,
      boundBy: s.boundBy,
      speedup: d.cycles / s.cycles,
      idealSpeedup: s.denseMacs / Math.max(1, s.macs),
    })
    return {
      dense: d.cycles * l.groups,
      sparse: s.cycles * l.groups,
      macs: s.macs * l.groups,
      denseMacs: s.denseMacs * l.groups,
      speedup: d.cycles / s.cycles,
    }
  })
  return { rows, detail }
}

/** SparTen on pruned AlexNet and VGG-16 at Han et al.'s densities: per network, cycles and the ideal. */
export const sparTenNetworks = (
  acc: Accelerator,
  skip: (
    network: string,
    layers: ReadonlyArray<PrunedConv>,
  ) => ReadonlyArray<{ dense: number; sparse: number; macs: number; denseMacs: number; speedup: number }> = (
    network,
    layers,
  ) =>
    skipStudy(
      acc,
      network,
      layers,
      (l) => l.inputDensity,
      (l) => l.weightDensity,
    ).rows,
) =>
  NETWORKS.map(({ network, layers }) => {
    const rows = skip(network, layers)
    return {
      network,
      denseCycles: sum(rows.map((r) => r.dense)),
      sparseCycles: sum(rows.map((r) => r.sparse)),
      speedup: sum(rows.map((r) => r.dense)) / sum(rows.map((r) => r.sparse)),
      // Dense MACs over effectual MACs: what perfect skipping with no idle unit would give.
      idealSpeedup: sum(rows.map((r) => r.denseMacs)) / sum(rows.map((r) => r.macs)),
      meanOfLayerSpeedups: mean(rows.map((r) => r.speedup)),
      logSumOfLayerSpeedups: sum(rows.map((r) => Math.log(r.speedup))),
      layers: rows.length,
    }
  })

// ------------------------------------------------------------------ the experiment

/**
 * Uniform random events at density 1−Γ through a delta core, beside the same layer with every input
 * an event (Γ = 0): speedup, the formula 1/(1−Γ), and whether the point is bound by synaptic work or
 * by the neuron-state traffic every step pays regardless.
 */
const deltaSweep = (
  acc: Accelerator,
  gemm: { readonly m: number; readonly n: number; readonly k: number },
  gammas: ReadonlyArray<number>,
): Row[] => {
  const nc = acc.family === "neuromorphic" ? acc.neuromorphic : null
  const run = (gamma: number) =>
    simulate(
      acc,
      statisticalLayer(
        workloadFromGemm("fc1", gemm),
        gamma === 0 ? { kind: "dense" } : { kind: "uniform", density: 1 - gamma },
        { kind: "dense" },
        SEED,
      ),
    ).row
  const base = run(0).cycles
  return gammas.map((gamma) => {
    const r = run(gamma)
    const synCyclesPerStep = r.synops / gemm.m / (nc?.synopsPerCyclePerCore ?? 1)
    const stateCyclesPerStep = (2 * gemm.n) / (nc?.stateWordsPerCyclePerCore ?? 1)
    const speedup = base / r.cycles
    const ideal = 1 / (1 - gamma)
    return {
      layer: `${gemm.k}→${gemm.n}, ${gemm.m} steps`,
      gamma,
      eventDensity: 1 - gamma,
      speedup,
      ideal,
      errorPercent: ((speedup - ideal) / ideal) * 100,
      bound: synCyclesPerStep >= 2 * stateCyclesPerStep ? "synaptic ops" : "state bandwidth",
      energyPj: r.energyPj,
    }
  })
}

/** Computes every figure, writes reports/paper-table.html, and returns the figures (validation reuses them). */
const paperTableRun = (args: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const arg = (name: string): string | undefined => {
      const i = args.indexOf(name)
      return i >= 0 ? args[i + 1] : undefined
    }
    // A worker: train one run into the cache and stop.
    const worker = arg("--train-run")
    if (worker !== undefined) {
      const run = TRACED_RUNS[Number(worker)]
      if (run === undefined) throw new RangeError(`--train-run: no traced run ${worker}`)
      yield* trainTraced(run)
      return []
    }
    const started = performance.now()
    const jobs = Math.max(1, Math.floor(Number(arg("--jobs") ?? Math.min(2, os.cpus().length))) || 1)

    const [sat, cnv, spt, loihi] = yield* Effect.all([
      load("sat-like-2x8"),
      load("cnvlutin-like"),
      load("sparten-like"),
      load("loihi-like"),
    ])
    const figures: Figure[] = []
    const detail: Row[] = []

    // --- The engine's runs: trained now (in workers when there are several) or read from the cache.
    yield* trainInWorkers(jobs)
    const traceDir = path.join(projectRoot, "reports", "paper-table", "traces")
    const tracedRuns = yield* Effect.forEach(TRACED_RUNS, (run) => trainTraced(run, { traceDir }))
    const tracedOf = (run: TracedRun): TracedResult => tracedRuns.find((t) => t.run === run)!
    const trainingRows: Row[] = tracedRuns.map(({ run, result, records, cached }) => ({
      model: run.model,
      dataset: run.dataset,
      method: run.method,
      epochs: result.epochs,
      steps: result.steps,
      tracedSteps: new Set(records.map((r) => r.step)).size,
      traceEverySteps: run.training.traceEverySteps,
      testAccuracy: result.testAccuracy,
      hiddenActivationDensity: result.hiddenActivationDensity,
      trainingSeconds: result.seconds,
      fromCache: cached ? "yes" : "no (trained in this run)",
    }))

    // --- SAT BDWP 2:8 iteration speedup over dense training on the same array, statistical operands.
    const satPerModel: Row[] = []
    const satModels = yield* Effect.forEach(SAT_MODELS, (name) =>
      Effect.map(loadModel(name), (model) => ({ model: name, layers: layerShapesOf(model, BATCH) })),
    )
    for (const { model, layers } of satModels) {
      const run = (method: (sparse: boolean) => TrainingMethod): ReadonlyArray<SimResult> =>
        layers.flatMap(({ shape, sparse }) =>
          trainingStepLayers(shape, method(sparse), SEED).map((layer) => simulate(sat, layer)),
        )
      const dense = run(() => ({ kind: "dense" }))
      const bdwp = run((sparse) => (sparse ? { kind: "bdwp", n: 2, m: 8 } : { kind: "dense" }))
      const d = iterationSummary(dense)
      const s = iterationSummary(bdwp)
      for (const [i, r] of bdwp.entries())
        detail.push({
          study: "sat",
          model,
          layer: r.row.layer,
          pass: r.row.pass,
          mechanism: r.row.mechanism,
          denseCycles: dense[i]!.row.cycles,
          cycles: r.row.cycles,
          macs: r.row.macs,
          denseMacs: r.row.denseMacs,
          maskGenCycles: r.row.maskGenCycles,
          speedup: dense[i]!.row.cycles / r.row.cycles,
        })
      satPerModel.push({
        model,
        denseCycles: d.cycles,
        bdwpCycles: s.cycles,
        exposedMaskGenCycles: s.exposedMaskGenCycles,
        speedup: d.cycles / s.cycles,
        macSpeedup: d.macs / s.macs,
        idealEqualPasses: 3 / (1 + (2 * 2) / 8),
      })
    }
    // The paper's 1.75x is an average of per-model speedups, so each model counts once here too.
    const satSpeedup = mean(satPerModel.map((r) => r.speedup as number))
    const satPooled =
      sum(satPerModel.map((r) => r.denseCycles as number)) / sum(satPerModel.map((r) => r.bdwpCycles as number))
    const SAT_SOURCE =
      "Fang et al., SAT (Efficient N:M Sparse DNN Training Using Algorithm, Architecture, and Dataflow Co-Design): 1.75x BDWP 2:8 training-iteration speedup, as issue 13 cites it"
    figures.push(
      figure({
        name: "SAT: BDWP 2:8 training-iteration speedup vs dense (Fang et al.), statistical operands",
        published: 1.75,
        spade: satSpeedup,
        tolerancePercent: 10,
        source: SAT_SOURCE,
        workload: `one training iteration (forward, backward-data, backward-weight) of every layer of models/${SAT_MODELS.join(".json and models/")}.json at batch 64, on sat-like-2x8`,
        operands:
          "statistical: 2:8 masks on W (forward) and Wᵀ (backward-data) of the layers the model files mark sparse",
        baseline: "the same GEMMs with dense operands on the same array",
        averaging: `mean of the per-model speedups (pooled over both models' cycles: ${satPooled.toFixed(2)}x)`,
      }),
    )

    // --- SAT from the engine's own BDWP traces, beside the statistical figure.
    const satTraced = SAT_TRACED.map((run) => ({ run, traced: tracedOf(run) }))
    const satReplays = satTraced.map(({ run, traced }) => ({
      run,
      traced,
      replay: tracedIterationSpeedup(sat, traced.records),
    }))
    // LeNet-5's dense run, replayed on the same array: its iteration cost, a check on the dense twins.
    const lenetDense = tracedOf(CNVLUTIN_TRACED[0])
    const lenetDenseCycles = (() => {
      const steps = tracedIterationSpeedup(sat, lenetDense.records).steps
      return steps.at(-1)!.sparseCycles
    })()
    const satTracedPerModel: Row[] = satReplays.map(({ run, traced, replay }) => {
      const last = replay.steps.at(-1)!
      const statistical = satPerModel.find((r) => r.model === run.model)
      return {
        model: run.model,
        dataset: run.dataset,
        method: run.method,
        testAccuracy: traced.result.testAccuracy,
        tracedSteps: replay.steps.length,
        denseCycles: sum(replay.steps.map((s) => s.denseCycles)),
        bdwpCycles: sum(replay.steps.map((s) => s.sparseCycles)),
        exposedMaskGenCycles: sum(replay.steps.map((s) => s.exposedMaskGenCycles)),
        speedup: replay.pooled,
        lastStepSpeedup: last.speedup,
        minStepSpeedup: Math.min(...replay.steps.map((s) => s.speedup)),
        maxStepSpeedup: Math.max(...replay.steps.map((s) => s.speedup)),
        macSpeedup: last.macSpeedup,
        statisticalSpeedup: (statistical?.speedup as number | undefined) ?? null,
        denseMethodTraceCycles: run.model === lenetDense.run.model ? lenetDenseCycles : null,
        denseTwinCycles: last.denseCycles,
      }
    })
    for (const { run, replay } of satReplays) {
      const last = replay.steps.at(-1)!
      for (const [i, r] of last.sparse.entries())
        detail.push({
          study: "sat-traced",
          model: run.model,
          step: last.step,
          layer: r.row.layer,
          pass: r.row.pass,
          mechanism: r.row.mechanism,
          aDensity: r.row.aDensity,
          bDensity: r.row.bDensity,
          denseCycles: last.dense[i]!.row.cycles,
          cycles: r.row.cycles,
          macs: r.row.macs,
          denseMacs: r.row.denseMacs,
          maskGenCycles: r.row.maskGenCycles,
          speedup: last.dense[i]!.row.cycles / r.row.cycles,
        })
    }
    const satTracedSpeedup = mean(satReplays.map((r) => r.replay.pooled))
    const lenetTwinCycles = satTracedPerModel.find((r) => r.model === lenetDense.run.model)?.denseTwinCycles
    const tracedSteps = satReplays.map((r) => r.replay.steps.length)
    figures.push(
      figure({
        name: "SAT: BDWP 2:8 training-iteration speedup vs dense (Fang et al.), the engine's traces",
        published: 1.75,
        spade: satTracedSpeedup,
        tolerancePercent: 10,
        source: SAT_SOURCE,
        workload: `every traced (layer, pass) of ${satReplays.map((r) => `${r.run.model} (${r.replay.steps.length} traced steps)`).join(" and ")}, trained ${TRACED_TRAINING.epochs} epoch on Fashion-MNIST at batch ${TRACED_TRAINING.batchSize} with nm:2:8:bdwp, every ${TRACED_TRAINING.traceEverySteps}th step traced; on sat-like-2x8`,
        operands:
          "the traces' real masks and N:M metadata (W forward, Wᵀ backward-data, dense weight gradient), replayed with layerFromTrace",
        baseline: `the same traced GEMMs with dense operands on the same array (a check at the last traced step: LeNet-5's own dense-method trace costs ${lenetDenseCycles} cycles per iteration, the dense twins of its BDWP trace ${lenetTwinCycles})`,
        averaging: `each model's speedup pooled over its ${tracedSteps.join(" and ")} traced steps (total dense cycles over total BDWP cycles); the figure is the mean of the per-model speedups, as the paper's average`,
      }),
    )

    // --- Sensitivity: the SAT array's activation-port width, trace-based iteration speedup per model.
    const portRows: Row[] = []
    const portBar = progress("simulate ports".padEnd(36), PORT_WIDTHS.length * satReplays.length)
    for (const words of PORT_WIDTHS) {
      const acc = withActivationPort(sat, words)
      for (const { run, traced } of satReplays) {
        const r = tracedIterationSpeedup(acc, traced.records)
        portRows.push({
          model: run.model,
          activationPortWordsPerCycle: words,
          denseCycles: sum(r.steps.map((s) => s.denseCycles)),
          bdwpCycles: sum(r.steps.map((s) => s.sparseCycles)),
          speedup: r.pooled,
        })
        portBar.update(portRows.length)
      }
    }
    portBar.finish()

    // --- Cnvlutin one-sided on AlexNet; SparTen two-sided on pruned AlexNet and VGG-16.
    // A grouped conv runs its groups one after the other; they are statistically alike, so one group
    // is simulated and its cycles counted `groups` times.
    const skip = (
      acc: typeof cnv,
      network: string,
      layers: ReadonlyArray<PrunedConv>,
      aOf: (l: PrunedConv) => number,
      wOf: (l: PrunedConv) => number,
    ) => {
      const study = skipStudy(acc, network, layers, aOf, wOf)
      detail.push(...study.detail)
      return study.rows
    }
    const cnvRows = skip(
      cnv,
      "alexnet",
      alexnet,
      (l) => (l.inputDensity >= 1 ? 1 : CNVLUTIN_ACTIVATION_DENSITY),
      () => 1,
    )
    const CNVLUTIN_SOURCE =
      "Albericio et al., Cnvlutin (ISCA 2016): 1.37x average speedup over a dense DaDianNao-like baseline"
    figures.push(
      figure({
        name: "Cnvlutin: one-sided skipping speedup vs dense (Albericio et al.), uniform activations",
        published: 1.37,
        spade: sum(cnvRows.map((r) => r.dense)) / sum(cnvRows.map((r) => r.sparse)),
        tolerancePercent: 15,
        source: CNVLUTIN_SOURCE,
        workload:
          "AlexNet's five conv layers (grouped as in Caffe), batch 1, 227x227 input, forward (inference), on cnvlutin-like",
        operands:
          "uniform random activations at Cnvlutin's 44% average zeros (conv1 reads the dense image); dense weights",
        baseline: "the same layers with dense operands on the same datapath",
        averaging: "pooled over the layers: total dense cycles over total sparse cycles",
      }),
    )

    // --- Cnvlutin from the engine's real ReLU masks of the dense conv nets.
    const cnvTraced = CNVLUTIN_TRACED.map((run) => {
      const traced = tracedOf(run)
      const replay = tracedConvForwardSpeedup(cnv, traced.records)
      return { run, traced, replay }
    })
    const cnvTracedRows: Row[] = cnvTraced.flatMap(({ run, replay }) =>
      replay.rows.map((r) => ({ model: run.model, ...r, speedup: r.denseCycles / r.realCycles })),
    )
    const cnvTracedNets: Row[] = cnvTraced.map(({ run, traced, replay }) => {
      const steps = [...new Set(replay.rows.map((r) => r.step))]
      const lastStep = steps.at(-1)
      const last = replay.rows.filter((r) => r.step === lastStep)
      const hidden = replay.rows.filter((r) => r.layer !== replay.rows[0]!.layer)
      return {
        model: run.model,
        dataset: run.dataset,
        method: run.method,
        testAccuracy: traced.result.testAccuracy,
        tracedSteps: steps.length,
        convLayers: last.length,
        meanIfmapDensity: mean(replay.rows.map((r) => r.aDensity)),
        denseCycles: sum(replay.rows.map((r) => r.denseCycles)),
        realCycles: sum(replay.rows.map((r) => r.realCycles)),
        speedup: replay.pooled,
        uniformSpeedup: sum(replay.rows.map((r) => r.denseCycles)) / sum(replay.rows.map((r) => r.uniformCycles)),
        lastStepSpeedup: sum(last.map((r) => r.denseCycles)) / sum(last.map((r) => r.realCycles)),
        withoutFirstConvSpeedup: sum(hidden.map((r) => r.denseCycles)) / sum(hidden.map((r) => r.realCycles)),
        idealSpeedup: sum(replay.rows.map((r) => r.denseMacs)) / sum(replay.rows.map((r) => r.effectualMacs)),
      }
    })
    const cnvTracedSpeedup = mean(cnvTracedNets.map((r) => r.speedup as number))
    // Cnvlutin's 1.37x is a share of what its networks' 44% zeros allow (1/(1 − 0.44)); these small
    // networks hold more zeros, so the published figure is restated as that same share of their ideal.
    const CNVLUTIN_SHARE_OF_IDEAL = 1.37 * (1 - 0.44)
    const cnvTracedTarget = mean(cnvTracedNets.map((r) => CNVLUTIN_SHARE_OF_IDEAL * (r.idealSpeedup as number)))
    figures.push(
      figure({
        name: "Cnvlutin: one-sided skipping speedup vs dense (Albericio et al.), the engine's ReLU masks",
        published: 1.37,
        ideal: {
          value: cnvTracedTarget,
          what: `Cnvlutin's share of its ideal (1.37x of 1/(1−0.44) = ${(CNVLUTIN_SHARE_OF_IDEAL * 100).toFixed(0)}%) at the traces' own zeros`,
        },
        spade: cnvTracedSpeedup,
        tolerancePercent: 15,
        source: CNVLUTIN_SOURCE,
        workload: `the forward pass of every conv layer of ${CNVLUTIN_TRACED.map((r) => r.model).join(" and ")}, trained dense ${TRACED_TRAINING.epochs} epoch on Fashion-MNIST, at each traced step (batch ${TRACED_TRAINING.batchSize}); on cnvlutin-like`,
        operands:
          "the traced ifmap masks: ReLU (after max-pooling) zeros, and for the first conv the image's zero pixels and the padding; dense weights",
        baseline: "the same traced GEMMs with dense operands on the same datapath",
        averaging:
          "each network pooled over its conv layers and traced steps (total dense cycles over total sparse cycles); the figure is the mean of the two networks",
      }),
    )

    // --- SparTen.
    const sptNets = sparTenNetworks(spt, (network, layers) =>
      skip(
        spt,
        network,
        layers,
        (l) => l.inputDensity,
        (l) => l.weightDensity,
      ),
    )
    const sptSpeedup = geomean(sptNets.map((r) => r.speedup))
    const sptIdeal = geomean(sptNets.map((r) => r.idealSpeedup))
    const sptArith = mean(sptNets.map((r) => r.speedup))
    const sptLayerMean = sum(sptNets.map((r) => r.meanOfLayerSpeedups * r.layers)) / sum(sptNets.map((r) => r.layers))
    const sptLayerGeomean = Math.exp(
      sum(sptNets.map((r) => r.logSumOfLayerSpeedups)) / sum(sptNets.map((r) => r.layers)),
    )
    // SparTen's 4.7x cannot be reached at Han et al.'s densities: even skipping every ineffectual MAC on
    // an equal-MAC dense array gives less (the ideal below). Spade is held to that ideal, within 5%.
    figures.push(
      figure({
        name: "SparTen: two-sided skipping speedup vs dense (Gondimalla et al.)",
        published: 4.7,
        spade: sptSpeedup,
        tolerancePercent: 5,
        source: 'Gondimalla et al., SparTen (MICRO 2019), abstract: 4.7x "on average" over a dense architecture',
        workload:
          "pruned AlexNet and VGG-16 conv layers, batch 1, forward (inference), on sparten-like (GoogLeNet not included)",
        operands: "uniform random weights and activations at Han et al. 2015's per-layer densities (Tables 4, 5)",
        baseline: "the same layers with dense operands on the same accelerator",
        averaging: "each network pooled over its layers; geometric mean over the two networks",
        ideal: {
          value: sptIdeal,
          what: "the ideal at Han et al.'s densities: dense MACs over effectual MACs (geomean over the networks), all the skipping those densities allow",
        },
      }),
    )

    // --- Delta networks: the delta core at the Γ a delta-network accelerator paper reports its speedup at.
    const renetaGammas = [0, 0.5, 0.8, 0.9]
    const renetaRows = deltaSweep(loihi, RENETA.gemm, renetaGammas)
    for (const point of RENETA.points) {
      const r = renetaRows.find((x) => x.gamma === point.gamma)!
      figures.push(
        figure({
          name: `Delta networks: delta-RNN training accelerator speedup in matrix computations at Γ = ${point.gamma} (RENETA)`,
          published: point.speedup,
          spade: r.speedup as number,
          tolerancePercent: 10,
          source: RENETA.source,
          workload: `RENETA's performance-estimation layer: ${RENETA.gemm.k} inputs → ${RENETA.gemm.n} neurons over ${RENETA.gemm.m} time steps, batch 1, forward (delta) matrix-vector products only, on loihi-like (a neuromorphic mesh, not RENETA's 16-PE array); RENETA's figure also covers the backward matrix products of training`,
          operands: `uniform random input deltas at density 1−Γ = ${(1 - point.gamma).toFixed(1)}, as RENETA's script draws them; dense weights`,
          baseline: "the same layer with every input an event (Γ = 0) on the same core",
          averaging: `one layer, all ${RENETA.gemm.m} steps summed; RENETA's range read at its endpoints`,
        }),
      )
    }

    // --- Delta networks on the Loihi-like mesh against the formula 1/(1−Γ): a sanity check.
    const gammas = [0, 0.5, 0.75, 0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999]
    const deltaGemm = { m: 200, n: 128, k: 784 }
    const deltaRows = deltaSweep(loihi, deltaGemm, gammas)
    const tracked = deltaRows.filter((r) => r.bound === "synaptic ops" && (r.gamma as number) > 0)
    const worst = tracked.reduce(
      (w, r) => (Math.abs(r.errorPercent as number) > Math.abs(w.errorPercent as number) ? r : w),
      tracked[0] ?? { errorPercent: 0, gamma: 0, speedup: 1, ideal: 1 },
    )
    figures.push(
      figure({
        name: `Delta networks: speedup tracks 1/(1−Γ) until bandwidth-bound (worst point, Γ = ${worst.gamma}), a formula, not a measurement`,
        kind: "formula",
        published: worst.ideal as number,
        spade: worst.speedup as number,
        tolerancePercent: 10,
        source: "the formula 1/(1−Γ): work scales with events; no paper's measurement",
        workload: `a 784→128 layer over 200 steps on loihi-like; ${tracked.length} of ${deltaRows.length - 1} sparse points before the state-bandwidth bound are held to it`,
        operands: "uniform random events at density 1−Γ; dense weights",
        baseline: "the same layer with every input an event (Γ = 0) on the same core",
        averaging: "the worst of the points held to the formula",
      }),
    )

    // --- Real traces vs uniform masks of equal density (the default experiment's traces).
    const defaultTraceDir = path.join(projectRoot, "reports", "default", "traces")
    if (
      !fs.existsSync(defaultTraceDir) ||
      fs.readdirSync(defaultTraceDir).filter((f) => f.endsWith(".arrow")).length === 0
    )
      yield* runExperiment(defaultSpec)
    const realRows: Row[] = []
    for (const file of fs
      .readdirSync(defaultTraceDir)
      .filter((f) => f.endsWith(".arrow"))
      .sort()) {
      const trace = yield* readTrace(path.join(defaultTraceDir, file))
      const last = Math.max(...trace.records.map((r) => r.step))
      for (const r of trace.records.filter((x: TraceRecord) => x.step === last))
        for (const [acc, twoSided] of [
          [cnv, false],
          [spt, true],
        ] as const) {
          const real = simulate(acc, layerFromTrace(r)).row
          const uniform = simulate(
            acc,
            statisticalLayer(
              workloadFromTraceRecord(r),
              { kind: "uniform", density: r.a.density },
              twoSided ? { kind: "uniform", density: r.b.density } : { kind: "dense" },
              SEED,
            ),
          ).row
          realRows.push({
            method: trace.meta.method,
            layer: r.layer,
            pass: r.pass,
            accelerator: acc.name,
            aDensity: r.a.density,
            bDensity: twoSided ? r.b.density : 1,
            realCycles: real.cycles,
            uniformCycles: uniform.cycles,
            realOverUniform: real.cycles / uniform.cycles,
            realComputeCycles: real.computeCycles,
            uniformComputeCycles: uniform.computeCycles,
            computeRatio: real.computeCycles / uniform.computeCycles,
            boundBy: real.boundBy,
          })
        }
    }

    // Whether the traced figure moved away from the statistical one, said from the numbers.
    const densestNm = detail
      .filter((r) => r.study === "sat-traced" && r.mechanism === "nm:2:8")
      .reduce<Row | undefined>(
        (d, r) => (d === undefined || (r.bDensity as number) > (d.bDensity as number) ? r : d),
        undefined,
      )
    const mechanismOf = (study: string, r: Row) =>
      detail.find((x) => x.study === study && x.model === r.model && x.layer === r.layer && x.pass === r.pass)
        ?.mechanism
    const satAgreement =
      satReplays.every(({ run, replay }) => {
        const statistical = satPerModel.find((r) => r.model === run.model)
        return replay.steps.every(
          (s) => s.sparseCycles === statistical?.bdwpCycles && s.denseCycles === statistical?.denseCycles,
        )
      }) && detail.filter((r) => r.study === "sat-traced").every((r) => mechanismOf("sat", r) === r.mechanism)
        ? `Here every traced iteration costs the same cycles as the statistical one, for both models, and every pass runs with the same mechanism: an N:M array's cycles depend on which passes' operands satisfy N:M along the reduction dim and on the GEMMs' shapes, not on where the kept weights sit, and the engine's BDWP masks are N:M on the passes the statistical model prunes (each pass's mechanism is in the per-pass rows). The traces confirm the statistical operands rather than move the figure; what they add is each pass's real density (bDensity in the per-pass rows${densestNm === undefined ? "" : `; the densest N:M operand is ${densestNm.model} ${densestNm.layer} ${densestNm.pass} at ${((densestNm.bDensity as number) * 100).toFixed(0)}%, above 2/8 where a reduction dim is not a whole number of groups of 8`}).`
        : `The traced and statistical iterations differ: ${satTracedPerModel.map((r) => `${r.model} ${(r.speedup as number).toFixed(3)}x traced vs ${(r.statisticalSpeedup as number).toFixed(3)}x statistical`).join(", ")}; the per-pass rows show where (a pass the engine's masks structure differently from the statistical model's runs at another rate).`
    const trainingText = `Every trace-based figure replays the engine's own traces. Each run trains ${TRACED_TRAINING.epochs} epoch of Fashion-MNIST (60,000 images; Debian's dataset-fashion-mnist) at batch ${TRACED_TRAINING.batchSize}, SGD with momentum ${TRACED_TRAINING.momentum}, learning rate ${TRACED_TRAINING.learningRate} on a cosine schedule, weight decay ${TRACED_TRAINING.weightDecay}, seed ${TRACED_TRAINING.seed}, and traces every ${TRACED_TRAINING.traceEverySteps}th step (forward, backward-data and backward-weight of every weighted layer). A short budget, but real training: the accuracies below are the networks' after it. Runs are cached under .spade-cache/train by the hash of the model file, dataset, method, training settings, engine and trace versions, so only a fresh cache trains (in ${jobs} worker process${jobs === 1 ? "" : "es"} here); the traces are copied to reports/paper-table/traces/.`
    const html = yield* Effect.promise(() =>
      renderReport({
        title: "Spade: simulators vs published figures",
        subtitle:
          "Each figure a paper publishes beside Spade's value for the same setting, with the error and what it assumed. Misses are reported as misses.",
        meta: {
          seed: SEED,
          accelerators: [sat, cnv, spt, loihi].map((a) => a.name).join(", "),
          traces: `${TRACED_RUNS.map(runLabel).join(", ")} on Fashion-MNIST, ${TRACED_TRAINING.epochs} epoch each`,
          command: "npx tsx experiments/paper-table.ts",
        },
        sections: [
          {
            heading: "Published figures",
            text: "Speedups are total cycles of the dense run over total cycles of the sparse run on the same accelerator. Each row holds Spade to its target: the published figure, or (SparTen) the ideal the source's densities allow, where the published figure is out of reach of any model at those densities; the published figure stays beside it. A row of kind 'formula' compares with a closed-form expectation, not with a paper's measurement. Every row names its source and what it assumed: the workload, the operands, the baseline and how it averages. Tolerances are the issues'.",
            table: { rows: figures },
          },
          {
            heading: "The engine's training runs",
            text: trainingText,
            table: { rows: trainingRows },
          },
          {
            heading: "SAT: BDWP 2:8 per model, statistical operands",
            text: `The layers are read from the model files, with each layer's sparse flag (LeNet-5's first conv stays dense). Iteration = forward, backward-data and backward-weight GEMMs of every layer, except the first layer's backward-data: nothing consumes the input image's gradient, and the engine does not compute it either. A conv's backward-data is its transposed conv, whose ifmap (dY) the array reads from DRAM once and lowers on chip, as it does the forward ifmap. BDWP prunes W (forward) and Wᵀ (backward-data) 2:8 along each pass's reduction dim; the weight gradient stays dense; mask generation overlaps the weight-gradient pass. 'macSpeedup' is the same ratio in MACs, each model's bound; 'idealEqualPasses' is 3/(1+2N/M), which holds only when all three passes of every layer run and cost the same. The figure is the mean of the per-model speedups (pooled over both models' cycles it is ${satPooled.toFixed(2)}x). The operands are statistical 2:8 masks; the next section replays the engine's own BDWP traces instead.`,
            table: { rows: satPerModel },
            charts: [
              {
                spec: barChart({
                  rows: detail.filter((r) => r.study === "sat"),
                  x: "layer",
                  y: "speedup",
                  color: "pass",
                  column: "model",
                  title: "SAT-like 2:8: per-pass speedup over dense (statistical operands)",
                  yTitle: "speedup (x)",
                }),
              },
            ],
          },
          {
            heading: "SAT: BDWP 2:8 from the engine's traces",
            text: `Each traced step of the engine's nm:2:8:bdwp runs (every ${TRACED_TRAINING.traceEverySteps}th step of one Fashion-MNIST epoch) replayed as one training iteration on sat-like-2x8: every traced (layer, pass) with its real masks and N:M metadata (layerFromTrace, a conv's backward-data as its transposed conv), summed with iterationSummary, over the same GEMMs with dense operands. 'speedup' pools each model's traced steps (total dense cycles over total BDWP cycles); the last, lowest and highest per-step speedups show how little it moves during training. 'statisticalSpeedup' is the previous section's figure for the same model. ${satAgreement} 'denseMethodTraceCycles' is LeNet-5's dense-method run (its last traced step) replayed on the same array, beside what the dense twins of the BDWP trace's last step cost ('denseTwinCycles'): ${lenetTwinCycles === lenetDenseCycles ? "the same, as a dense array's cycles do not depend on where the nonzeros are" : "they differ, so the dense twins are not what a dense-method run costs; the figure's baseline is the twins"}. The chart below it shows the last traced step per (layer, pass).`,
            table: { rows: satTracedPerModel },
            charts: [
              {
                spec: barChart({
                  rows: detail.filter((r) => r.study === "sat-traced"),
                  x: "layer",
                  y: "speedup",
                  color: "pass",
                  column: "model",
                  title: "SAT-like 2:8: per-pass speedup over dense, the engine's BDWP traces (last traced step)",
                  yTitle: "speedup (x)",
                  baseline: 1,
                }),
              },
            ],
          },
          {
            heading: "SAT: sensitivity to the activation-port width",
            text: `The trace-based iteration speedup (pooled over the traced steps) with sat-like-2x8's activation port (nmTraining.activationPortWordsPerCycle; the file's value is 128, sized so 2:8 streams at full rate: M/N = 4 candidate words for each of 32 rows) narrowed to ${PORT_WIDTHS.join(", ")} words/cycle, on copies of the accelerator made in memory. The port feeds the dense runs too (one word per row per cycle), so a narrow port slows both; the sparse run, needing M/N times the words, loses first. Only the port changes: the activation SRAM's own bandwidth stays as the file gives it.`,
            table: { rows: portRows },
            charts: [
              {
                spec: lineChart({
                  rows: portRows,
                  x: "activationPortWordsPerCycle",
                  y: "speedup",
                  color: "model",
                  title: "BDWP 2:8 iteration speedup vs the SAT array's activation-port width (engine traces)",
                  xTitle: "activation port (words/cycle)",
                  yTitle: "speedup over dense (x)",
                }),
              },
            ],
          },
          {
            heading: "Cnvlutin and SparTen on pruned AlexNet and VGG-16",
            text: `Per layer, dense cycles over sparse cycles on the same accelerator (a grouped conv counts each group). Cnvlutin: AlexNet, activations at Cnvlutin's 44% average zero fraction (conv1 reads the dense image), dense weights. SparTen: pruned AlexNet and VGG-16 with each layer's weight density and input-activation density from Han et al. (NeurIPS 2015) Tables 4 and 5 (a layer's input density is the previous layer's Act%; every value checked against a full-text copy of the paper). Each network's speedup is its total dense cycles over its total sparse cycles; the figure is their geometric mean (arithmetic mean ${sptArith.toFixed(2)}x). SparTen's abstract gives 4.7x "on average" over a dense architecture; its networks, their densities and whether the average runs over networks or layers are in the paper's evaluation, which no source reachable offline holds. GoogLeNet, which pruning-accelerator papers of the time also report, is left out for want of per-layer densities. Averaged over the ${sum(sptNets.map((r) => r.layers))} layers instead of the networks, the speedups would give ${sptLayerGeomean.toFixed(2)}x (geometric mean) or ${sptLayerMean.toFixed(2)}x (arithmetic mean); the figure keeps the per-network geomean, because a network's time is what a user waits for. What limits SparTen here is the densities: the effectual MACs alone allow ${sptIdeal.toFixed(2)}x (geomean of dense MACs over effectual MACs: ${sptNets.map((r) => `${r.network} ${r.idealSpeedup.toFixed(2)}x`).join(", ")}), and the model reaches ${((sptSpeedup / sptIdeal) * 100).toFixed(0)}% of that. The model: 32 clusters of 32 units; a cluster broadcasts input chunks to its units, which buffer two chunks; clusters take different output positions; with more filters than units, greedy balancing spreads each cluster's filters over its units, and each unit works through all of its filters on every input chunk it receives, so each chunk is broadcast once.`,
            table: { rows: sptNets.map((r) => ({ ...r })) },
            charts: [
              {
                spec: barChart({
                  rows: detail.filter((r) => r.study !== "sat" && r.study !== "sat-traced"),
                  x: "layer",
                  y: "speedup",
                  color: "study",
                  column: "model",
                  title: "Skipping speedup per conv layer",
                  yTitle: "speedup (x)",
                }),
              },
            ],
          },
          {
            heading: "Cnvlutin and SparTen per layer",
            text: "idealSpeedup is dense MACs over effectual MACs for the layer.",
            table: { rows: detail.filter((r) => r.study !== "sat" && r.study !== "sat-traced") },
          },
          {
            heading: "Cnvlutin from the engine's ReLU masks",
            text: `The forward pass of every conv layer of the engine's dense ${CNVLUTIN_TRACED.map((r) => r.model).join(" and ")} runs, at each traced step, replayed on cnvlutin-like with the traced ifmap masks (batch ${TRACED_TRAINING.batchSize}), over the same GEMMs with dense operands. A conv's ifmap is what the previous max-pool passed on (ReLU zeros survive pooling only where the whole window was zero); the first conv reads the image, whose zero pixels (Fashion-MNIST's background) and zero padding Cnvlutin skips as well, so 'withoutFirstConvSpeedup' gives the hidden conv layers alone. 'uniformSpeedup' replays the same layers with uniform random masks of the traced densities: the gap is what the real masks' placement (zeros clustered in some bricks, none in others) costs or saves. The traced conv inputs hold ${cnvTracedNets.map((r) => `${r.model} ${((1 - (r.meanIfmapDensity as number)) * 100).toFixed(0)}%`).join(", ")} zeros on average (over its conv layers and traced steps), against the 44% average zeros of the ImageNet networks Cnvlutin reports on, so these small networks' speedups need not match its 1.37x: the figure holds them to the same share of their own ideal (dense MACs over effectual MACs, 'idealSpeedup') that 1.37x is of the ideal at 44% zeros, with the published 1.37x kept beside it.`,
            table: { rows: cnvTracedNets },
            charts: [
              {
                spec: lineChart({
                  rows: cnvTracedRows,
                  x: "step",
                  y: "speedup",
                  color: "layer",
                  strokeDash: "model",
                  title: "Cnvlutin-like speedup per conv layer over training (engine ReLU masks)",
                  xTitle: "training step",
                  yTitle: "speedup over dense (x)",
                }),
              },
            ],
          },
          {
            heading: "Cnvlutin from the engine's ReLU masks, per layer and traced step",
            table: { rows: cnvTracedRows },
          },
          {
            heading: "Delta networks: sources",
            text: "The delta-network accelerator papers searched (stored copies reachable offline hold their abstracts only), the sentence relied on, and whether it states the temporal sparsity Γ its figure was measured at. Only RENETA's does; its figures are logic simulations of an RTL design, not FPGA measurements, and they cover a training accelerator's matrix computations, while Spade's delta core here runs the forward (delta) products only. RENETA's endpoints (2x at Γ = 0.5, 10x at Γ = 0.9) are themselves 1/(1−Γ): at these sparsities they cannot tell a model with overheads from the ideal, so a figure measured with its overheads (DeltaRNN's 5.7x, whose Γ is in its full text) would be the stronger check once that text is reachable. The 1/(1−Γ) row stays as a formula check, not a validation.",
            table: { rows: DELTA_SOURCES },
          },
          {
            heading: "Delta networks: speedup vs Γ",
            text: `Γ is the fraction of inputs whose change stays under the threshold (no event). Work scales with events × fan-out; every neuron's state is still read, written and updated each step, so once synaptic work falls below the state traffic the core is bandwidth-bound and the speedup flattens. A point counts as bandwidth-bound when the mean synaptic cycles per step fall below twice the state cycles per step (events are random, so below that many steps are state-bound); only the other points are held to the formula's 10% tolerance. RENETA's layer (${RENETA.gemm.k}→${RENETA.gemm.n}, ${RENETA.gemm.m} steps, from its performance-estimation script) is swept at the sparsities that script draws (50%, 80%, 90%); the paper's range gives figures at its ends only.`,
            table: { rows: [...renetaRows, ...deltaRows] },
            charts: [
              {
                spec: lineChart({
                  rows: [
                    ...deltaRows.flatMap((r) => [
                      { gamma: r.gamma, series: "Spade, 784→128 over 200 steps", speedup: r.speedup },
                      { gamma: r.gamma, series: "1/(1−Γ) (formula)", speedup: r.ideal },
                    ]),
                    ...renetaRows.map((r) => ({
                      gamma: r.gamma,
                      series: "Spade, RENETA's 256→256 over 256 steps",
                      speedup: r.speedup,
                    })),
                    ...RENETA.points.map((p) => ({
                      gamma: p.gamma,
                      series: "RENETA, published (logic simulation)",
                      speedup: p.speedup,
                    })),
                  ],
                  x: "gamma",
                  y: "speedup",
                  color: "series",
                  yScale: "log",
                  title: "Delta network speedup",
                  yTitle: "speedup (x)",
                }),
              },
            ],
          },
          {
            heading: "Real traces vs uniform masks of equal density",
            text: "The default experiment's last traced step: each layer and pass with its real masks and with uniform random masks of the same density. realOverUniform > 1 is load imbalance the real data adds; computeRatio is the same before memory stalls (where a layer is bandwidth-bound, its total cycles hide the imbalance) (for example, MNIST's always-zero border pixels concentrate nonzeros in some lanes).",
            table: { rows: realRows },
            charts: [
              {
                spec: barChart({
                  rows: realRows.map((r) => ({ ...r, case: `${r.method} ${r.layer} ${r.pass}` })),
                  x: "case",
                  y: "realOverUniform",
                  color: "accelerator",
                  title: "Cycles with real masks / cycles with uniform masks",
                  yTitle: "ratio",
                  baseline: 1,
                }),
              },
            ],
          },
        ],
        data: {
          figures,
          detail,
          training: trainingRows,
          satPerModel,
          satTracedPerModel,
          portRows,
          cnvTracedNets,
          cnvTracedRows,
          sptNets: sptNets.map((r) => ({ ...r })),
          deltaSources: DELTA_SOURCES,
          renetaRows,
          deltaRows,
          realRows,
        },
      }),
    )
    const out = path.join(projectRoot, "reports", "paper-table.html")
    yield* writeReport(out, html)
    for (const f of figures) {
      const what = f.kind === "formula" ? "formula" : "published"
      const restated = f.target !== f.published
      const against = restated ? "the restated target" : `the ${what === "formula" ? "formula" : "published figure"}`
      process.stdout.write(
        `${f.verdict.padEnd(6)} ${f.figure}: ${what} ${f.published.toFixed(2)}` +
          `${restated ? `, restated target ${f.target.toFixed(2)} (${f.targetIs})` : ""}, Spade ${f.spade.toFixed(2)} ` +
          `(${f.errorPercent >= 0 ? "+" : ""}${f.errorPercent.toFixed(1)}% of ${against}, tolerance ±${f.tolerancePercent}%)\n`,
      )
    }
    process.stdout.write(
      `${path.relative(process.cwd(), out)} (${((performance.now() - started) / 1000).toFixed(0)} s)\n`,
    )
    return figures
  })

/**
 * Every figure here is held to a paper's measurement, so statistical operands are drawn whole however
 * large (pruned AlexNet's and VGG-16's layers are past the machine model's sampling threshold, whose
 * SparTen-like timing carries up to 15% error); the limit is restored afterwards.
 */
export const paperTable = (args: ReadonlyArray<string>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const previous = setExactElements(Number.POSITIVE_INFINITY)
      clearMachineCaches()
      return previous
    }),
    () => paperTableRun(args),
    (previous) =>
      Effect.sync(() => {
        setExactElements(previous)
        clearMachineCaches()
      }),
  )

const script = defineScript({
  name: "paper-table",
  description:
    "Fidelity: SAT-like BDWP 2:8 (statistical and from the engine's Fashion-MNIST traces), Cnvlutin-like skipping (uniform and from the engine's ReLU masks), SparTen-like skipping, and a Loihi-like delta core against the speedups their papers publish, with the error and assumptions of each (a fresh cache trains four one-epoch runs first, a few minutes on two cores; args --jobs N).",
  main: (args) => Effect.asVoid(paperTable(args)),
})
export default script
runScriptWhenMain(import.meta.url, script)
