import { transpose, transposeGroups } from "../tensor/index.ts"
import { Conv2d, type WeightedLayer } from "./layers.ts"
import type { MatmulSite } from "./layers-graph.ts"
import type { GemmSite } from "./network.ts"
import type { ConvDims, LayerPassObservation, SparsifierObservation, TemporalObservation } from "./observation.ts"
import type { Sparsifier } from "./sparsifiers/index.ts"

/**
 * The trace records of one GEMM site on a step, named as src/engine/observation.ts documents. The
 * trainer emits all of them; an inference trace (src/onnx/trace.ts) only the forward ones, built
 * here too so that both report a forward pass alike.
 */

/** Where a record stands: the step and epoch, and the site's index among the network's GEMM sites. */
export interface RecordPlace {
  readonly step: number
  readonly epoch: number
  readonly layerIndex: number
}

/** What a weighted layer's records say beyond its operands. */
export interface LayerRecordContext {
  /** Frames per sample (1 for images): a Linear layer on sequences reports nonzeros per frame. */
  readonly frames: number
  /** The sparsifier pruning this layer, if any: it announces the weight operands' N:M. */
  readonly sparsifier: Sparsifier | null
  readonly observation: SparsifierObservation
}

type RecordCommon = Omit<LayerPassObservation, "pass" | "gemm" | "a" | "b" | "out">

/** A weighted layer's per-group GEMM (operands stack the groups along rows) and what its records share. */
interface LayerParts {
  readonly common: RecordCommon
  readonly groups: number
  /** Rows per group. */
  readonly m: number
  /** The weight's columns. */
  readonly k: number
  /** Outputs per group. */
  readonly cout: number
}

/** nnz per frame of a rows×features buffer whose rows are grouped as sample·frames + frame. */
const perFrame = (values: Float32Array, rows: number, frames: number): Int32Array => {
  const features = values.length / rows
  const out = new Int32Array(frames)
  for (let r = 0; r < rows; r++) {
    let nz = 0
    const off = r * features
    for (let i = 0; i < features; i++) if (values[off + i] !== 0) nz++
    out[r % frames] += nz
  }
  return out
}

const convDims = (layer: WeightedLayer, groups: number): ConvDims | null => {
  if (!(layer instanceof Conv2d) || layer.lastGeometry === null) return null
  const g = layer.lastGeometry
  return {
    batch: g.batch,
    ifmapHeight: g.height,
    ifmapWidth: g.width,
    filterHeight: g.filterHeight,
    filterWidth: g.filterWidth,
    channels: g.channels,
    numFilters: layer.outFeatures,
    stride: g.stride,
    padding: g.padding,
    ...(groups === 1 ? {} : { groups }),
  }
}

/**
 * For a layer fed by a Delta layer, `temporal` carries per-frame events; a Linear layer on
 * sequences without one reports its input's nonzeros per frame as both.
 */
const layerParts = (layer: WeightedLayer, place: RecordPlace, context: LayerRecordContext): LayerParts => {
  const x = layer.lastInput!
  const groups = layer.groups
  const m = x.shape[0]! / groups
  const k = layer.inFeatures
  const cout = layer.outFeatures / groups
  const delta = layer.lastDelta
  const { frames } = context
  let temporal: TemporalObservation | null = null
  let temporalDeltaDensity: number | null = null
  if (delta !== null) {
    let sent = 0
    for (const v of delta.eventsPerFrame) sent += v
    temporalDeltaDensity = sent / (m * k)
    temporal = { frames, events: delta.eventsPerFrame, activationNnz: delta.activationNnzPerFrame }
  } else if (frames > 1 && layer.kind === "linear") {
    const counts = perFrame(x.data, m, frames)
    temporal = { frames, events: counts, activationNnz: counts }
  }
  const common = {
    step: place.step,
    epoch: place.epoch,
    layer: layer.name,
    layerIndex: place.layerIndex,
    op: layer.kind,
    ...(groups === 1 ? {} : { groups }),
    conv: convDims(layer, groups),
    temporalDeltaDensity,
    temporal,
    sparsifier: context.observation,
  }
  return { common, groups, m, k, cout }
}

/** For a layer fed by a Delta layer the forward `a` operand is what was sent (the deltas). */
const layerForward = (
  layer: WeightedLayer,
  { common, groups, m, k, cout }: LayerParts,
  sparsifier: Sparsifier | null,
): LayerPassObservation => {
  const x = layer.lastInput!
  const delta = layer.lastDelta
  return {
    ...common,
    pass: "forward",
    gemm: { m, n: cout, k },
    a: {
      tensor: delta !== null && delta.deltas !== x.data ? "activation-delta" : "activation",
      rows: groups * m,
      cols: k,
      values: delta !== null ? delta.deltas : x.data,
      nm: null,
    },
    b: {
      tensor: "weight",
      rows: groups * k,
      cols: cout,
      values: layer.effectiveT,
      nm: sparsifier?.nm("forward") ?? null,
    },
    out: { tensor: "output", rows: groups * m, cols: cout, values: layer.lastOutput!.data, nm: null },
  }
}

