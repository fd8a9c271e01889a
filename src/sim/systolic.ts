import type { Accelerator, SystolicDataflow, TensorName } from "../hardware/index.ts"
import type { GemmDims, Pass } from "../trace/index.ts"
import { BELOW, boundaryWords, energyOf, FILTER, gemmProblem, IFMAP, OFMAP, POS_COLS, POS_DRAM, POS_GLB, POS_ROWS, POSITIONS, relevance, zeroCounts, type Loop, type Problem } from "../cost/index.ts"
import { sramCapacities } from "./machine.ts"
import { scaleSimCounts } from "./scalesim.ts"
import type { LayerWorkload } from "./workload.ts"

export type SystolicTiming = "scalesim" | "default"

export interface SystolicOptions {
  readonly dataflow: SystolicDataflow
  readonly timing: SystolicTiming
  /** Override the accelerator's PE array (for sweeps). */
  readonly rows?: number | undefined
  readonly cols?: number | undefined
}

/** One tidy result row per (layer, pass, accelerator, dataflow, timing). Counts are in words. */
export interface LayerResult {
  readonly layer: string
  readonly pass: Pass | null
  readonly accelerator: string
  readonly dataflow: SystolicDataflow
  readonly timing: SystolicTiming
  readonly arrayRows: number
  readonly arrayCols: number
  readonly cycles: number
  readonly computeCycles: number
  readonly stallCycles: number
  /** MACs / (cycles · rows · cols). */
  readonly utilization: number
  readonly macs: number
  readonly denseMacs: number
  readonly sram: { readonly ifmapReads: number; readonly filterReads: number; readonly ofmapWrites: number }
  /** `ofmapReads` are partial sums brought back when an accumulating block does not fit on chip. */
  readonly dram: { readonly ifmapReads: number; readonly filterReads: number; readonly ofmapWrites: number; readonly ofmapReads: number }
  readonly dramBytes: number
  readonly energyPj: number
  readonly energyByComponentPj: { readonly mac: number; readonly sram: number; readonly dram: number }
}

export interface DramTraffic {
  readonly ifmapReads: number
  readonly filterReads: number
  readonly ofmapWrites: number
  readonly ofmapReads: number
}

/**
 * DRAM words for one layer, from how each dataflow's fold order reuses data (col folds outer, row
 * folds inner, as SCALE-Sim iterates) and whether the reused data fits its SRAM:
 *   os: the filter column block stays across the inner loop; the whole ifmap is re-streamed per col
 *       fold unless it all fits; outputs finish inside a fold and are written once.
 *   ws: each weight block is used once; the ifmap is re-streamed per col fold unless it fits; the
 *       M×C output block accumulates over the K folds, spilling partial sums if it does not fit.
 *   is: each ifmap block is used once; the filter is re-streamed per col fold unless it fits; the
 *       C×N output block accumulates over the K folds, spilling if it does not fit.
 * Capacities are in words; 0 means the tensor has no SRAM and every array access goes to DRAM.
 * `ifmapDistinctWords`, for an ifmap operand that is a conv's im2col lowering, is the raw ifmap's
 * size: when that fits its SRAM the array lowers it on chip, so DRAM delivers each word once rather
 * than once per im2col copy.
 *
 * The words are counted by the cost stage's loop-nest model (`boundaryWords`, the function the
 * scheduler's mappings are costed with), on the fold nest: a tensor that fits is one tile fetched
 * once; one that does not is refetched on every fold loop around it, since the array keeps nothing
 * between folds.
 */
export const dramTraffic = (
  g: GemmDims,
  dataflow: SystolicDataflow,
  rows: number,
  cols: number,
  capacityWords: Readonly<Record<TensorName, number>>,
  ifmapDistinctWords?: number,
): DramTraffic => {
  const { m, n, k } = g
  const fits = (t: TensorName, words: number): boolean => words <= capacityWords[t]
  const distinct = Math.min(m * k, ifmapDistinctWords ?? m * k)
  const nest = foldNest(g, dataflow, rows, cols)
  const words = (t: number, refetched: boolean): number =>
    boundaryWords(nest.problem, relevance(nest.problem), nest.factors, refetched ? nest.folds : [], refetched ? nest.folds.length : 0, t, BELOW.dram)
  const ifmapOnce = (refetchedUnlessFits: boolean): number => (fits("ifmap", distinct) ? distinct : words(IFMAP, refetchedUnlessFits))
  const accumulate = (blockWords: number): { ofmapWrites: number; ofmapReads: number } => {
    const writes = words(OFMAP, !fits("ofmap", blockWords))
    return { ofmapWrites: writes, ofmapReads: writes - m * n }
  }
  switch (dataflow) {
    case "os":
      return { ifmapReads: ifmapOnce(true), filterReads: words(FILTER, !fits("filter", k * Math.min(cols, n))), ofmapWrites: m * n, ofmapReads: 0 }
    case "ws":
      return { ifmapReads: ifmapOnce(true), filterReads: words(FILTER, false), ...accumulate(m * Math.min(cols, n)) }
    case "is":
      return { ifmapReads: ifmapOnce(false), filterReads: words(FILTER, !fits("filter", k * n)), ...accumulate(Math.min(cols, m) * n) }
  }
}

/** The fold nest of a dataflow as a loop nest over the GEMM (dims M, N, K): its factors and its two fold loops, outer first. */
interface FoldNest {
  readonly problem: Problem
  readonly factors: ReadonlyArray<ReadonlyArray<number>>
  readonly folds: ReadonlyArray<Loop>
}

