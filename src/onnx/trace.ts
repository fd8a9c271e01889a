import {
  forwardRecord,
  isSequences,
  leaf,
  noGrad,
  type LayerPassObservation,
  type LayerRecordContext,
  type Network,
  type NmStructure,
  type Samples,
} from "../engine/index.ts"
import { argmaxRows } from "../tensor/index.ts"
import { detectNm, NM_GROUP_SIZES } from "./nm.ts"

/**
 * Traces of imported models. A checkpoint pruned elsewhere brings N:M weights that no Spade
 * sparsifier announced, so the weight operands' `nm` is found in the values themselves; and an
 * imported model can be traced in inference alone: its forward pass on a dataset's inputs, with
 * the real activation masks each layer sees.
 */

/**
 * No sparsifier acts in inference: weights as the checkpoint holds them, as a dense training run
 * reports; images, one frame a sample.
 */
const INFERENCE: LayerRecordContext = {
  frames: 1,
  sparsifier: null,
  observation: { method: "dense", targetSparsity: 0, dropped: 0, grown: 0, hamming: 0 },
}

/**
 * The N:M structure of a weight operand as traced (null if none). Forward `b` is Ŵᵀ stacked per
 * group, [groups·K × N]: groups run down a column and must not straddle two channel groups, so m
 * divides K. Backward-data `b` is Ŵ, [groups·N × K]: groups run along a row (the weight's K).
 */
export const weightOperandNm = (o: LayerPassObservation): NmStructure | null => {
  if (o.op === "matmul" || o.b.tensor !== "weight") return null
  const k = o.pass === "forward" ? o.gemm.k : o.gemm.n
  const sizes = NM_GROUP_SIZES.filter((m) => k % m === 0)
  if (o.pass === "forward") return detectNm(o.b.values, o.b.rows, o.b.cols, "col", sizes)
  if (o.pass === "backward-data") return detectNm(o.b.values, o.b.rows, o.b.cols, "row", sizes)
  return null
}

/**
 * Wrap an observation sink so weight operands whose sparsifier announced no N:M structure get the
 * one their values have (an imported pruned checkpoint). Checked on every traced step: fine-tuning
 * with a dense method regrows the zeros, and then the structure is gone from the trace too.
 */
export const withWeightNm =
  (emit: (o: LayerPassObservation) => void) =>
  (o: LayerPassObservation): void => {
    const nm = o.b.nm === null && o.b.tensor === "weight" ? weightOperandNm(o) : null
    emit(nm === null ? o : { ...o, b: { ...o.b, nm } })
  }

export interface ForwardTraceOptions {
  /** Samples per forward pass. */
  readonly batchSize: number
  /** Trace every batch whose index (from 0) is a multiple of this; 0 = none. */
  readonly traceEveryBatches: number
  /** Gets one forward observation per GEMM per traced batch. Buffers are reused: copy what you keep. */
  readonly onObservation?: (o: LayerPassObservation) => void
  /** Stop after this many samples (default all). */
  readonly limit?: number
}

export interface ForwardTraceResult {
  readonly samples: number
  readonly batches: number
  readonly tracedBatches: number
  /** Fraction classified correctly (argmax of the outputs against the labels). */
  readonly accuracy: number
}

/**
 * Run the network's forward pass in inference mode over `data` in order, batch by batch, and
 * report the forward GEMM of every layer (and attention product) of the traced batches, as the
 * trainer reports a training step's forward records (step = batch index, epoch 0), with weight N:M
 * found in the values. Inference has no backward passes, so there are no other records.
 */
export const traceForward = (network: Network, data: Samples, options: ForwardTraceOptions): ForwardTraceResult => {
  if (isSequences(data)) throw new RangeError("traceForward: sequence datasets are not supported, expected images")
  const { batchSize, traceEveryBatches } = options
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`traceForward: batch size ${batchSize}`)
  const count = Math.min(data.count, options.limit ?? data.count)
  const emit = options.onObservation === undefined ? null : withWeightNm(options.onObservation)
  const sites = network.gemmSites()
  const wasTraining = network.training
  network.setTraining(false)
  let correct = 0
  let batches = 0
  let traced = 0
  noGrad(() => {
    for (let start = 0; start < count; start += batchSize, batches++) {
      const rows = Math.min(batchSize, count - start)
      const x = data.images.subarray(start * data.features, (start + rows) * data.features)
      const y = network.forward(leaf([rows, data.features], x))
      const predicted = argmaxRows(rows, y.shape[1]!, y.data)
      for (let i = 0; i < rows; i++) if (predicted[i] === data.labels[start + i]) correct++
      if (emit === null || traceEveryBatches <= 0 || batches % traceEveryBatches !== 0) continue
      traced++
      for (const [layerIndex, site] of sites.entries())
        emit(forwardRecord(site, { step: batches, epoch: 0, layerIndex }, INFERENCE))
    }
  })
  network.setTraining(wasTraining)
  return { samples: count, batches, tracedBatches: traced, accuracy: count === 0 ? 0 : correct / count }
}