/**
 * The GEMMs of one weighted layer on a traced training step: all three, except that the layer
 * reading the network's input has no backward-data.
 */
export const emitLayerRecords = (
  emit: (o: LayerPassObservation) => void,
  layer: WeightedLayer,
  place: RecordPlace,
  context: LayerRecordContext,
): void => {
  const parts = layerParts(layer, place, context)
  const { common, groups, m, k, cout } = parts
  const x = layer.lastInput!
  const dy = layer.lastOutput!.grad!
  // Null for a layer that reads the network's input: its backward-data GEMM never runs, so it is not traced.
  const dx = x.grad
  const dw = layer.weight.grad!
  emit(layerForward(layer, parts, context.sparsifier))
  if (dx !== null)
    emit({
      ...common,
      pass: "backward-data",
      gemm: { m, n: k, k: cout },
      a: { tensor: "grad-output", rows: groups * m, cols: cout, values: dy, nm: null },
      b: {
        tensor: "weight",
        rows: groups * cout,
        cols: k,
        values: layer.effectiveBackward ?? layer.effective,
        nm: context.sparsifier?.nm("backward-data") ?? null,
      },
      out: { tensor: "grad-input", rows: groups * m, cols: k, values: dx, nm: null },
    })
  emit({
    ...common,
    pass: "backward-weight",
    gemm: { m: cout, n: k, k: m },
    a: {
      tensor: "grad-output",
      rows: groups * cout,
      cols: m,
      values: groups === 1 ? transpose(m, cout, dy) : transposeGroups(groups, m, cout, dy),
      nm: null,
    },
    b: { tensor: "activation", rows: groups * m, cols: k, values: x.data, nm: null },
    out: { tensor: "grad-weight", rows: groups * cout, cols: k, values: dw, nm: null },
  })
}

/** Products of activations have no sparsifier at all. */
const NO_SPARSIFIER: SparsifierObservation = { method: "none", targetSparsity: 0, dropped: 0, grown: 0, hamming: 0 }

const matmulCommon = (site: MatmulSite, place: RecordPlace): RecordCommon => ({
  step: place.step,
  epoch: place.epoch,
  layer: site.name,
  layerIndex: place.layerIndex,
  op: "matmul",
  groups: site.groups,
  conv: null,
  temporalDeltaDensity: null,
  temporal: null,
  sparsifier: NO_SPARSIFIER,
})

const matmulForward = (site: MatmulSite, common: RecordCommon): LayerPassObservation => {
  const { m, n, k, groups } = site
  return {
    ...common,
    pass: "forward",
    gemm: { m, n, k },
    a: { tensor: "activation", rows: groups * m, cols: k, values: site.a!.data, nm: null },
    b: { tensor: "activation", rows: groups * k, cols: n, values: site.b!.data, nm: null },
    out: { tensor: "output", rows: groups * m, cols: n, values: site.out!.data, nm: null },
  }
}

/**
 * The three GEMMs of a product of activations out = alpha·A·B (attention's scores and context):
 * backward-data dA = dOut·Bᵀ, backward-weight dB = Aᵀ·dOut, each group's operands transposed in
 * place in the stack. alpha (1/√dh for the scores) scales values only, never which are zero.
 */
export const emitMatmulRecords = (
  emit: (o: LayerPassObservation) => void,
  site: MatmulSite,
  place: RecordPlace,
): void => {
  const { m, n, k, groups } = site
  const a = site.a!
  const b = site.b!
  const out = site.out!
  const common = matmulCommon(site, place)
  const zeros = (length: number) => new Float32Array(length)
  const dOut = out.grad ?? zeros(out.data.length)
  emit(matmulForward(site, common))
  emit({
    ...common,
    pass: "backward-data",
    gemm: { m, n: k, k: n },
    a: { tensor: "grad-output", rows: groups * m, cols: n, values: dOut, nm: null },
    b: { tensor: "activation", rows: groups * n, cols: k, values: transposeGroups(groups, k, n, b.data), nm: null },
    out: { tensor: "grad-input", rows: groups * m, cols: k, values: a.grad ?? zeros(a.data.length), nm: null },
  })
  emit({
    ...common,
    pass: "backward-weight",
    gemm: { m: k, n, k: m },
    a: { tensor: "activation", rows: groups * k, cols: m, values: transposeGroups(groups, m, k, a.data), nm: null },
    b: { tensor: "grad-output", rows: groups * m, cols: n, values: dOut, nm: null },
    out: { tensor: "grad-input", rows: groups * k, cols: n, values: b.grad ?? zeros(b.data.length), nm: null },
  })
}

/**
 * The forward record of one GEMM site after a forward pass, as a traced training step reports it
 * (`context` applies to weighted layers only). An inference trace has nothing else to report.
 */
export const forwardRecord = (site: GemmSite, place: RecordPlace, context: LayerRecordContext): LayerPassObservation =>
  site.kind === "matmul"
    ? matmulForward(site, matmulCommon(site, place))
    : layerForward(site, layerParts(site, place, context), context.sparsifier)
