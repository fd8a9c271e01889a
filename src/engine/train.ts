import { argmaxRows, createRng, deriveSeed, gatherRows } from "../tensor/index.ts"
import { backward, leaf, noGrad } from "./autograd.ts"
import type { WeightedLayer } from "./layers.ts"
import { buildModel, type Network } from "./network.ts"
import { framesOf, isSequences, type DataSplit, type Samples } from "./datasets.ts"
import { outputFeatures, type ModelConfig } from "./model-config.ts"
import type { LayerPassObservation, NmStructure } from "./observation.ts"
import { softmaxCrossEntropy } from "./ops.ts"
import { Adam, learningRateAt, Sgd, type LrSchedule, type Optimizer } from "./optim.ts"
import { emitLayerRecords, emitMatmulRecords } from "./records.ts"
import { createSparsifier } from "./sparsifiers/index.ts"
import { maskChange, type SparsitySpec } from "./sparsity.ts"

export interface TrainProgress {
  readonly epoch: number
  readonly step: number
  readonly stepsPerEpoch: number
  /** Loss of the step just taken. */
  readonly trainLoss: number
}

export interface TrainOptions {
  readonly model: ModelConfig
  readonly data: DataSplit
  readonly sparsity: SparsitySpec
  readonly epochs: number
  /** Samples per step (sequences, for sequence data: each brings all its frames). */
  readonly batchSize: number
  readonly learningRate: number
  readonly momentum: number
  readonly weightDecay: number
  readonly seed: number
  /** Trace every step whose global index (from 0) is a multiple of this; 0 = never. */
  readonly traceEverySteps: number
  /**
   * Parameters and buffers to start from, by the names `Network.tensors()` uses (an imported
   * checkpoint's initializers, in the engine's layouts); any not given keep the seeded init.
   */
  readonly initialTensors?: ReadonlyMap<string, ArrayLike<number>>
  /** Default "sgd" (with `momentum`); "adam" ignores `momentum`. */
  readonly optimizer?: "sgd" | "adam"
  /** Default constant. */
  readonly lrSchedule?: LrSchedule
  /**
   * Gets three observations per GEMM (weighted layers, attention's products) per traced step.
   * Buffers are reused: copy what you keep.
   */
  readonly onObservation?: (o: LayerPassObservation) => void
  readonly onProgress?: (p: TrainProgress) => void
  readonly onEpoch?: (row: HistoryRow) => void
}

export interface HistoryRow {
  /** 1-based epoch just finished. */
  readonly epoch: number
  /** Global steps done so far. */
  readonly step: number
  /** Mean training loss over the epoch (cross-entropy plus any delta L1 penalty). */
  readonly trainLoss: number
  /** Accuracy on the epoch's batches, measured as they were trained (weights moving). */
  readonly trainAccuracy: number
  readonly testAccuracy: number
  readonly learningRate: number
  /** The sparsifier's schedule value at the end of the epoch. */
  readonly targetSparsity: number
}

export interface LayerSummary {
  readonly layer: string
  readonly op: "linear" | "conv2d"
  readonly outFeatures: number
  /** K: Cin for linear, R·S·C for conv2d. */
  readonly inFeatures: number
  /** Nonzero fraction of the weight as used (after masking) at the end of training. */
  readonly weightDensity: number
  /** N:M structure of the weight as stored (Cout×K, groups along K: axis "row"). */
  readonly nm: NmStructure | null
  /** BDWP: N:M structure of the backward-data weight (groups along Cout: axis "col"). */
  readonly backwardNm: NmStructure | null
}

export interface TemporalSummary {
  /** Per sample and frame, summed over delta layers, on the test set: deltas sent … */
  readonly eventsPerFrame: number
  /** … and nonzero (quantized) activations, what sending the activations themselves would cost. */
  readonly activationsPerFrame: number
}

