import type { Accelerator, DenseSystolicAccelerator, NmTrainingAccelerator, SystolicDataflow } from "../hardware/index.ts"
import type { ConvDims, GemmDims, Pass, TraceRecord } from "../trace/index.ts"
import { finishRow, sramCapacities, type SimLayer, type SimResult } from "./machine.ts"
import { simulateNeuromorphic } from "./neuromorphic.ts"
import { simulateNmTraining, systolicFoldPlan, systolicFoldPlanInOrder } from "./nm-training.ts"
import { effectualMacs, operandDensity, operandLabel, reductionAxis, statisticalOperand, type OperandSpec } from "./operand.ts"
import { pipelineCycles, pipelineCyclesStepped } from "./pipeline.ts"
import { fnvDeriveSeed } from "../tensor/index.ts"
import { simulateRowStationary } from "./row-stationary.ts"
import { scaleSimCounts } from "./scalesim.ts"
import { simulateOneSided, simulateTwoSided } from "./skipping.ts"
import { dramTraffic } from "./systolic.ts"
import { convOutputSize, gemmFromConv, loweredIfmapWords } from "./workload.ts"

export interface SimulateOptions {
  /** Use each family's cycle-stepped twin instead of its fast model (small layers only). */
  readonly reference?: boolean | undefined
  /** Override the PE array (sweeps). */
  readonly rows?: number | undefined
  readonly cols?: number | undefined
  /** Systolic families: the dataflow; defaults to the accelerator's. */
  readonly dataflow?: SystolicDataflow | undefined
  /**
   * The conv a GEMM's ifmap operand is the im2col lowering of (a forward conv, or the transposed conv
   * trainingGemms gives backward-data): the row-stationary mapping keeps a forward conv's 2-D shape,
   * and the N:M array reads the raw ifmap from DRAM instead of its im2col copies.
   */
  readonly conv?: ConvDims | null | undefined
  /** nm-training: charge N:M mask generation (default true). */
  readonly maskGeneration?: boolean | undefined
}

/**
 * The dense systolic array through the shared machine model: the fold pipeline of the first
 * slice's default timing, and the per-level memory model (whose DRAM stall equals simulateSystolic's
 * when the SRAMs keep up, as they do in the shipped files).
 */
const simulateDenseSystolic = (acc: DenseSystolicAccelerator, layer: SimLayer, opts: SimulateOptions): SimResult => {
  const rows = opts.rows ?? acc.peArray.rows
  const cols = opts.cols ?? acc.peArray.cols
  const dataflow = opts.dataflow ?? acc.defaultDataflow
  const g = layer.gemm
  const computeCycles = opts.reference === true
    ? pipelineCyclesStepped(systolicFoldPlanInOrder(g, dataflow, rows, cols, 1), Infinity)
    : pipelineCycles(systolicFoldPlan(g, dataflow, rows, cols, 1), Infinity)
  const s = scaleSimCounts(g, dataflow, rows, cols)
  // A conv's raw ifmap sits in DRAM and the SRAM lowers it on chip, as every other family assumes (the
  // dense baseline must not pay im2col copies its sparse rivals do not); simulateSystolic keeps
  // SCALE-Sim's accounting, where DRAM serves every copy.
  const d = dramTraffic(g, dataflow, rows, cols, sramCapacities(acc), loweredIfmapWords(g, opts.conv) ?? undefined)
  return finishRow({
    layer,
    acc,
    mechanism: "dense",
    aOperand: operandLabel(layer.a),
    bOperand: operandLabel(layer.b),
    aDensity: operandDensity(layer.a),
    bDensity: operandDensity(layer.b),
    arrayRows: rows,
    arrayCols: cols,
    peSlots: rows * cols,
    computeCycles,
    macs: g.m * g.n * g.k,
    gatedMacs: 0,
    effectualMacs: effectualMacs(layer.a, layer.b),
    traffic: {
      dram: { ifmap: { reads: d.ifmapReads, writes: 0 }, filter: { reads: d.filterReads, writes: 0 }, ofmap: { reads: d.ofmapReads, writes: d.ofmapWrites } },
      onChip: { ifmap: { reads: s.ifmapSramReads, writes: 0 }, filter: { reads: s.filterSramReads, writes: 0 }, ofmap: { reads: 0, writes: s.ofmapSramWritesDemand } },
    },
  })
}

