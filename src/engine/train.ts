import { argmaxRows, createRng, deriveSeed, gatherRows, transpose } from "../tensor/index.ts"
import { backward, leaf, noGrad } from "./autograd.ts"
import type { Linear, Sequential } from "./layers.ts"
import { buildModel } from "./layers.ts"
import type { Dataset, Split } from "./mnist.ts"
import { outputFeatures, type ModelConfig } from "./model-config.ts"
import type { LayerPassObservation, NmStructure, SparsifierObservation } from "./observation.ts"
import { softmaxCrossEntropy } from "./ops.ts"
import { Sgd } from "./optim.ts"
import { maskChange, nmMask, sparsityMethod, targetSparsity, type SparsitySpec } from "./sparsity.ts"

export interface TrainProgress {
  readonly epoch: number
  readonly step: number
  readonly stepsPerEpoch: number
  /** Loss of the step just taken. */
  readonly trainLoss: number
}

export interface TrainOptions {
  readonly model: ModelConfig
  readonly data: Split
  readonly sparsity: SparsitySpec
  readonly epochs: number
  readonly batchSize: number
  readonly learningRate: number
  readonly momentum: number
  readonly weightDecay: number
  readonly seed: number
  /** Trace every step whose global index (from 0) is a multiple of this; 0 = never. */
  readonly traceEverySteps: number
  /** Gets three observations per Linear layer per traced step. Buffers are reused: copy what you keep. */
  readonly onObservation?: (o: LayerPassObservation) => void
  readonly onProgress?: (p: TrainProgress) => void
}

export interface HistoryRow {
  /** 1-based epoch just finished. */
  readonly epoch: number
  /** Global steps done so far. */
  readonly step: number
  /** Mean training loss over the epoch. */
  readonly trainLoss: number
  /** Accuracy on the epoch's batches, measured as they were trained (weights moving). */
  readonly trainAccuracy: number
  readonly testAccuracy: number
}

export interface LayerSummary {
  readonly layer: string
  readonly outFeatures: number
  readonly inFeatures: number
  /** Nonzero fraction of the weight as used (after masking) at the end of training. */
  readonly weightDensity: number
  /** N:M structure of the weight as stored (Cout×Cin, groups along Cin: axis "row"). */
  readonly nm: NmStructure | null
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
}

const positiveInt = (name: string, v: number, allowZero = false): void => {
  if (!Number.isInteger(v) || v < (allowZero ? 0 : 1)) throw new RangeError(`train: ${name} must be a ${allowZero ? "non-negative" : "positive"} integer, got ${v}`)
}

/** Fraction of `data` classified correctly; batched, no graph. */
export const evaluate = (network: Sequential, data: Dataset, batchSize = 1000): number => {
  if (data.count === 0) return 0
  let correct = 0
  noGrad(() => {
    for (let start = 0; start < data.count; start += batchSize) {
      const end = Math.min(data.count, start + batchSize)
      const x = leaf([end - start, data.features], data.images.subarray(start * data.features, end * data.features))
      const logits = network.forward(x)
      const predicted = argmaxRows(end - start, logits.shape[1]!, logits.data)
      for (let i = 0; i < end - start; i++) if (predicted[i] === data.labels[start + i]) correct++
    }
  })
  return correct / data.count
}

