import { convProblem, denseStats, gemmProblem, type Problem, type SparsityStats } from "../cost/index.ts"
import { inferShapes, type ModelConfig } from "../engine/index.ts"
import type { ConvDims, GemmDims, Pass, TraceRecord } from "../trace/index.ts"

/** One (layer, pass) to map. `layer` and `pass` are the simulators' row keys, so results join. */
export interface MapTarget {
  readonly layer: string
  readonly pass: Pass | null
  readonly gemm: GemmDims
  readonly conv: ConvDims | null
  readonly problem: Problem
  readonly sparsity: SparsityStats
}

/** The GEMM a convolution lowers to under im2col (SCALE-Sim's convention). */
export const im2colGemm = (c: ConvDims): GemmDims => {
  const p = Math.floor((c.ifmapHeight + 2 * c.padding - c.filterHeight) / c.stride) + 1
  const q = Math.floor((c.ifmapWidth + 2 * c.padding - c.filterWidth) / c.stride) + 1
  return { m: c.batch * p * q, n: c.numFilters, k: c.filterHeight * c.filterWidth * c.channels }
}

export const gemmTarget = (layer: string, gemm: GemmDims, pass: Pass | null = null, sparsity: SparsityStats = denseStats): MapTarget => ({
  layer,
  pass,
  gemm,
  conv: null,
  problem: gemmProblem(gemm),
  sparsity,
})

/** A convolution is mapped as the 7-dim loop nest (its sliding window reuses ifmap rows), not as im2col. */
export const convTarget = (layer: string, conv: ConvDims, pass: Pass | null = null, sparsity: SparsityStats = denseStats): MapTarget => ({
  layer,
  pass,
  gemm: im2colGemm(conv),
  conv,
  problem: convProblem(conv),
  sparsity,
})

/**
 * Every (layer, pass) of the last traced step. A forward pass whose GEMM is its conv's im2col is
 * mapped as the convolution; every other pass is the GEMM the trace recorded. Densities and N:M
 * structure come from the traced operands (a = ifmap, b = filter).
 */
export const targetsFromTrace = (records: ReadonlyArray<TraceRecord>): MapTarget[] => {
  if (records.length === 0) return []
  const last = Math.max(...records.map((r) => r.step))
  return records
    .filter((r) => r.step === last)
    .map((r) => {
      const sparsity: SparsityStats = {
        ifmap: { density: r.a.density, nm: r.a.nm === null ? null : { n: r.a.nm.n, m: r.a.nm.m } },
        filter: { density: r.b.density, nm: r.b.nm === null ? null : { n: r.b.nm.n, m: r.b.nm.m } },
      }
      const g = { m: r.gemm.m, n: r.gemm.n, k: r.gemm.k }
      if (r.conv !== null && r.pass === "forward") {
        const l = im2colGemm(r.conv)
        if (l.m === g.m && l.n === g.n && l.k === g.k) return convTarget(r.layer, r.conv, r.pass, sparsity)
      }
      return gemmTarget(r.layer, g, r.pass, sparsity)
    })
}

/**
 * Every weighted layer of a model file at a batch size, for all three training passes, with dense
 * operands: forward (conv as its 7-dim nest, linear as X·Wᵀ), backward-data dX = dY·W and
 * backward-weight dW = dYᵀ·X, in the shapes the engine's trace records. The first layer has no
 * backward-data pass (no one needs the gradient of the input), as in training.
 */
export const targetsFromModel = (model: ModelConfig, batch: number): MapTarget[] => {
  const inferred = inferShapes(model.input, model.layers)
  if (!("shapes" in inferred)) return []
  const inputShape = model.input.shape !== undefined && model.input.shape.length === 3 ? model.input.shape : [model.input.features]
  const targets: MapTarget[] = []
  let first = true
  model.layers.forEach((layer, i) => {
    if (layer.type !== "linear" && layer.type !== "conv2d") return
    const inShape = i === 0 ? inputShape : inferred.shapes[i - 1]!
    let forward: MapTarget
    let rows: number
    let k: number
    let cout: number
    if (layer.type === "conv2d") {
      const [h, w, c] = inShape as readonly [number, number, number]
      const conv: ConvDims = {
        batch, ifmapHeight: h, ifmapWidth: w, filterHeight: layer.kernelSize, filterWidth: layer.kernelSize, channels: c,
        numFilters: layer.outChannels, stride: layer.stride ?? 1, padding: layer.padding ?? 0,
      }
      forward = convTarget(layer.name, conv, "forward")
      rows = forward.gemm.m
      k = forward.gemm.k
      cout = layer.outChannels
    } else {
      rows = batch
      k = inShape[0]!
      cout = layer.outFeatures
      forward = gemmTarget(layer.name, { m: rows, k, n: cout }, "forward")
    }
    targets.push(forward)
    if (!first) targets.push(gemmTarget(layer.name, { m: rows, k: cout, n: k }, "backward-data"))
    targets.push(gemmTarget(layer.name, { m: cout, k: rows, n: k }, "backward-weight"))
    first = false
  })
  return targets
}