/** Any family, one layer. */
export const simulate = (acc: Accelerator, layer: SimLayer, opts: SimulateOptions = {}): SimResult => {
  switch (acc.family) {
    case "dense-systolic":
      return simulateDenseSystolic(acc, layer, opts)
    case "nm-training":
      return simulateNmTraining(acc, layer, opts)
    case "row-stationary":
      return simulateRowStationary(acc, layer, opts)
    case "one-sided-skipping":
      return simulateOneSided(acc, layer, opts)
    case "two-sided-skipping":
      return simulateTwoSided(acc, layer, opts)
    case "neuromorphic":
      return simulateNeuromorphic(acc, layer, opts)
  }
}

/** A traced (layer, pass) with its real masks. Neuromorphic replays use the ifmap mask as the events. */
export const simLayerFromTrace = (r: TraceRecord): SimLayer => ({
  name: r.layer,
  pass: r.pass,
  gemm: { m: r.gemm.m, n: r.gemm.n, k: r.gemm.k },
  a: { kind: "trace", trace: r.a },
  b: { kind: "trace", trace: r.b },
})

/** A layer with statistical operands; every operand gets its own seed derived from `seed`, the name and the pass. */
export const statisticalLayer = (name: string, pass: Pass | null, gemm: GemmDims, a: OperandSpec, b: OperandSpec, seed: number): SimLayer => ({
  name,
  pass,
  gemm,
  a: statisticalOperand(a, gemm.m, gemm.k, fnvDeriveSeed(seed, name, pass ?? "", "a"), reductionAxis("a")),
  b: statisticalOperand(b, gemm.k, gemm.n, fnvDeriveSeed(seed, name, pass ?? "", "b"), reductionAxis("b")),
})

/**
 * A layer's shape, from which its training GEMMs follow. `inputGradient: false` marks a layer that
 * reads the network's input: nothing consumes that gradient, so training skips its backward-data
 * GEMM (the engine does too: it computes dX only for inputs that require a gradient).
 */
export type LayerShape =
  | { readonly kind: "linear"; readonly name: string; readonly batch: number; readonly inFeatures: number; readonly outFeatures: number; readonly inputGradient?: boolean | undefined }
  | { readonly kind: "conv"; readonly name: string; readonly conv: ConvDims; readonly inputGradient?: boolean | undefined }

/**
 * The GEMMs of one training step (see trace/observation.ts for the operand roles):
 *   forward          M = batch·positions, K = Cin·R·S,  N = Cout
 *   backward-data    M = batch·input positions, K = Cout·R·S, N = Cin (transposed conv)
 *   backward-weight  M = Cout, K = batch·positions, N = Cin·R·S
 * For a conv, backward-data is the transposed convolution an accelerator runs as a stride-1 conv of
 * dY (padded by R−1−p) with the flipped filters, so its `conv` is that conv; the engine instead
 * traces the col2im form (M = batch·positions, K = Cout, N = Cin·R·S). Strided convs (dY dilated)
 * and non-square filters get no conv for that pass.
 */
