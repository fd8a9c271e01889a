import { convOut } from "../tensor/index.ts"
import { modelGraph, type ModelConfig } from "./model-config.ts"
import type { ConvDims, GemmDims, LayerOp, Pass } from "./observation.ts"

/**
 * One GEMM of a training step, exactly as the engine traces it (src/engine/observation.ts names
 * the operands): `groups` independent GEMMs of `gemm`'s dims (grouped conv: one per channel group;
 * attention's products: one per sample and head).
 */
export interface ModelGemm {
  /** The trace's layer name: the config's name, or `<attention>.qkv|scores|context|out`. */
  readonly layer: string
  /** The trace's layerIndex: position among the model's GEMM layers in execution order. */
  readonly layerIndex: number
  readonly op: LayerOp
  readonly pass: Pass
  readonly gemm: GemmDims
  readonly groups: number
  /** The whole convolution (all groups) for conv2d, else null. */
  readonly conv: ConvDims | null
  /** Whether weight sparsifiers prune this GEMM's weight (always false for matmul, which has none). */
  readonly sparse: boolean
}

/** The three passes of a weighted GEMM Y = X·Ŵᵀ with X m×k, Ŵ n×k, per group. */
const weightedPasses = (m: number, n: number, k: number, backwardData: boolean) =>
  [
    { pass: "forward", gemm: { m, n, k } },
    ...(backwardData ? [{ pass: "backward-data", gemm: { m, n: k, k: n } }] : []),
    { pass: "backward-weight", gemm: { m: n, n: k, k: m } },
  ] as ReadonlyArray<{ readonly pass: Pass; readonly gemm: GemmDims }>

/** The three passes of out = A·B with A m×k, B k×n, per group: dA = dOut·Bᵀ, dB = Aᵀ·dOut. */
const matmulPasses = (m: number, n: number, k: number) =>
  [
    { pass: "forward", gemm: { m, n, k } },
    { pass: "backward-data", gemm: { m, n: k, k: n } },
    { pass: "backward-weight", gemm: { m: k, n, k: m } },
  ] as ReadonlyArray<{ readonly pass: Pass; readonly gemm: GemmDims }>

/**
 * Every GEMM of one training step of `model` at `batch` samples, per layer and pass, from the
 * config alone (no weights, no data): what a trace of that step would hold, for shape-only models
 * and MAC counts. A weighted layer whose input carries no gradient (it reads the model input,
 * perhaps through pooling) has no backward-data GEMM, as in the engine.
 *
 * Linear on a token sequence [T, D] runs per token: M = batch·T. Conv2d is im2col-lowered:
 * M = B·P·Q, K = R·S·C/groups, N = Cout/groups, backward-data as the col2im GEMM dY·W
 * (M = B·P·Q, K = Cout/groups, N = R·S·C/groups). Attention on [T, D] with h heads, dh = D/h:
 * qkv (M = B·T, K = D, N = 3D), scores Q·Kᵀ (T×T×dh, B·h groups), context S·V (T×dh×T, B·h
 * groups), out (M = B·T, K = D, N = D).
 */
export const modelGemms = (model: ModelConfig, batch: number): ReadonlyArray<ModelGemm> => {
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`modelGemms: batch must be a positive integer`)
  const out: ModelGemm[] = []
  let layerIndex = 0
  const nodes = modelGraph(model)
  for (const node of nodes) {
    const { layer } = node
    const input = node.inputShapes[0]!
    const backwardData = node.inputs.some((i) => i >= 0 && nodes[i]!.gradient)
    const push = (
      layerName: string,
      op: LayerOp,
      passes: ReadonlyArray<{ readonly pass: Pass; readonly gemm: GemmDims }>,
      groups: number,
      conv: ConvDims | null,
      sparse: boolean,
    ): void => {
      for (const p of passes) out.push({ layer: layerName, layerIndex, op, ...p, groups, conv, sparse })
      layerIndex++
    }
    if (layer.type === "linear") {
      const tokens = input.length === 2 ? input[0] : 1
      const k = input[input.length - 1]!
      push(
        layer.name,
        "linear",
        weightedPasses(batch * tokens, layer.outFeatures, k, backwardData),
        1,
        null,
        layer.sparse ?? true,
      )
    } else if (layer.type === "conv2d") {
      const [h, w, c] = input as readonly [number, number, number]
      const groups = layer.groups ?? 1
      const stride = layer.stride ?? 1
      const padding = layer.padding ?? 0
      const r = layer.kernelSize
      const m = batch * convOut(h, r, stride, padding) * convOut(w, r, stride, padding)
      const conv: ConvDims = {
        batch,
        ifmapHeight: h,
        ifmapWidth: w,
        filterHeight: r,
        filterWidth: r,
        channels: c,
        numFilters: layer.outChannels,
        stride,
        padding,
        ...(groups === 1 ? {} : { groups }),
      }
      push(
        layer.name,
        "conv2d",
        weightedPasses(m, layer.outChannels / groups, (r * r * c) / groups, backwardData),
        groups,
        conv,
        layer.sparse ?? true,
      )
    } else if (layer.type === "attention") {
      const [t, d] = input as readonly [number, number]
      const dh = d / layer.heads
      const sparse = layer.sparse ?? true
      const g = batch * layer.heads
      push(`${layer.name}.qkv`, "linear", weightedPasses(batch * t, 3 * d, d, backwardData), 1, null, sparse)
      push(`${layer.name}.scores`, "matmul", matmulPasses(t, t, dh), g, null, false)
      push(`${layer.name}.context`, "matmul", matmulPasses(t, dh, t), g, null, false)
      push(`${layer.name}.out`, "linear", weightedPasses(batch * t, d, d, true), 1, null, sparse)
    }
  }
  return out
}

/** Multiply-accumulates of one inference (forward pass) of `model` per sample, from modelGemms. */
export const forwardMacs = (model: ModelConfig): number =>
  modelGemms(model, 1)
    .filter((g) => g.pass === "forward")
    .reduce((sum, g) => sum + g.groups * g.gemm.m * g.gemm.n * g.gemm.k, 0)
