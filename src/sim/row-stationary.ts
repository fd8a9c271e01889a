import type { RowStationaryAccelerator } from "../hardware/index.ts"
import type { ConvDims } from "../trace/index.ts"
import { encodedSize } from "./encoding.ts"
import { capacityWords, finishRow, type SimLayer, type SimResult, type Traffic } from "./machine.ts"
import { effectualMacs, operandDensity, operandLabel, operandNnz } from "./operand.ts"
import { convOutputSize } from "./workload.ts"

/** A layer in Eyeriss's terms: a batch of C-channel ifmaps, Kf filters of R×S, an E×F ofmap. */
export interface RsShape {
  readonly batch: number
  readonly channels: number
  readonly filters: number
  readonly r: number
  readonly s: number
  readonly e: number
  readonly f: number
}

/**
 * A forward conv keeps its 2-D structure. Anything else (a linear layer, a backward pass given as
 * its GEMM) is a 1×1 convolution whose ofmap row is the GEMM's M: each PE keeps one weight and
 * streams M activations past it, so a weight is fetched once, as Eyeriss batches FC layers.
 */
export const rsShape = (layer: SimLayer, conv: ConvDims | null): RsShape => {
  const g = layer.gemm
  if (conv !== null && (layer.pass === "forward" || layer.pass === null)) {
    const e = convOutputSize(conv.ifmapHeight, conv.filterHeight, conv.stride, conv.padding)
    const f = convOutputSize(conv.ifmapWidth, conv.filterWidth, conv.stride, conv.padding)
    return { batch: conv.batch, channels: conv.channels, filters: conv.numFilters, r: conv.filterHeight, s: conv.filterWidth, e, f }
  }
  return { batch: 1, channels: g.k, filters: g.n, r: 1, s: 1, e: 1, f: g.m }
}

/**
 * Row-stationary mapping (Eyeriss, Chen et al. ISCA 2016): a PE set of (filter rows) × (ofmap
 * rows); each PE runs one 1-D convolution (F·S MACs) of a filter row with an ifmap row for one
 * (image, channel, filter). Filter heights taller than the array fold; ofmaps taller than it split
 * into strips; as many sets as fit run side by side, one task each, and all sets finish a round
 * together. Partial sums then flow up the set's rows (setH − 1 cycles at the end).
 */
export interface RsPlan {
  readonly setH: number
  readonly setW: number
  readonly rFolds: number
  readonly eStrips: number
  readonly setsPerArray: number
  readonly tasks: number
  readonly cyclesPerTask: number
}

export const rsPlan = (sh: RsShape, rows: number, cols: number, macsPerPe: number): RsPlan => {
  const rFolds = Math.ceil(sh.r / rows)
  const setH = Math.ceil(sh.r / rFolds)
  const setW = Math.min(sh.e, cols)
  const eStrips = Math.ceil(sh.e / setW)
  const setsPerArray = Math.floor(rows / setH) * Math.floor(cols / setW)
  return { setH, setW, rFolds, eStrips, setsPerArray, tasks: sh.batch * sh.channels * sh.filters * eStrips * rFolds, cyclesPerTask: Math.ceil((sh.f * sh.s) / macsPerPe) }
}

export const rsComputeCycles = (p: RsPlan): number => Math.ceil(p.tasks / p.setsPerArray) * p.cyclesPerTask + (p.setH - 1)

/**
 * The slow twin: deals tasks to sets round by round and steps every PE one cycle at a time
 * (macsPerPe MACs per cycle) until the round's PEs are all idle, then steps the partial sums up
 * the set. Also returns the MACs it performed, which must equal the layer's dense MACs.
 */
export const rsComputeCyclesStepped = (sh: RsShape, rows: number, cols: number, macsPerPe: number): { cycles: number; macs: number } => {
  const p = rsPlan(sh, rows, cols, macsPerPe)
  // Each task's PE grid: rows of the R fold (the last may be shorter) × columns of the E strip.
  const taskShapes: Array<{ h: number; w: number }> = []
  for (let fold = 0; fold < p.rFolds; fold++)
    for (let strip = 0; strip < p.eStrips; strip++)
      taskShapes.push({ h: Math.min(p.setH, sh.r - fold * p.setH), w: Math.min(p.setW, sh.e - strip * p.setW) })
  let cycles = 0
  let macs = 0
  let remaining = p.tasks
  let next = 0
  while (remaining > 0) {
    const inRound = Math.min(p.setsPerArray, remaining)
    const queues: number[] = []
    for (let t = 0; t < inRound; t++) {
      const shape = taskShapes[(next + t) % taskShapes.length]!
      for (let pe = 0; pe < shape.h * shape.w; pe++) queues.push(sh.f * sh.s)
    }
    next += inRound
    remaining -= inRound
    let busy = queues.length
    while (busy > 0) {
      busy = 0
      for (let i = 0; i < queues.length; i++) {
        const q = queues[i]!
        if (q === 0) continue
        const done = Math.min(macsPerPe, q)
        queues[i] = q - done
        macs += done
        if (q - done > 0) busy++
      }
      cycles++
    }
  }
  for (let row = 1; row < p.setH; row++) cycles++
  return { cycles, macs }
}

