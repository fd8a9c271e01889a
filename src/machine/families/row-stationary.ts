import {
  convProblem,
  DENSE_SCALE,
  denseScales,
  gemmProblem,
  IFMAP,
  OFMAP,
  POS_ROWS,
  relevance,
  reductionDims,
  type Mapping,
  type SparseScales,
  type Visits,
} from "../../cost/index.ts"
import { baseArch, leakagePerCycle } from "../arch.ts"
import { canonicalMapping } from "../canonical.ts"
import type { MapConstraints } from "../constraints.ts"
import { preparedOf, type FamilyModel, type Machine, type Prepared } from "../family.ts"
import { encodedSize, operandNnz } from "../operand.ts"
import { loweringOf, type Layer } from "../workload.ts"

/**
 * Eyeriss-like row-stationary array (Chen et al., ISCA 2016), optionally with Eyeriss v1's zero
 * gating: a zero input activation gates its MAC, the filter scratchpad read and the partial-sum
 * update (energy), while the schedule is unchanged (cycles). Every PE has three scratchpads of the
 * file's `rfWords`; a mapping whose partial sums do not fit the psum scratchpad keeps them one
 * level up, in the global buffer, where every reload and write-back is counted.
 */
const prepare = (machine: Machine, layer: Layer): Prepared => {
  const { acc, arch } = machine
  if (acc.family !== "row-stationary") throw new Error(`row-stationary model given a ${acc.family} accelerator`)
  const rs = acc.rowStationary
  const g = layer.gemm
  // A forward conv keeps its 2-D structure (rows of filters slide over rows of the ifmap); anything
  // else (a linear layer, a backward pass) is its GEMM.
  const problem =
    layer.conv !== null && loweringOf(g, layer.conv) !== undefined ? convProblem(layer.conv) : gemmProblem(g)
  const dense = g.m * g.n * g.k
  const nnzA = operandNnz(layer.a)
  const gating = rs.gating === "zero-ifmap"
  const dA = nnzA / Math.max(1, g.m * g.k)
  const issued = gating ? nnzA * g.n : dense
  // Eyeriss v1 codes ifmaps between DRAM and the chip only; the lowered operand's code length per
  // word is the raw ifmap's (same density).
  const enc = encodedSize(layer.a, rs.ifmapEncoding, arch.wordBits, rs.runLengthBits)
  const words = Math.max(1, g.m * g.k)
  const scales: SparseScales = {
    ...denseScales,
    dram: [{ data: enc.dataWords / words, meta: enc.metadataWords / words }, DENSE_SCALE, DENSE_SCALE],
    operandReads: gating ? [1, dA, dA] : [1, 1, 1],
  }
  return preparedOf({
    machine,
    layer,
    problem,
    mechanism: gating ? "gating" : "dense",
    scales,
    issued,
    gated: dense - issued,
  })
}

/** Partial sums accumulate up a column of PEs: the cols never take a reduction dim. */
const spatial = (p: Prepared) => ({
  rows: p.problem.sizes.map(() => true),
  cols: p.problem.sizes.map((_, d) => relevance(p.problem)[OFMAP]![d]!),
})

const canonical = (p: Prepared, c: MapConstraints): Mapping | string => {
  const { problem } = p
  const arch = p.machine.arch
  const rf = arch.rf!
  const [capI, capF, capO] = rf.capacityWords as [number, number, number]
  const n = problem.sizes.length
  const ones = (): number[] => new Array<number>(n).fill(1)
  const rows = ones()
  const cols = ones()
  const rfF = ones()
  if (problem.kind === "conv") {
    // N K C P Q R S. A PE convolves one filter row (S) with one ifmap row, Q_rf outputs at a time;
    // filter rows (R, folded if taller than the array) and channels go down, ofmap rows (P) and
    // filters across.
    const [, K, C, P, Q, R, S] = problem.sizes as [number, number, number, number, number, number, number]
    const stride = problem.axes[IFMAP]!.find((a) => a.kind === "window")
    const st = stride !== undefined && stride.kind === "window" ? stride.stride : 1
    const sRf = Math.min(S, capI, capF)
    const qRf = sRf < S ? 1 : Math.max(1, Math.min(Q, Math.floor((capI - S) / st) + 1, capO))
    rfF[6] = sRf
    rfF[4] = qRf
    const rRows = R <= arch.rows ? R : Math.ceil(R / Math.ceil(R / arch.rows))
    rows[5] = rRows
    rows[2] = Math.max(1, Math.min(C, Math.floor(arch.rows / rRows)))
    cols[3] = Math.min(P, arch.cols)
    cols[1] = Math.max(1, Math.min(K, Math.floor(arch.cols / cols[3]!)))
    return canonicalMapping(p, c, { rows, cols, rf: { factors: rfF, order: [4, 6] }, temporal: [0, 1, 3, 4, 2, 5, 6] })
  }
  // M N K: a PE keeps one activation and accumulates N_rf outputs against a row of weights.
  const [M, N, K] = problem.sizes as [number, number, number]
  rows[2] = Math.min(K, arch.rows)
  cols[0] = Math.min(M, arch.cols)
  rfF[1] = Math.max(1, Math.min(N, capO, capF))
  return canonicalMapping(p, c, { rows, cols, rf: { factors: rfF, order: [1] }, temporal: [0, 1, 2] })
}

/** One MAC per PE per cycle, then the partial sums flow up the rows that split the reduction. */
const compute = (p: Prepared, m: Mapping, v: Visits) => {
  let reductionRows = 1
  for (const d of reductionDims(p.problem)) reductionRows *= m.factors[POS_ROWS]![d]!
  const fill = reductionRows - 1
  return { cycles: v.temporalSteps + fill, fillDrainCycles: fill, imbalanceCycles: 0 }
}

export const rowStationary: FamilyModel = {
  family: "row-stationary",
  timings: ["default"],
  arch: (acc, opts) => {
    if (acc.family !== "row-stationary") throw new Error(`row-stationary model given a ${acc.family} accelerator`)
    const rs = acc.rowStationary
    return baseArch(acc, opts, {
      capacityWords: [rs.rfWords.ifmap, rs.rfWords.filter, rs.rfWords.ofmap],
      readEnergyPjPerWord: rs.rfReadEnergyPjPerWord,
      writeEnergyPjPerWord: rs.rfWriteEnergyPjPerWord,
      leakagePjPerCycle: leakagePerCycle(rs.rfLeakage, acc.clockGhz),
    })
  },
  prepare,
  spatial,
  check: () => null,
  canonical,
  compute,
}