const M_DIM = 0
const N_DIM = 1
const K_DIM = 2

/**
 * SCALE-Sim's placements: os puts M on rows and N on cols and streams K; ws puts K on rows and N on
 * cols and streams M; is puts K on rows and M on cols and streams N. Each spatial dim folds at DRAM.
 */
const foldNest = (g: GemmDims, dataflow: SystolicDataflow, rows: number, cols: number): FoldNest => {
  const problem = gemmProblem(g)
  const sizes = [g.m, g.n, g.k]
  const [rowDim, colDim, streamed] = dataflow === "os" ? [M_DIM, N_DIM, K_DIM] : dataflow === "ws" ? [K_DIM, N_DIM, M_DIM] : [K_DIM, M_DIM, N_DIM]
  const factors = Array.from({ length: POSITIONS }, () => [1, 1, 1])
  const rowTile = Math.min(rows, sizes[rowDim]!)
  const colTile = Math.min(cols, sizes[colDim]!)
  factors[POS_ROWS]![rowDim] = rowTile
  factors[POS_COLS]![colDim] = colTile
  factors[POS_DRAM]![rowDim] = Math.ceil(sizes[rowDim]! / rowTile)
  factors[POS_DRAM]![colDim] = Math.ceil(sizes[colDim]! / colTile)
  factors[POS_GLB]![streamed] = sizes[streamed]!
  return { problem, factors, folds: [{ dim: colDim, pos: POS_DRAM }, { dim: rowDim, pos: POS_DRAM }] }
}

const checkDim = (name: string, v: number): number => {
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`simulateSystolic: ${name} must be a positive integer, got ${v}`)
  return v
}

/**
 * A dense systolic array running one GEMM.
 *
 * `scalesim` reproduces SCALE-Sim v2's "Total Cycles" (the index of the last demand row, one less
 * than `computeCycles`, the demand-matrix row count) and its SRAM read/write counts exactly (see scalesim.ts); words are one byte and there are no memory stalls,
 * because SCALE-Sim's own stall model is a trace replay this does not imitate. DRAM traffic is
 * this simulator's reuse model, not SCALE-Sim's.
 *
 * `default` overlaps folds with double buffering: the first fold pays the full fill and drain, each
 * later fold costs its stream length T, or the R cycles to shift the next stationary block in (or the
 * finished outputs out) when that is longer. DRAM traffic beyond what the DRAM bandwidth can move in
 * those cycles becomes stall cycles.
 */
export const simulateSystolic = (acc: Accelerator, layer: LayerWorkload, opts: SystolicOptions): LayerResult => {
  const rows = checkDim("rows", opts.rows ?? acc.peArray.rows)
  const cols = checkDim("cols", opts.cols ?? acc.peArray.cols)
  const g = layer.gemm
  checkDim("M", g.m)
  checkDim("N", g.n)
  checkDim("K", g.k)
  const s = scaleSimCounts(g, opts.dataflow, rows, cols)
  const macs = g.m * g.n * g.k
  const wordBytes = opts.timing === "scalesim" ? 1 : acc.datatype.wordBytes
  const dram = dramTraffic(g, opts.dataflow, rows, cols, sramCapacities(acc, wordBytes))
  const dramWords = dram.ifmapReads + dram.filterReads + dram.ofmapWrites + dram.ofmapReads

  let computeCycles: number
  let stallCycles: number
  let sram: LayerResult["sram"]
  if (opts.timing === "scalesim") {
    computeCycles = s.computeCycles
    stallCycles = 0
    sram = { ifmapReads: s.ifmapSramReads, filterReads: s.filterSramReads, ofmapWrites: s.ofmapSramWrites }
  } else {
    computeCycles = s.cyclesPerFold + (s.folds - 1) * Math.max(s.temporal, rows)
    const dramCycles = Math.ceil(dramWords / acc.memory[0].bandwidthWordsPerCycle)
    stallCycles = Math.max(0, dramCycles - computeCycles)
    sram = { ifmapReads: s.ifmapSramReads, filterReads: s.filterSramReads, ofmapWrites: s.ofmapSramWritesDemand }
  }
  // SCALE-Sim users compare against COMPUTE_REPORT.csv, which prints the last demand row's index.
  const cycles = opts.timing === "scalesim" ? s.reportedTotalCycles : computeCycles + stallCycles

  const energy = energyOf(acc, {
    macs,
    gatedMacs: 0,
    sramReads: { ifmap: sram.ifmapReads, filter: sram.filterReads, ofmap: 0 },
    sramWrites: { ...zeroCounts, ofmap: sram.ofmapWrites },
    dramReads: { ifmap: dram.ifmapReads, filter: dram.filterReads, ofmap: dram.ofmapReads },
    dramWrites: { ...zeroCounts, ofmap: dram.ofmapWrites },
  })

  return {
    layer: layer.name,
    pass: layer.pass,
    accelerator: acc.name,
    dataflow: opts.dataflow,
    timing: opts.timing,
    arrayRows: rows,
    arrayCols: cols,
    cycles,
    computeCycles,
    stallCycles,
    utilization: macs / ((computeCycles + stallCycles) * rows * cols),
    macs,
    denseMacs: macs,
    sram,
    dram,
    dramBytes: dramWords * wordBytes,
    energyPj: energy.totalPj,
    energyByComponentPj: energy.byComponentPj,
  }
}