export const trainingGemms = (shape: LayerShape): ReadonlyArray<{ pass: Pass; gemm: GemmDims; conv: ConvDims | null }> => {
  const keep = (passes: ReadonlyArray<{ pass: Pass; gemm: GemmDims; conv: ConvDims | null }>) =>
    shape.inputGradient === false ? passes.filter((p) => p.pass !== "backward-data") : passes
  if (shape.kind === "linear") {
    const { batch: b, inFeatures: i, outFeatures: o } = shape
    return keep([
      { pass: "forward", gemm: { m: b, n: o, k: i }, conv: null },
      { pass: "backward-data", gemm: { m: b, n: i, k: o }, conv: null },
      { pass: "backward-weight", gemm: { m: o, n: i, k: b }, conv: null },
    ])
  }
  const c = shape.conv
  const f = gemmFromConv(c)
  const rs = c.filterHeight * c.filterWidth
  const inPositions = c.batch * c.ifmapHeight * c.ifmapWidth
  const e = convOutputSize(c.ifmapHeight, c.filterHeight, c.stride, c.padding)
  const fw = convOutputSize(c.ifmapWidth, c.filterWidth, c.stride, c.padding)
  const transposed: ConvDims | null =
    c.stride === 1 && c.filterHeight === c.filterWidth && c.padding <= c.filterHeight - 1
      ? { batch: c.batch, ifmapHeight: e, ifmapWidth: fw, filterHeight: c.filterHeight, filterWidth: c.filterWidth, channels: c.numFilters, numFilters: c.channels, stride: 1, padding: c.filterHeight - 1 - c.padding }
      : null
  return keep([
    { pass: "forward", gemm: f, conv: c },
    { pass: "backward-data", gemm: { m: inPositions, n: c.channels, k: c.numFilters * rs }, conv: transposed },
    { pass: "backward-weight", gemm: { m: c.numFilters, n: c.channels * rs, k: f.m }, conv: null },
  ])
}

/**
 * Statistical operands for one training step of a method:
 *   dense: everything dense;
 *   bdwp:  BDWP (SAT): W pruned N:M along K for forward and Wᵀ pruned N:M along Cout for
 *          backward-data (both the b operand, grouped along that pass's K); weight-gradient dense;
 *   activations: a uniform ifmap density for every pass (ReLU zeros, as activation skipping sees them).
 */
export type TrainingMethod =
  | { readonly kind: "dense" }
  | { readonly kind: "bdwp"; readonly n: number; readonly m: number }
  | { readonly kind: "activations"; readonly density: number; readonly weightDensity?: number | undefined }

export const trainingStepLayers = (shape: LayerShape, method: TrainingMethod, seed: number): ReadonlyArray<{ layer: SimLayer; conv: ConvDims | null }> =>
  trainingGemms(shape).map(({ pass, gemm, conv }) => {
    const [a, b]: [OperandSpec, OperandSpec] =
      method.kind === "dense"
        ? [{ kind: "dense" }, { kind: "dense" }]
        : method.kind === "bdwp"
          ? [{ kind: "dense" }, pass === "backward-weight" ? { kind: "dense" } : { kind: "nm", n: method.n, m: method.m }]
          : [{ kind: "uniform", density: method.density }, { kind: "uniform", density: pass === "backward-weight" ? 1 : (method.weightDensity ?? 1) }]
    return { layer: statisticalLayer(shape.name, pass, gemm, a, b, seed), conv }
  })

export interface IterationSummary {
  readonly cycles: number
  /** Mask-generation cycles not hidden behind the dense weight-gradient pass. */
  readonly exposedMaskGenCycles: number
  readonly macs: number
  readonly energyPj: number
}

/**
 * Sum one training step's rows. On an nm-training array with overlapped mask generation, the masks
 * are generated while the dense weight-gradient GEMMs run; only what exceeds them is exposed.
 */
export const iterationSummary = (acc: Accelerator, results: ReadonlyArray<SimResult>): IterationSummary => {
  const rows = results.map((r) => r.row)
  const cycles = rows.reduce((s, r) => s + r.cycles, 0)
  const overlapped = acc.family === "nm-training" && (acc as NmTrainingAccelerator).nmTraining.maskGeneration.overlapped
  const maskGen = rows.reduce((s, r) => s + r.maskGenCycles, 0)
  const hiddenUnder = rows.filter((r) => r.pass === "backward-weight").reduce((s, r) => s + r.cycles, 0)
  const exposed = overlapped ? Math.max(0, maskGen - hiddenUnder) : 0
  return {
    cycles: cycles + exposed,
    exposedMaskGenCycles: exposed,
    macs: rows.reduce((s, r) => s + r.macs, 0),
    energyPj: results.reduce((s, r) => s + r.energy.totalPj, 0),
  }
}
