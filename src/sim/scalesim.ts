import type { SystolicDataflow } from "../hardware/index.ts"
import type { GemmDims } from "../trace/index.ts"

/**
 * Closed forms for what SCALE-Sim v2 counts for one layer, derived from its demand-matrix builders
 * (scalesim/compute/systolic_compute_{os,ws,is}.py) and checked against a cell-by-cell rebuild of
 * those matrices in test/sim/scalesim-reference.ts.
 *
 * SCALE-Sim maps the GEMM onto the array as (Sr, Sc, T): Sr operand rows on array rows, Sc on array
 * columns, T streamed in time (scalesim/topology_utils.py, calc_spatio_temporal_params):
 *   os: Sr = M, Sc = N, T = K      ws: Sr = K, Sc = N, T = M      is: Sr = K, Sc = M, T = N
 * It runs `for fc in col folds: for fr in row folds`, each fold padded to the full R×C array with
 * -1 (null) requests, and concatenates the folds' demand matrices without overlap, one row per cycle.
 */
export interface ScaleSimCounts {
  readonly spatialRows: number
  readonly spatialCols: number
  readonly temporal: number
  readonly rowFolds: number
  readonly colFolds: number
  readonly folds: number
  /** Demand-matrix rows per fold: fill + stream + drain, identical for the three operands. */
  readonly cyclesPerFold: number
  /** Demand-matrix rows over the layer: the cycles the array is busy with no memory stalls. */
  readonly computeCycles: number
  /**
   * What COMPUTE_REPORT.csv prints as "Total Cycles" when there are no stalls: SCALE-Sim reports the
   * index of the last OFMAP demand row (double_buffered_scratchpad_mem.py, `ofmap_serviced_cycles[-1]`),
   * one less than the row count.
   */
  readonly reportedTotalCycles: number
  /** DETAILED_ACCESS_REPORT "SRAM IFMAP Reads" (= non-null ifmap demand entries). */
  readonly ifmapSramReads: number
  /** "SRAM Filter Reads" (= non-null filter demand entries). */
  readonly filterSramReads: number
  /**
   * "SRAM OFMAP Writes" as SCALE-Sim reports it. For os this includes an extra `R + C` per fold:
   * systolic_compute_os.py adds `this_fold_demand.shape[0] + this_fold_demand.shape[1]` to
   * `ofmap_writes` after the flip, on top of the fold's real writes.
   */
  readonly ofmapSramWrites: number
  /** Non-null ofmap demand entries: the writes the array really makes. */
  readonly ofmapSramWritesDemand: number
  /** COMPUTE_REPORT "Mapping Efficiency %" / 100: mean over folds of used PEs / (R·C). */
  readonly mappingEfficiency: number
}

const ceilDiv = (a: number, b: number): number => Math.ceil(a / b)

export const spatioTemporal = (g: GemmDims, dataflow: SystolicDataflow): { sr: number; sc: number; t: number } =>
  dataflow === "os" ? { sr: g.m, sc: g.n, t: g.k } : dataflow === "ws" ? { sr: g.k, sc: g.n, t: g.m } : { sr: g.k, sc: g.m, t: g.n }

export const scaleSimCounts = (g: GemmDims, dataflow: SystolicDataflow, rows: number, cols: number): ScaleSimCounts => {
  const { m, n, k } = g
  const { sr, sc, t } = spatioTemporal(g, dataflow)
  const rowFolds = ceilDiv(sr, rows)
  const colFolds = ceilDiv(sc, cols)
  const folds = rowFolds * colFolds
  // os, per fold: ifmap T rows + (C−1) drain gap, skewed by R−1; ofmap (T−1) prefix + R rows, skewed by C−1.
  // ws/is, per fold: R rows to load the stationary operand, then T + (C−1), skewed by R−1;
  //   the stationary operand's own matrix is R rows + an (R+C+T−2) suffix, unskewed.
  const cyclesPerFold = dataflow === "os" ? t + rows + cols - 2 : 2 * rows + cols + t - 2
  const computeCycles = folds * cyclesPerFold
  // Reads per fold are T × (used rows or cols) of the streamed operands, and the full used block of
  // the stationary one; summing the used extents over a fold index gives back the operand dim.
  const [ifmapSramReads, filterSramReads, ofmapSramWritesDemand] =
    dataflow === "os"
      ? [colFolds * m * k, rowFolds * k * n, m * n]
      : dataflow === "ws"
        ? [colFolds * m * k, k * n, rowFolds * m * n]
        : [m * k, colFolds * k * n, rowFolds * m * n]
  const ofmapSramWrites = dataflow === "os" ? ofmapSramWritesDemand + folds * (rows + cols) : ofmapSramWritesDemand
  return {
    spatialRows: sr,
    spatialCols: sc,
    temporal: t,
    rowFolds,
    colFolds,
    folds,
    cyclesPerFold,
    computeCycles,
    reportedTotalCycles: computeCycles - 1,
    ifmapSramReads,
    filterSramReads,
    ofmapSramWrites,
    ofmapSramWritesDemand,
    // Σ over folds of rowsUsed·colsUsed is Sr·Sc.
    mappingEfficiency: (sr * sc) / (folds * rows * cols),
  }
}
