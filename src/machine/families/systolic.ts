import {
  denseScales,
  FILTER,
  gemmProblem,
  IFMAP,
  indexBits,
  OFMAP,
  POS_COLS,
  POS_ROWS,
  relevance,
  type CountedAction,
  type Mapping,
  type Problem,
} from "../../cost/index.ts"
import type { Accelerator } from "../../hardware/index.ts"
import { baseArch } from "../arch.ts"
import { canonicalMapping } from "../canonical.ts"
import type { MapConstraints } from "../constraints.ts"
import { preparedOf, type FamilyModel, type Machine, type Prepared } from "../family.ts"
import { foldTiming } from "../folds.ts"
import { satisfiesNm } from "../operand.ts"
import { loweringOf, type Layer } from "../workload.ts"

/**
 * A systolic array (TPU-like; SCALE-Sim's os, ws and is). Each PE holds one word of the stationary
 * tensor; the other two flow along the two axes, the inputs forwarded PE to PE and the partial sums
 * reduced along one axis. So the rows take dims the stationary tensor and one streaming tensor
 * share, the cols dims it shares with the other, and no axis takes a dim the stationary tensor does
 * not have: a systolic array cannot reduce along both axes, nor hold two tensors still.
 *
 *   ws (filter stationary): rows ⊆ dims of filter and ifmap (K), cols ⊆ dims of filter and ofmap (N)
 *   os (ofmap stationary):  rows ⊆ dims of ofmap and ifmap (M),  cols ⊆ dims of ofmap and filter (N)
 *   is (ifmap stationary):  rows ⊆ dims of ifmap and filter (K), cols ⊆ dims of ifmap and ofmap (M)
 */
const PATTERNS: ReadonlyArray<{ readonly stationary: number; readonly rows: number; readonly cols: number }> = [
  { stationary: FILTER, rows: IFMAP, cols: OFMAP },
  { stationary: OFMAP, rows: IFMAP, cols: FILTER },
  { stationary: IFMAP, rows: FILTER, cols: OFMAP },
]

const third = (a: number, b: number): number => 3 - a - b
const TENSOR_NAMES = ["ifmap", "filter", "ofmap"] as const

/** Per dim, whether a pattern's rows (cols) may take it. */
const patternAxes = (p: Problem, pat: (typeof PATTERNS)[number]) => {
  const rel = relevance(p)
  const axis = (partner: number) =>
    p.sizes.map((_, d) => rel[pat.stationary]![d]! && rel[partner]![d]! && !rel[third(pat.stationary, partner)]![d]!)
  return { rows: axis(pat.rows), cols: axis(pat.cols) }
}

const fits = (p: Problem, m: Mapping, pat: (typeof PATTERNS)[number]): boolean => {
  const ax = patternAxes(p, pat)
  return p.sizes.every(
    (_, d) => (m.factors[POS_ROWS]![d]! === 1 || ax.rows[d]!) && (m.factors[POS_COLS]![d]! === 1 || ax.cols[d]!),
  )
}

/**
 * The tensor the PEs hold: the mapping's choice, else the dataflow's, else the first pattern (ws, os,
 * is) the spatial placement fits.
 */
export const systolicStationary = (p: Problem, m: Mapping, c: MapConstraints): number | null =>
  m.stationary ?? c.stationary ?? PATTERNS.find((pat) => fits(p, m, pat))?.stationary ?? null

/** N:M PEs: how the array runs a layer's filter operand. */
interface NmMode {
  readonly sparse: boolean
  readonly n: number
  readonly m: number
  readonly kEff: number
  /** Activation words per used row per wave. */
  readonly ratio: number
}

const nmMode = (acc: Accelerator, layer: Layer): NmMode => {
  const k = layer.gemm.k
  const hw = acc.peArray.nmSupport
  if (hw === null || hw.n >= hw.m || !satisfiesNm(layer.b, hw.n, hw.m, "col"))
    return { sparse: false, n: 1, m: 1, kEff: k, ratio: 1 }
  return {
    sparse: true,
    n: hw.n,
    m: hw.m,
    kEff: Math.floor(k / hw.m) * hw.n + Math.min(hw.n, k % hw.m),
    ratio: hw.m / hw.n,
  }
}

interface SystolicDetail {
  readonly ratio: number
  readonly port: number
}

const prepare = (machine: Machine, layer: Layer): Prepared => {
  const { acc, arch } = machine
  const g = layer.gemm
  const lowering = loweringOf(g, layer.conv)
  const mode = nmMode(acc, layer)
  const nmt = acc.family === "nm-training" ? acc.nmTraining : null
  const port = nmt?.activationPortWordsPerCycle ?? Infinity
  if (!mode.sparse)
    return preparedOf({
      machine,
      layer,
      problem: gemmProblem(g, lowering),
      mechanism: "dense",
      detail: { ratio: 1, port } satisfies SystolicDetail,
    })
  // Sparse PEs hold N weights of every group of M along K with ⌈log2 M⌉-bit indices: the array runs
  // the GEMM with K_eff = ⌊K/M⌋·N + min(N, K mod M) slot rows, while the activations stay dense (each
  // slot row reads its group's M candidates, M/N words per slot).
  const kScale = g.k / mode.kEff
  const filter = { data: 1, meta: indexBits(mode.m) / arch.wordBits }
  const ifmap = { data: kScale, meta: 0 }
  const actions: CountedAction[] = []
  if (acc.energy.mux !== undefined)
    actions.push({
      name: "mux",
      count: g.m * g.n * mode.kEff,
      energyPjEach: acc.energy.mux.energyPj,
      source: acc.energy.mux.source,
    })
  let maskGenCycles = 0
  let serialCycles = 0
  if (nmt !== null && (layer.pass === "forward" || layer.pass === "backward-data")) {
    // BDWP regenerates the pass's mask every step: N rounds of an (M−1)-comparator max search per group.
    const mg = nmt.maskGeneration
    maskGenCycles = Math.ceil((g.k * g.n) / mg.weightsPerCycle)
    serialCycles = mg.overlapped ? 0 : maskGenCycles
    actions.push({
      name: "maskGeneration",
      count: Math.ceil(g.k / mode.m) * g.n * (mode.m - 1) * mode.n,
      energyPjEach: mg.compare.energyPj,
      source: mg.compare.source,
    })
  }
  return preparedOf({
    machine,
    layer,
    problem: gemmProblem({ m: g.m, n: g.n, k: mode.kEff }, lowering),
    mechanism: `nm:${mode.n}:${mode.m}`,
    scales: {
      ...denseScales,
      dram: [ifmap, filter, denseScales.dram[OFMAP]!],
      chip: [ifmap, filter, denseScales.chip[OFMAP]!],
    },
    issued: g.m * g.n * mode.kEff,
    actions,
    maskGenCycles,
    serialCycles,
    detail: { ratio: mode.ratio, port } satisfies SystolicDetail,
  })
}