export interface TrainResult {
  readonly history: ReadonlyArray<HistoryRow>
  readonly testAccuracy: number
  readonly trainLoss: number
  readonly epochs: number
  readonly steps: number
  /** Wall time of the whole run, evaluation included. */
  readonly seconds: number
  /** Training throughput: samples through forward+backward+update per second of training time. */
  readonly samplesPerSecond: number
  readonly layers: ReadonlyArray<LayerSummary>
  /** Mean nonzero fraction of the hidden activations feeding weighted layers, on the test set. */
  readonly hiddenActivationDensity: number
  /** Delta layers' traffic on the test set; null for models without delta layers. */
  readonly temporal: TemporalSummary | null
}

const positiveInt = (name: string, v: number, allowZero = false): void => {
  if (!Number.isInteger(v) || v < (allowZero ? 0 : 1))
    throw new RangeError(`train: ${name} must be a ${allowZero ? "non-negative" : "positive"} integer, got ${v}`)
}

/** Rows and per-row labels of samples order[start..end) (frames expand to rows). */
const fillBatch = (
  data: Samples,
  order: ArrayLike<number>,
  start: number,
  end: number,
  x: Float32Array,
  labels: Uint8Array,
): number => {
  if (isSequences(data)) {
    const rowsPer = data.frames
    for (let s = start; s < end; s++) {
      const index = order[s]!
      const row = (s - start) * rowsPer
      data.render(index, x, row * data.features)
      labels.fill(data.labels[index]!, row, row + rowsPer)
    }
    return (end - start) * rowsPer
  }
  gatherRows(data.images, data.features, order, start, end, x)
  for (let s = start; s < end; s++) labels[s - start] = data.labels[order[s]!]!
  return end - start
}

export interface EvaluationStats {
  readonly accuracy: number
  readonly hiddenActivationDensity: number
  readonly temporal: TemporalSummary | null
}

/**
 * Accuracy (per frame for sequences) plus activation statistics; batched, no graph, in inference
 * mode (batch norms use their running statistics); the network's mode is restored after.
 */
export const evaluateDetailed = (network: Network, data: Samples, batchSize = 1000): EvaluationStats => {
  if (data.count === 0) return { accuracy: 0, hiddenActivationDensity: 0, temporal: null }
  const frames = framesOf(data)
  const samplesPerBatch = Math.max(1, Math.floor(batchSize / frames))
  const x = new Float32Array(samplesPerBatch * frames * data.features)
  const labels = new Uint8Array(samplesPerBatch * frames)
  const order = Uint32Array.from({ length: data.count }, (_, i) => i)
  const weighted = network.weighted()
  const deltas = network.deltas()
  let correct = 0
  let hiddenNnz = 0
  let hiddenTotal = 0
  let events = 0
  let activations = 0
  network.setFrames(frames)
  const wasTraining = network.training
  network.setTraining(false)
  noGrad(() => {
    for (let start = 0; start < data.count; start += samplesPerBatch) {
      const end = Math.min(data.count, start + samplesPerBatch)
      const rows = fillBatch(data, order, start, end, x, labels)
      const logits = network.forward(leaf([rows, data.features], x.subarray(0, rows * data.features)))
      const predicted = argmaxRows(rows, logits.shape[1]!, logits.data)
      for (let i = 0; i < rows; i++) if (predicted[i] === labels[i]) correct++
      for (const layer of weighted.slice(1)) {
        if (layer.kind !== "linear") continue
        const input = layer.lastInput!.data
        for (let i = 0; i < input.length; i++) if (input[i] !== 0) hiddenNnz++
        hiddenTotal += input.length
      }
      for (const d of deltas) {
        if (d.last === null) continue
        for (const v of d.last.eventsPerFrame) events += v
        for (const v of d.last.activationNnzPerFrame) activations += v
      }
    }
  })
  network.setTraining(wasTraining)
  const sampleFrames = data.count * frames
  return {
    accuracy: correct / sampleFrames,
    hiddenActivationDensity: hiddenTotal === 0 ? 1 : hiddenNnz / hiddenTotal,
    temporal:
      deltas.length === 0
        ? null
        : { eventsPerFrame: events / sampleFrames, activationsPerFrame: activations / sampleFrames },
  }
}

