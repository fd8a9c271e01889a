import {
  denseScales,
  FILTER,
  gemmProblem,
  IFMAP,
  OFMAP,
  POS_ROWS,
  relevance,
  type Mapping,
  type SparseScales,
  type Visits,
} from "../../cost/index.ts"
import { baseArch } from "../arch.ts"
import { canonicalMapping } from "../canonical.ts"
import type { MapConstraints } from "../constraints.ts"
import { preparedOf, type FamilyModel, type Machine, type Prepared } from "../family.ts"
import {
  exactElementsLimit,
  encodedSize,
  isLargeStatistical,
  operandNnz,
  packedMask,
  popRange,
  sampleBlock,
} from "../operand.ts"
import { loweringOf, type Layer } from "../workload.ts"

/**
 * Cnvlutin-like one-sided skipping (Albericio et al., ISCA 2016): the rows are neuron lanes that
 * split the reduction, each walking the nonzero activations of its own brick of `brickSize`
 * consecutive elements and multiplying each by the filters across the cols; the lanes resynchronize
 * after every window of lanes × brick activations, so the window's densest brick sets its pace (a
 * window whose lanes are all empty still costs a cycle to fetch). Load imbalance in the real masks
 * is the point: it is measured, window by window, and reported.
 */
interface Skip {
  /** Σ over (row, window) of the slowest lane's nonzeros (at least 1). */
  readonly total: number
  /** The same with each window's nonzeros spread evenly over the lanes. */
  readonly balanced: number
}

interface OneSidedDetail {
  readonly brick: number
  readonly skip: Map<number, Skip>
}

/** The longest row of a large statistical ifmap drawn whole: 4M elements, the shuffle scratch's most. */
const LONGEST_ROW = 1 << 22

const skipOf = (p: Prepared, lanes: number): Skip => {
  const d = p.detail as OneSidedDetail
  const hit = d.skip.get(lanes)
  if (hit !== undefined) return hit
  const { m, k } = p.layer.gemm
  const span = lanes * d.brick
  const windows = Math.ceil(k / span)
  let total = 0
  let balanced = 0
  if (p.layer.a.kind === "dense") {
    // Lane 0 holds the most of every window: a full brick, or what the last window has left.
    for (let w = 0; w < windows; w++) {
      const left = Math.min(span, k - w * span)
      total += Math.min(d.brick, left)
      balanced += Math.ceil(left / lanes)
    }
    total *= m
    balanced *= m
  } else {
    // A large statistical ifmap runs on a sample of its rows (all alike), scaled to all of them; a row
    // past LONGEST_ROW (a reduction of 10⁹ would draw gigabytes) on a sample of its windows, alike too.
    const large = isLargeStatistical(p.layer.a)
    const rows = large ? Math.max(1, Math.min(m, Math.floor(exactElementsLimit() / k))) : m
    const sampledWindows = large && k > LONGEST_ROW ? Math.max(1, Math.floor(LONGEST_ROW / span)) : windows
    const cols = Math.min(k, sampledWindows * span)
    const a = packedMask(rows < m || cols < k ? sampleBlock(p.layer.a, rows, cols) : p.layer.a)
    for (let row = 0; row < rows; row++)
      for (let w = 0; w < sampledWindows; w++) {
        let worst = 0
        let sum = 0
        for (let l = 0; l < lanes; l++) {
          const lo = w * span + l * d.brick
          if (lo >= cols) break
          const c = popRange(a, row, lo, Math.min(cols, lo + d.brick))
          sum += c
          if (c > worst) worst = c
        }
        total += Math.max(1, worst)
        balanced += Math.max(1, Math.ceil(sum / lanes))
      }
    const scale = (m / rows) * (windows / sampledWindows)
    total = Math.round(total * scale)
    balanced = Math.min(total, Math.round(balanced * scale))
  }
  const s = { total, balanced }
  d.skip.set(lanes, s)
  return s
}

const prepare = (machine: Machine, layer: Layer): Prepared => {
  const { acc, arch } = machine
  if (acc.family !== "one-sided-skipping") throw new Error(`one-sided model given a ${acc.family} accelerator`)
  const g = layer.gemm
  const words = Math.max(1, g.m * g.k)
  const nnzA = operandNnz(layer.a)
  const enc = encodedSize(layer.a, acc.oneSided.ifmapEncoding, arch.wordBits)
  const ifmap = { data: enc.dataWords / words, meta: enc.metadataWords / words }
  // The ifmap moves and sits in its sparse format; a lane fetches weights only for its nonzero activations.
  const scales: SparseScales = {
    ...denseScales,
    dram: [ifmap, denseScales.dram[FILTER]!, denseScales.dram[OFMAP]!],
    chip: [ifmap, denseScales.chip[FILTER]!, denseScales.chip[OFMAP]!],
    arrayReads: [1, nnzA / words, 1],
  }
  return preparedOf({
    machine,
    layer,
    problem: gemmProblem(g, loweringOf(g, layer.conv)),
    mechanism: "one-sided",
    scales,
    issued: nnzA * g.n,
    metadataDecode: acc.energy.metadata ?? null,
    detail: { brick: acc.oneSided.brickSize, skip: new Map() } satisfies OneSidedDetail,
  })
}

/** Lanes split the reduction (rows); filters run side by side (cols). */
const spatial = (p: Prepared) => {
  const rel = relevance(p.problem)
  return {
    rows: p.problem.sizes.map((_, d) => !rel[OFMAP]![d]!),
    cols: p.problem.sizes.map((_, d) => rel[FILTER]![d]! && rel[OFMAP]![d]! && !rel[IFMAP]![d]!),
  }
}

const canonical = (p: Prepared, c: MapConstraints): Mapping | string => {
  const [, N, K] = p.problem.sizes as [number, number, number]
  const arch = p.machine.arch
  return canonicalMapping(p, c, {
    rows: [1, 1, Math.min(K, arch.rows)],
    cols: [1, Math.min(N, arch.cols), 1],
    temporal: [1, 0, 2],
  })
}

/**
 * The lanes' windows set the cycles of one pass over the ifmap; the mapping decides how many passes
 * (the filter tiles across the cols) replay them.
 */
const compute = (p: Prepared, m: Mapping, v: Visits) => {
  const { m: rows, k } = p.layer.gemm
  const lanes = m.factors[POS_ROWS]![2]!
  const skip = skipOf(p, lanes)
  const passes = v.temporalSteps / (rows * Math.ceil(k / lanes))
  return { cycles: passes * skip.total, fillDrainCycles: 0, imbalanceCycles: passes * (skip.total - skip.balanced) }
}

/**
 * The lanes hold no weights: each nonzero activation fetches its weight for each of the pass's
 * filters from the synapse buffer. So the filter's tile is refilled on every step of the loops
 * above the array, the ones that do not index it included: with K ≤ lanes, a tile kept across the
 * rows would be read once per pass however many rows' activations use it. The activations (in the
 * brick buffers) and the outputs (in the adder trees' registers) stay in the array.
 */
const arrayRetains = (): ReadonlyArray<boolean> => [true, false, true]

export const oneSided: FamilyModel = {
  family: "one-sided-skipping",
  timings: ["default"],
  arch: (acc, opts) => baseArch(acc, opts, null),
  prepare,
  spatial,
  check: () => null,
  canonical,
  arrayRetains,
  compute,
}
