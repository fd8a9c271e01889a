import type { Accelerator, NmTrainingAccelerator, SystolicDataflow } from "../hardware/index.ts"
import type { ConvDims, GemmDims } from "../trace/index.ts"
import { finishRow, sramCapacities, type SimLayer, type SimResult, type Traffic } from "./machine.ts"
import { effectualMacs, nmOf, operandDensity, operandLabel } from "./operand.ts"
import { pipelineCycles, pipelineCyclesStepped, type FoldPlan } from "./pipeline.ts"
import { scaleSimCounts, spatioTemporal } from "./scalesim.ts"
import { dramTraffic } from "./systolic.ts"
import { loweredIfmapWords } from "./workload.ts"

/**
 * The fold plan of a systolic GEMM in the default (overlapped) timing: first fold pays its load and
 * drain, later folds max(stream, rows). `ratio` is the activation words each used row needs per
 * wave: 1 for dense PEs, M/N for sparse PEs that pick N of every M candidates.
 */
export const systolicFoldPlan = (g: GemmDims, dataflow: SystolicDataflow, rows: number, cols: number, ratio: number): FoldPlan => {
  const { sr, sc, t } = spatioTemporal(g, dataflow)
  const rowFolds = Math.ceil(sr / rows)
  const colFolds = Math.ceil(sc / cols)
  const lastRows = sr - (rowFolds - 1) * rows
  const load = dataflow === "os" ? 0 : rows
  // Col folds outer, row folds inner (SCALE-Sim's order): the partial row fold closes each col fold.
  const classes =
    rowFolds === 1
      ? [{ count: colFolds, stream: t, demand: lastRows * ratio }]
      : colFolds === 1
        ? [
            { count: rowFolds - 1, stream: t, demand: rows * ratio },
            { count: 1, stream: t, demand: lastRows * ratio },
          ]
        : [
            // Order matters only for which fold is last; the closed form sums per class.
            { count: (rowFolds - 1) * colFolds, stream: t, demand: rows * ratio },
            { count: colFolds - 1, stream: t, demand: lastRows * ratio },
            { count: 1, stream: t, demand: lastRows * ratio },
          ]
  return { load, gap: rows, drain: rows + cols - 2, classes }
}

/** Fold plan in execution order, for the stepped twin (col folds outer, row folds inner). */
export const systolicFoldPlanInOrder = (g: GemmDims, dataflow: SystolicDataflow, rows: number, cols: number, ratio: number): FoldPlan => {
  const { sr, sc, t } = spatioTemporal(g, dataflow)
  const rowFolds = Math.ceil(sr / rows)
  const colFolds = Math.ceil(sc / cols)
  const classes = []
  for (let fc = 0; fc < colFolds; fc++)
    for (let fr = 0; fr < rowFolds; fr++) classes.push({ count: 1, stream: t, demand: Math.min(rows, sr - fr * rows) * ratio })
  return { load: dataflow === "os" ? 0 : rows, gap: rows, drain: rows + cols - 2, classes }
}

export interface NmTrainingOptions {
  readonly dataflow?: SystolicDataflow | undefined
  readonly rows?: number | undefined
  readonly cols?: number | undefined
  /** Use the cycle-stepped twin for the compute cycles. */
  readonly reference?: boolean | undefined
  /** Charge N:M mask generation for training passes (BDWP regenerates both masks every step). Default true. */
  readonly maskGeneration?: boolean | undefined
  /** The conv whose im2col lowering the ifmap operand is, if any: its raw ifmap is what DRAM holds. */
  readonly conv?: ConvDims | null | undefined
}

/** How the SAT-like array runs a layer: sparse (compressed K) only when b is N:M along K with the array's M and at most its N. */
export const nmMode = (acc: NmTrainingAccelerator, layer: SimLayer): { sparse: boolean; n: number; m: number; kEff: number; ratio: number } => {
  const hw = acc.peArray.nmSupport ?? { n: 1, m: 1 }
  const nm = nmOf(layer.b)
  const k = layer.gemm.k
  const sparse = nm !== null && nm.axis === "col" && nm.m === hw.m && nm.n <= hw.n && hw.n < hw.m
  return sparse ? { sparse, n: hw.n, m: hw.m, kEff: Math.floor(k / hw.m) * hw.n + Math.min(hw.n, k % hw.m), ratio: hw.m / hw.n } : { sparse, n: hw.n, m: hw.m, kEff: k, ratio: 1 }
}