/** Train and also hand back the network (weights), e.g. for tests or to keep training. */
export const trainNetwork = (options: TrainOptions): { readonly result: TrainResult; readonly network: Sequential } => {
  const { model, data, sparsity, epochs, batchSize, seed, traceEverySteps } = options
  positiveInt("epochs", epochs, true)
  positiveInt("batchSize", batchSize)
  positiveInt("traceEverySteps", traceEverySteps, true)
  const train = data.train
  if (model.input.features !== train.features) throw new RangeError(`train: model "${model.name}" takes ${model.input.features} features, data has ${train.features}`)
  if (outputFeatures(model) !== train.classes) throw new RangeError(`train: model "${model.name}" has ${outputFeatures(model)} outputs, data has ${train.classes} classes`)
  if (train.count === 0) throw new RangeError("train: empty training set")

  const started = performance.now()
  let trainingMs = 0
  const network = buildModel(model, seed)
  const linears = network.linears()
  const optimizer = new Sgd(network.parameters(), options)
  const method = sparsityMethod(sparsity)
  const target = targetSparsity(sparsity)
  // Masks as of the previous traced step, to report what changed in between.
  const tracedMasks: Array<Uint8Array | null> = linears.map(() => null)

  const updateMasks = (step: number): void => {
    if (sparsity.kind !== "nm" || step % sparsity.maskUpdateEverySteps !== 0) return
    for (const layer of linears)
      layer.setMask(nmMask(layer.outFeatures, layer.inFeatures, layer.weight.data, sparsity.n, sparsity.m))
  }

  const stepsPerEpoch = Math.ceil(train.count / batchSize)
  const xBuffer = new Float32Array(batchSize * train.features)
  const labelBuffer = new Uint8Array(batchSize)
  const history: HistoryRow[] = []
  let step = 0
  let lastEpochLoss = Number.NaN

  for (let epoch = 0; epoch < epochs; epoch++) {
    const epochStart = performance.now()
    const order = createRng(deriveSeed(seed, "batch-order", epoch)).shuffle(Uint32Array.from({ length: train.count }, (_, i) => i))
    let lossSum = 0
    let correct = 0
    for (let s = 0; s < stepsPerEpoch; s++, step++) {
      const start = s * batchSize
      const end = Math.min(train.count, start + batchSize)
      const b = end - start
      gatherRows(train.images, train.features, order, start, end, xBuffer)
      for (let i = 0; i < b; i++) labelBuffer[i] = train.labels[order[start + i]!]!
      const labels = labelBuffer.subarray(0, b)
      const traced = traceEverySteps > 0 && step % traceEverySteps === 0 && options.onObservation !== undefined

      updateMasks(step)
      // The first layer's dX is useless for learning; compute it only when a trace wants to see it.
      const x = leaf([b, train.features], xBuffer.subarray(0, b * train.features), traced)
      optimizer.zeroGrad()
      const logits = network.forward(x)
      const loss = softmaxCrossEntropy(logits, labels)
      backward(loss)
      if (traced) {
        linears.forEach((layer, i) => {
          const change = tracedMasks[i] !== null && layer.mask !== null ? maskChange(tracedMasks[i]!, layer.mask) : { dropped: 0, grown: 0, hamming: 0 }
          tracedMasks[i] = layer.mask === null ? null : layer.mask.slice()
          emitLinear(options.onObservation!, layer, i, step, epoch, sparsity, { method, targetSparsity: target, ...change })
        })
      }
      optimizer.step()

      const lossValue = loss.data[0]!
      lossSum += lossValue * b
      const predicted = argmaxRows(b, logits.shape[1]!, logits.data)
      for (let i = 0; i < b; i++) if (predicted[i] === labels[i]) correct++
      options.onProgress?.({ epoch, step, stepsPerEpoch, trainLoss: lossValue })
    }
    trainingMs += performance.now() - epochStart
    lastEpochLoss = lossSum / train.count
    history.push({
      epoch: epoch + 1,
      step,
      trainLoss: lastEpochLoss,
      trainAccuracy: correct / train.count,
      testAccuracy: evaluate(network, data.test),
    })
  }

  const testAccuracy = history.length > 0 ? history[history.length - 1]!.testAccuracy : evaluate(network, data.test)
  const seconds = (performance.now() - started) / 1000
  const result: TrainResult = {
    history,
    testAccuracy,
    trainLoss: lastEpochLoss,
    epochs,
    steps: step,
    seconds,
    samplesPerSecond: trainingMs > 0 ? (epochs * train.count) / (trainingMs / 1000) : 0,
    layers: linears.map((layer) => ({
      layer: layer.name,
      outFeatures: layer.outFeatures,
      inFeatures: layer.inFeatures,
      weightDensity: weightDensity(layer),
      nm: sparsity.kind === "nm" ? { n: sparsity.n, m: sparsity.m, axis: "row" } : null,
    })),
  }
  return { result, network }
}

export const train = (options: TrainOptions): TrainResult => trainNetwork(options).result

const weightDensity = (layer: Linear): number => {
  const w = layer.weight.data
  const mask = layer.mask
  let nz = 0
  for (let i = 0; i < w.length; i++) if (w[i] !== 0 && (mask === null || mask[i] !== 0)) nz++
  return nz / w.length
}

/** The three GEMMs of one Linear layer on a traced step, named as src/engine/observation.ts documents. */
const emitLinear = (
  emit: (o: LayerPassObservation) => void, layer: Linear, layerIndex: number, step: number, epoch: number,
  sparsity: SparsitySpec, sparsifier: SparsifierObservation,
): void => {
  const x = layer.lastInput!
  const y = layer.lastOutput!
  const batch = x.shape[0]!
  const cin = layer.inFeatures
  const cout = layer.outFeatures
  const dy = y.grad!
  const dx = x.grad!
  const dw = layer.weight.grad!
  const nm = (axis: "row" | "col"): NmStructure | null => (sparsity.kind === "nm" ? { n: sparsity.n, m: sparsity.m, axis } : null)
  const common = { step, epoch, layer: layer.name, layerIndex, op: "linear" as const, conv: null, temporalDeltaDensity: null, sparsifier }
  emit({
    ...common,
    pass: "forward",
    gemm: { m: batch, n: cout, k: cin },
    a: { tensor: "activation", rows: batch, cols: cin, values: x.data, nm: null },
    b: { tensor: "weight", rows: cin, cols: cout, values: layer.effectiveT, nm: nm("col") },
    out: { tensor: "output", rows: batch, cols: cout, values: y.data, nm: null },
  })
  emit({
    ...common,
    pass: "backward-data",
    gemm: { m: batch, n: cin, k: cout },
    a: { tensor: "grad-output", rows: batch, cols: cout, values: dy, nm: null },
    b: { tensor: "weight", rows: cout, cols: cin, values: layer.effective, nm: nm("row") },
    out: { tensor: "grad-input", rows: batch, cols: cin, values: dx, nm: null },
  })
  emit({
    ...common,
    pass: "backward-weight",
    gemm: { m: cout, n: cin, k: batch },
    a: { tensor: "grad-output", rows: cout, cols: batch, values: transpose(batch, cout, dy), nm: null },
    b: { tensor: "activation", rows: batch, cols: cin, values: x.data, nm: null },
    out: { tensor: "grad-weight", rows: cout, cols: cin, values: dw, nm: null },
  })
}