/** Fraction of `data` classified correctly (per frame for sequences); batched, no graph. */
export const evaluate = (network: Network, data: Samples, batchSize = 1000): number =>
  evaluateDetailed(network, data, batchSize).accuracy

/** Train and also hand back the network (weights), e.g. for tests or to keep training. */
export const trainNetwork = (options: TrainOptions): { readonly result: TrainResult; readonly network: Network } => {
  const { model, data, sparsity, epochs, batchSize, seed, traceEverySteps } = options
  positiveInt("epochs", epochs, true)
  positiveInt("batchSize", batchSize)
  positiveInt("traceEverySteps", traceEverySteps, true)
  const train = data.train
  if (model.input.features !== train.features)
    throw new RangeError(
      `train: model "${model.name}" takes ${model.input.features} features, data has ${train.features}`,
    )
  if (outputFeatures(model) !== train.classes)
    throw new RangeError(
      `train: model "${model.name}" has ${outputFeatures(model)} outputs, data has ${train.classes} classes`,
    )
  if (train.count === 0) throw new RangeError("train: empty training set")

  const started = performance.now()
  let trainingMs = 0
  const network = buildModel(model, seed, {
    topKFraction: sparsity.topk ?? null,
    delta:
      sparsity.delta === undefined
        ? null
        : sparsity.delta.enabled
          ? {
              threshold: sparsity.delta.threshold,
              ...(sparsity.delta.l1 === undefined ? {} : { l1: sparsity.delta.l1 }),
            }
          : { enabled: false },
  })
  for (const [name, values] of options.initialTensors ?? []) network.setTensor(name, values)
  network.setTraining(true)
  const weighted = network.weighted()
  const sites = network.gemmSites()
  const params = network.parameters()
  const optimizer: Optimizer =
    options.optimizer === "adam"
      ? new Adam(params, { learningRate: options.learningRate, weightDecay: options.weightDecay })
      : new Sgd(params, options)
  const schedule = options.lrSchedule ?? { kind: "constant" }
  const frames = framesOf(train)
  const stepsPerEpoch = Math.ceil(train.count / batchSize)
  const totalSteps = stepsPerEpoch * epochs
  const sparsifier = createSparsifier(sparsity, {
    layers: weighted.filter((l) => l.sparse),
    totalSteps,
    stepsPerEpoch,
    batchSize,
    seed,
    resetState: (layer, keep) => {
      const p = params.find((q) => q.value === layer.weight)
      if (p !== undefined) optimizer.resetState(p, keep)
    },
  })
  // Masks as of the previous traced step, to report what changed in between.
  const tracedMasks = new Map<WeightedLayer, Uint8Array | null>()

  const rowsPerBatch = batchSize * frames
  const xBuffer = new Float32Array(rowsPerBatch * train.features)
  const labelBuffer = new Uint8Array(rowsPerBatch)
  const history: HistoryRow[] = []
  let step = 0
  let lastEpochLoss = Number.NaN
  network.setFrames(frames)

  for (let epoch = 0; epoch < epochs; epoch++) {
    const epochStart = performance.now()
    const order = createRng(deriveSeed(seed, "batch-order", epoch)).shuffle(
      Uint32Array.from({ length: train.count }, (_, i) => i),
    )
    let lossSum = 0
    let correct = 0
    for (let s = 0; s < stepsPerEpoch; s++, step++) {
      const start = s * batchSize
      const end = Math.min(train.count, start + batchSize)
      const rows = fillBatch(train, order, start, end, xBuffer, labelBuffer)
      const labels = labelBuffer.subarray(0, rows)
      const traced = traceEverySteps > 0 && step % traceEverySteps === 0 && options.onObservation !== undefined

      sparsifier.beforeForward(step)
      // No one needs the gradient of the input: training never computes the first layer's dX, traced or not.
      const x = leaf([rows, train.features], xBuffer.subarray(0, rows * train.features), false)
      optimizer.zeroGrad()
      const logits = network.forward(x)
      const loss = softmaxCrossEntropy(logits, labels)
      backward(loss)
      if (traced) {
        const target = sparsifier.targetSparsity(step)
        sites.forEach((layer, i) => {
          if (layer.kind === "matmul") {
            emitMatmulRecords(options.onObservation!, layer, { step, epoch, layerIndex: i })
            return
          }
          const previous = tracedMasks.get(layer) ?? null
          const change =
            previous !== null && layer.mask !== null
              ? maskChange(previous, layer.mask)
              : { dropped: 0, grown: 0, hamming: 0 }
          tracedMasks.set(layer, layer.mask === null ? null : layer.mask.slice())
          emitLayerRecords(
            options.onObservation!,
            layer,
            { step, epoch, layerIndex: i },
            {
              frames,
              sparsifier: layer.sparse ? sparsifier : null,
              observation: { method: sparsifier.method, targetSparsity: layer.sparse ? target : 0, ...change },
            },
          )
        })
      }
      sparsifier.afterBackward(step)
      optimizer.learningRate = learningRateAt(schedule, options.learningRate, step, totalSteps, stepsPerEpoch)
      optimizer.step()
      sparsifier.afterUpdate(step)

      const lossValue = loss.data[0]! + network.penalty()
      lossSum += lossValue * rows
      const predicted = argmaxRows(rows, logits.shape[1]!, logits.data)
      for (let i = 0; i < rows; i++) if (predicted[i] === labels[i]) correct++
      options.onProgress?.({ epoch, step, stepsPerEpoch, trainLoss: lossValue })
    }
    trainingMs += performance.now() - epochStart
    lastEpochLoss = lossSum / (train.count * frames)
    const row: HistoryRow = {
      epoch: epoch + 1,
      step,
      trainLoss: lastEpochLoss,
      trainAccuracy: correct / (train.count * frames),
      testAccuracy: evaluate(network, data.test),
      learningRate: learningRateAt(schedule, options.learningRate, step - 1, totalSteps, stepsPerEpoch),
      targetSparsity: sparsifier.targetSparsity(step - 1),
    }
    history.push(row)
    options.onEpoch?.(row)
  }

  const final = evaluateDetailed(network, data.test)
  const seconds = (performance.now() - started) / 1000
  const result: TrainResult = {
    history,
    testAccuracy: final.accuracy,
    trainLoss: lastEpochLoss,
    epochs,
    steps: step,
    seconds,
    samplesPerSecond: trainingMs > 0 ? (epochs * train.count) / (trainingMs / 1000) : 0,
    layers: weighted.map((layer) => {
      const forwardNm = layer.sparse ? sparsifier.nm("forward") : null
      const backwardNm = layer.sparse && sparsity.kind === "bdwp" ? sparsifier.nm("backward-data") : null
      return {
        layer: layer.name,
        op: layer.kind,
        outFeatures: layer.outFeatures,
        inFeatures: layer.inFeatures,
        weightDensity: weightDensity(layer),
        nm: forwardNm === null ? null : { n: forwardNm.n, m: forwardNm.m, axis: "row" },
        backwardNm: backwardNm === null ? null : { n: backwardNm.n, m: backwardNm.m, axis: "col" },
      }
    }),
    hiddenActivationDensity: final.hiddenActivationDensity,
    temporal: final.temporal,
  }
  return { result, network }
}

export const train = (options: TrainOptions): TrainResult => trainNetwork(options).result

const weightDensity = (layer: WeightedLayer): number => {
  const w = layer.effective
  let nz = 0
  for (let i = 0; i < w.length; i++) if (w[i] !== 0) nz++
  return nz / w.length
}