export interface RowStationaryOptions {
  readonly rows?: number | undefined
  readonly cols?: number | undefined
  readonly reference?: boolean | undefined
  readonly conv?: ConvDims | null | undefined
}

/**
 * Eyeriss-like row-stationary array, optionally with Eyeriss v1's zero gating: a zero input
 * activation gates its MAC, the filter scratchpad read and the partial-sum update (energy), while
 * the schedule is unchanged (cycles). GLB traffic model: ifmaps are multicast to all sets working
 * on different filters, so they are read once per group of `setsPerArray` filters; each task reads
 * its filter rows once; partial sums go back to the GLB once per filter-height fold.
 */
export const simulateRowStationary = (acc: RowStationaryAccelerator, layer: SimLayer, opts: RowStationaryOptions = {}): SimResult => {
  const rows = opts.rows ?? acc.peArray.rows
  const cols = opts.cols ?? acc.peArray.cols
  const sh = rsShape(layer, opts.conv ?? null)
  const plan = rsPlan(sh, rows, cols, acc.peArray.macsPerPe)
  const computeCycles = opts.reference === true ? rsComputeCyclesStepped(sh, rows, cols, acc.peArray.macsPerPe).cycles : rsComputeCycles(plan)
  const { m, n, k } = layer.gemm
  const dense = m * n * k
  const gating = acc.rowStationary.gating === "zero-ifmap"
  const active = gating ? operandNnz(layer.a) * n : dense
  const gated = dense - active

  const filterGroups = Math.ceil(sh.filters / Math.max(1, plan.setsPerArray))
  // A conv's ifmap is stored once, not as its im2col copies: scale the im2col operand's encoded
  // size down to the raw ifmap (same density, so the same code length per element).
  const conv = opts.conv ?? null
  const rawIfmap = conv !== null && sh.r * sh.s > 1 ? conv.batch * conv.ifmapHeight * conv.ifmapWidth * conv.channels : m * k
  const encIm2col = encodedSize(layer.a, acc.rowStationary.ifmapEncoding, acc.datatype.wordBytes * 8, acc.rowStationary.runLengthBits)
  const scale = rawIfmap / (m * k)
  const enc = { dataWords: Math.ceil(encIm2col.dataWords * scale), metadataWords: Math.ceil(encIm2col.metadataWords * scale) }
  const ifmapRefetch = enc.dataWords + enc.metadataWords <= capacityWords(acc, "ifmap") ? 1 : filterGroups
  const traffic: Traffic = {
    dram: {
      ifmap: { reads: enc.dataWords * ifmapRefetch, writes: 0 },
      "ifmap-metadata": { reads: enc.metadataWords * ifmapRefetch, writes: 0 },
      filter: { reads: k * n, writes: 0 },
      ofmap: { reads: 0, writes: m * n },
    },
    onChip: {
      ifmap: { reads: rawIfmap * filterGroups * plan.rFolds, writes: 0 },
      filter: { reads: sh.batch * sh.channels * sh.filters * plan.eStrips * sh.r * sh.s, writes: 0 },
      ofmap: { reads: m * n * (plan.rFolds - 1), writes: m * n * plan.rFolds },
    },
  }
  const rs = acc.rowStationary
  // Scratchpad accesses per MAC: ifmap read always; filter read and psum read+write only when not gated.
  const rf = [
    { level: "rf", tensor: "ifmap", reads: dense, writes: 0 },
    { level: "rf", tensor: "filter", reads: active, writes: 0 },
    { level: "rf", tensor: "ofmap", reads: active, writes: active },
  ]
  return finishRow({
    layer,
    acc,
    mechanism: gating ? "gating" : "dense",
    aOperand: operandLabel(layer.a),
    bOperand: operandLabel(layer.b),
    aDensity: operandDensity(layer.a),
    bDensity: operandDensity(layer.b),
    arrayRows: rows,
    arrayCols: cols,
    peSlots: rows * cols * acc.peArray.macsPerPe,
    computeCycles,
    macs: active,
    gatedMacs: gated,
    effectualMacs: effectualMacs(layer.a, layer.b),
    traffic,
    extraAccesses: rf,
    extraLevels: [{ name: "rf", readEnergyPjPerWord: rs.rfReadEnergyPjPerWord, writeEnergyPjPerWord: rs.rfWriteEnergyPjPerWord }],
  })
}