const spatial = (p: Prepared) => {
  const all = PATTERNS.map((pat) => patternAxes(p.problem, pat))
  return {
    rows: p.problem.sizes.map((_, d) => all.some((a) => a.rows[d]!)),
    cols: p.problem.sizes.map((_, d) => all.some((a) => a.cols[d]!)),
  }
}

const check = (p: Prepared, m: Mapping, c: MapConstraints): string | null => {
  if (m.stationary !== undefined && c.stationary !== null && m.stationary !== c.stationary)
    return `dataflow ${c.dataflow} holds the ${TENSOR_NAMES[c.stationary]} still, not the ${TENSOR_NAMES[m.stationary]}`
  const s = systolicStationary(p.problem, m, c)
  if (s === null)
    return "a systolic array holds one tensor still and reduces along one axis at most: no os, ws or is placement has these rows and cols"
  const pat = PATTERNS.find((x) => x.stationary === s)!
  return fits(p.problem, m, pat)
    ? null
    : `with the ${["ifmap", "filter", "ofmap"][s]} stationary, a systolic array's rows and cols cannot take this placement`
}

const canonical = (p: Prepared, c: MapConstraints): Mapping | string => {
  const prob = p.problem
  const arch = p.machine.arch
  const candidates = c.stationary === null ? PATTERNS : PATTERNS.filter((x) => x.stationary === c.stationary)
  for (const pat of candidates) {
    const ax = patternAxes(prob, pat)
    // A GEMM has one dim per role: rows, cols, and the one streamed past the stationary tensor.
    const rowDim = ax.rows.findIndex((x, d) => x && c.rowsAllowed[d]!)
    const colDim = ax.cols.findIndex((x, d) => x && c.colsAllowed[d]!)
    if (rowDim < 0 || colDim < 0) continue
    const streamDim = prob.sizes.findIndex((_, d) => d !== rowDim && d !== colDim)
    const rows = prob.sizes.map(() => 1)
    const cols = prob.sizes.map(() => 1)
    rows[rowDim] = Math.min(arch.rows, prob.sizes[rowDim]!)
    cols[colDim] = Math.min(arch.cols, prob.sizes[colDim]!)
    // SCALE-Sim's order: col folds outer, row folds inner, the streamed dim innermost.
    const m = canonicalMapping(
      p,
      { ...c, stationary: pat.stationary },
      { rows, cols, temporal: [colDim, rowDim, streamDim] },
    )
    return typeof m === "string" ? m : { ...m, stationary: pat.stationary }
  }
  return `dataflow ${c.dataflow} has no os, ws or is placement for a systolic array`
}

const compute = (p: Prepared, m: Mapping, _v: unknown, c: MapConstraints) => {
  const d = p.detail as SystolicDetail
  const arch = p.machine.arch
  const stationary = systolicStationary(p.problem, m, c) ?? FILTER
  return foldTiming(p.problem, m, {
    rows: arch.rows,
    cols: arch.cols,
    stationary,
    ratio: d.ratio,
    port: d.port,
    timing: p.machine.timing,
  })
}

/** Each PE holds a word of the stationary tensor; the other two only pass through on their way. */
const arrayRetains = (p: Prepared, m: Mapping, c: MapConstraints): ReadonlyArray<boolean> => {
  const s = systolicStationary(p.problem, m, c) ?? FILTER
  return [0, 1, 2].map((t) => t === s)
}

const record = (family: "dense-systolic" | "nm-training"): FamilyModel => ({
  family,
  timings: family === "dense-systolic" ? ["default", "scalesim"] : ["default"],
  arch: (acc, opts) => baseArch(acc, opts, null),
  prepare,
  spatial,
  check,
  canonical,
  stationaryChoices: (_p, c) => (c.stationary === null ? PATTERNS.map((x) => x.stationary) : [c.stationary]),
  arrayRetains,
  compute,
})

export const denseSystolic = record("dense-systolic")
/**
 * SAT-style N:M training array (Fang et al.): the systolic array whose sparse PEs hold N weights of
 * every group of M along the reduction plus ⌈log2 M⌉-bit indices and pick activations with M:1 muxes.
 * An operand runs sparse when every aligned group of M along its reduction has at most N nonzeros
 * (a 2:8 or 1:4 mask does on a 2:4 array); otherwise, as a forward-only mask in backward-data, dense.
 */
export const nmTraining = record("nm-training")