/**
 * SAT-style N:M training array (Fang et al.). A sparse PE holds N weights of a group of M along
 * the reduction dim plus ceil(log2 M)-bit indices and picks its activations with an M:1 mux, so the
 * GEMM runs with K_eff = floor(K/M)·N + min(N, K mod M) rows of slots while each row needs M/N activation words per
 * wave through a port of `activationPortWordsPerCycle`. Operands without usable N:M structure
 * (unstructured, or N:M along the wrong dim, as a forward-only mask is in backward-data) run dense.
 * Mask generation scans the dense weights for the training passes that use a mask; overlapped, it
 * hides behind the dense weight-gradient pass (the BDWP iteration charges any excess).
 */
export const simulateNmTraining = (acc: NmTrainingAccelerator, layer: SimLayer, opts: NmTrainingOptions = {}): SimResult => {
  const rows = opts.rows ?? acc.peArray.rows
  const cols = opts.cols ?? acc.peArray.cols
  const dataflow = opts.dataflow ?? acc.defaultDataflow
  const g = layer.gemm
  const mode = nmMode(acc, layer)
  const gEff: GemmDims = { m: g.m, n: g.n, k: mode.kEff }
  const port = acc.nmTraining.activationPortWordsPerCycle
  const computeCycles = opts.reference === true
    ? pipelineCyclesStepped(systolicFoldPlanInOrder(gEff, dataflow, rows, cols, mode.ratio), port)
    : pipelineCycles(systolicFoldPlan(gEff, dataflow, rows, cols, mode.ratio), port)

  const usesMask = mode.sparse && (layer.pass === "forward" || layer.pass === "backward-data") && opts.maskGeneration !== false
  const weights = g.k * g.n
  const mg = acc.nmTraining.maskGeneration
  const maskGenCycles = usesMask ? Math.ceil(weights / mg.weightsPerCycle) : 0
  // N rounds of an (M−1)-comparator max search per group of M.
  const compares = usesMask ? Math.ceil(g.k / mode.m) * g.n * (mode.m - 1) * mode.n : 0

  const sEff = scaleSimCounts(gEff, dataflow, rows, cols)
  const wordBits = acc.datatype.wordBytes * 8
  const idxBits = mode.sparse ? Math.ceil(Math.log2(mode.m)) : 0
  const cap = sramCapacities(acc)
  // DRAM holds a conv's raw ifmap and the SRAM lowers it on chip, as the row-stationary model
  // assumes; charging every im2col copy would make a sparse pass, whose compute shrinks by M/N
  // while the copies do not, look DRAM-bound.
  const dramDense = dramTraffic(g, dataflow, rows, cols, cap, loweredIfmapWords(g, opts.conv) ?? undefined)
  const dramEff = dramTraffic(gEff, dataflow, rows, cols, cap)
  const meta = (words: number): number => Math.ceil((words * idxBits) / wordBits)
  const traffic: Traffic = {
    dram: {
      ifmap: { reads: dramDense.ifmapReads, writes: 0 },
      filter: { reads: dramEff.filterReads, writes: 0 },
      "filter-metadata": { reads: meta(dramEff.filterReads), writes: 0 },
      ofmap: { reads: dramEff.ofmapReads, writes: dramEff.ofmapWrites },
    },
    onChip: {
      // Each slot row reads its group's M candidates for N slots.
      ifmap: { reads: Math.ceil(sEff.ifmapSramReads * mode.ratio), writes: 0 },
      filter: { reads: sEff.filterSramReads, writes: 0 },
      "filter-metadata": { reads: meta(sEff.filterSramReads), writes: 0 },
      ofmap: { reads: 0, writes: sEff.ofmapSramWritesDemand },
    },
  }
  const macs = g.m * g.n * mode.kEff
  const actions = [
    ...(mode.sparse && acc.energy.mux !== undefined ? [{ name: "mux", count: macs, energyPjEach: acc.energy.mux.energyPj, source: acc.energy.mux.source }] : []),
    ...(compares > 0 ? [{ name: "maskGeneration", count: compares, energyPjEach: mg.compare.energyPj, source: mg.compare.source }] : []),
  ]
  return finishRow({
    layer,
    acc,
    mechanism: mode.sparse ? `nm:${mode.n}:${mode.m}` : "dense",
    aOperand: operandLabel(layer.a),
    bOperand: operandLabel(layer.b),
    aDensity: operandDensity(layer.a),
    bDensity: operandDensity(layer.b),
    arrayRows: rows,
    arrayCols: cols,
    peSlots: rows * cols,
    computeCycles,
    extraCycles: mg.overlapped ? 0 : maskGenCycles,
    maskGenCycles,
    macs,
    gatedMacs: 0,
    effectualMacs: effectualMacs(layer.a, layer.b),
    traffic,
    actions,
  })
}

/** Narrowing helper for callers holding a plain `Accelerator`. */
export const isNmTraining = (acc: Accelerator): acc is NmTrainingAccelerator => acc.family === "nm-training"
