import { Either } from "effect"
import { inferShapes, type ModelConfig, type SampleShape } from "../engine/index.ts"
import { convOut, fnvDeriveSeed } from "../tensor/index.ts"
import type { ConvDims, GemmDims, Pass } from "../trace/index.ts"
import { WorkloadArgError } from "./errors.ts"
import { reductionAxis, statisticalOperand, type Operand, type OperandSpec } from "./operand.ts"

/**
 * The workload facts of a layer, each defined once: output sizes, the im2col lowering, the GEMMs of
 * a training step, and a layer with its operands.
 */

/** One GEMM to run: out[M×N] = ifmap[M×K] · filter[K×N], with the conv it is the im2col lowering of. */
export interface LayerWorkload {
  readonly name: string
  readonly gemm: GemmDims
  /** The conv whose im2col lowering the ifmap operand is (forward passes of convs), else null. */
  readonly conv: ConvDims | null
  /** The training pass this GEMM belongs to; null for a plain layer list (inference-style topology). */
  readonly pass: Pass | null
}

/**
 * How a conv's output size is rounded: "floor" is the arithmetic every framework (and the engine)
 * uses, ⌊(H + 2p − R)/s⌋ + 1; "scalesim" is SCALE-Sim v2's ⌈(H + 2p − R + s)/s⌉, which differs on
 * strided layers whose window does not tile the input (108×108, 3×3, stride 2: 53 vs 54).
 */
export type OutputConvention = "floor" | "scalesim"

export const convOutputSize = (input: number, filter: number, stride: number, padding: number, convention: OutputConvention = "floor"): number =>
  convention === "floor" ? convOut(input, filter, stride, padding) : Math.ceil((input + 2 * padding - filter + stride) / stride)

/**
 * im2col lowering: every ofmap pixel is a row of the ifmap operand, every filter a column of the
 * filter operand, and the reduction runs over the R·S·C window (C innermost, as the engine lowers).
 */
export const gemmFromConv = (c: ConvDims, convention: OutputConvention = "floor"): GemmDims => {
  const ofmapHeight = convOutputSize(c.ifmapHeight, c.filterHeight, c.stride, c.padding, convention)
  const ofmapWidth = convOutputSize(c.ifmapWidth, c.filterWidth, c.stride, c.padding, convention)
  return {
    m: c.batch * ofmapHeight * ofmapWidth,
    n: c.numFilters,
    k: c.filterHeight * c.filterWidth * c.channels,
  }
}

/** Words of a conv's raw (unpadded) ifmap: each appears in up to R·S rows of its im2col lowering. */
export const rawIfmapWords = (c: ConvDims): number => c.batch * c.ifmapHeight * c.ifmapWidth * c.channels

/**
 * Words of the raw ifmap behind a GEMM's ifmap operand, when that operand is `conv`'s im2col
 * lowering (the GEMM is exactly gemmFromConv(conv) under either convention); null otherwise.
 */
export const loweredIfmapWords = (g: GemmDims, conv: ConvDims | null | undefined): number | null => {
  if (conv === null || conv === undefined) return null
  const same = (f: GemmDims): boolean => f.m === g.m && f.n === g.n && f.k === g.k
  return same(gemmFromConv(conv)) || same(gemmFromConv(conv, "scalesim")) ? rawIfmapWords(conv) : null
}

export const workloadFromGemm = (name: string, gemm: GemmDims, pass: Pass | null = null): LayerWorkload => ({
  name,
  gemm,
  conv: null,
  pass,
})

export const workloadFromConv = (name: string, conv: ConvDims, pass: Pass | null = null, convention: OutputConvention = "floor"): LayerWorkload => ({
  name,
  gemm: gemmFromConv(conv, convention),
  conv,
  pass,
})

/** The same workload with its conv lowered under another output convention (SCALE-Sim timing). */
export const withConvention = (w: LayerWorkload, convention: OutputConvention): LayerWorkload =>
  w.conv === null ? w : { ...w, gemm: gemmFromConv(w.conv, convention) }

/**
 * A traced (layer, pass): the trace already holds the GEMM each pass ran, so it is taken as is (the
 * backward passes are not the forward conv's im2col). Structural so this stage does not depend on
 * the trace reader.
 */
export const workloadFromTraceRecord = (r: {
  readonly layer: string
  readonly pass: Pass
  readonly gemm: GemmDims
  readonly conv: ConvDims | null
}): LayerWorkload => ({ name: r.layer, gemm: { m: r.gemm.m, n: r.gemm.n, k: r.gemm.k }, conv: r.pass === "forward" ? r.conv : null, pass: r.pass })

// ---------------------------------------------------------------------------------------------
// Layers with operands

/** One GEMM of one layer and pass, with its operands: out[M×N] = a[M×K] · b[K×N]. */
export interface Layer extends LayerWorkload {
  readonly a: Operand
  readonly b: Operand
}

/** A traced (layer, pass) with its real masks. Neuromorphic replays use the ifmap mask as the events. */
export const layerFromTrace = (r: {
  readonly layer: string
  readonly pass: Pass
  readonly gemm: GemmDims
  readonly conv: ConvDims | null
  readonly a: Extract<Operand, { kind: "trace" }>["trace"]
  readonly b: Extract<Operand, { kind: "trace" }>["trace"]
}): Layer => ({ ...workloadFromTraceRecord(r), a: { kind: "trace", trace: r.a }, b: { kind: "trace", trace: r.b } })

/** A workload with statistical operands; every operand gets its own seed derived from `seed`, the name and the pass. */
export const statisticalLayer = (w: LayerWorkload, a: OperandSpec, b: OperandSpec, seed: number): Layer => ({
  ...w,
  a: statisticalOperand(a, w.gemm.m, w.gemm.k, fnvDeriveSeed(seed, w.name, w.pass ?? "", "a"), reductionAxis("a")),
  b: statisticalOperand(b, w.gemm.k, w.gemm.n, fnvDeriveSeed(seed, w.name, w.pass ?? "", "b"), reductionAxis("b")),
})

// ---------------------------------------------------------------------------------------------
// Training steps

/**
 * A layer's shape, from which its training GEMMs follow. `inputGradient: false` marks a layer that
 * reads the network's input: nothing consumes that gradient, so training skips its backward-data
 * GEMM (the engine does too: it computes dX only for inputs that require a gradient).
 */
export type LayerShape =
  | {
      readonly kind: "linear"
      readonly name: string
      readonly batch: number
      readonly inFeatures: number
      readonly outFeatures: number
      readonly inputGradient?: boolean | undefined
    }
  | { readonly kind: "conv"; readonly name: string; readonly conv: ConvDims; readonly inputGradient?: boolean | undefined }

/**
 * The GEMMs of one training step, exactly as the engine runs and traces them (see
 * trace/observation.ts for the operand roles). For a conv with P×Q outputs per image:
 *   forward          M = B·P·Q, K = R·S·Cin, N = Cout   a = im2col(X), b = Wᵀ
 *   backward-data    M = B·P·Q, K = Cout,    N = R·S·Cin a = dY, b = W: the column matrix that col2im
 *                    then folds into dX (the engine's form; its fold is additions, not MACs, and is
 *                    not charged)
 *   backward-weight  M = Cout,  K = B·P·Q,   N = R·S·Cin a = dYᵀ, b = im2col(X)
 * A linear layer is the conv with P = Q = R = S = 1. Only the forward GEMM lowers a conv's ifmap,
 * so only it carries the conv.
 */
export const trainingGemms = (shape: LayerShape): ReadonlyArray<LayerWorkload> => {
  const passes: LayerWorkload[] =
    shape.kind === "linear"
      ? [
          { name: shape.name, pass: "forward", gemm: { m: shape.batch, n: shape.outFeatures, k: shape.inFeatures }, conv: null },
          { name: shape.name, pass: "backward-data", gemm: { m: shape.batch, n: shape.inFeatures, k: shape.outFeatures }, conv: null },
          { name: shape.name, pass: "backward-weight", gemm: { m: shape.outFeatures, n: shape.inFeatures, k: shape.batch }, conv: null },
        ]
      : (() => {
          const f = gemmFromConv(shape.conv)
          return [
            { name: shape.name, pass: "forward" as const, gemm: f, conv: shape.conv },
            { name: shape.name, pass: "backward-data" as const, gemm: { m: f.m, n: f.k, k: f.n }, conv: null },
            { name: shape.name, pass: "backward-weight" as const, gemm: { m: f.n, n: f.k, k: f.m }, conv: null },
          ]
        })()
  return shape.inputGradient === false ? passes.filter((p) => p.pass !== "backward-data") : passes
}

/**
 * A model file's weighted layers as training shapes at a batch size, each with its `sparse` flag
 * (sparsifiers prune only those). The first weighted layer reads the network input, whose gradient
 * nothing consumes, so it has no backward-data GEMM. A model whose shapes do not chain is a bug of
 * the caller: model files are checked when they decode.
 */
export const layerShapesOf = (model: ModelConfig, batch: number): ReadonlyArray<{ readonly shape: LayerShape; readonly sparse: boolean }> => {
  const inferred = inferShapes(model.input, model.layers)
  if ("reason" in inferred) throw new RangeError(`model ${model.name}: layer ${inferred.index}: ${inferred.reason}`)
  const s0 = model.input.shape
  let input: SampleShape = s0 !== undefined && s0.length === 3 ? [s0[0]!, s0[1]!, s0[2]!] : [model.input.features]
  const out: Array<{ shape: LayerShape; sparse: boolean }> = []
  for (const [i, layer] of model.layers.entries()) {
    const inputGradient = out.length > 0
    if (layer.type === "linear")
      out.push({
        shape: { kind: "linear", name: layer.name, batch, inFeatures: input.reduce((a, b) => a * b, 1), outFeatures: layer.outFeatures, inputGradient },
        sparse: layer.sparse ?? true,
      })
    else if (layer.type === "conv2d" && input.length === 3) {
      const [h, w, c] = input
      const conv: ConvDims = {
        batch,
        ifmapHeight: h,
        ifmapWidth: w,
        filterHeight: layer.kernelSize,
        filterWidth: layer.kernelSize,
        channels: c,
        numFilters: layer.outChannels,
        stride: layer.stride ?? 1,
        padding: layer.padding ?? 0,
      }
      out.push({ shape: { kind: "conv", name: layer.name, conv, inputGradient }, sparse: layer.sparse ?? true })
    }
    input = inferred.shapes[i]!
  }
  return out
}

/**
 * Statistical operands for one training step of a method:
 *   dense: everything dense;
 *   bdwp:  BDWP (SAT): W pruned N:M along K for forward and Wᵀ pruned N:M along Cout for
 *          backward-data (both the b operand, grouped along that pass's reduction); weight-gradient dense;
 *   activations: a uniform ifmap density for every pass (ReLU zeros, as activation skipping sees them).
 */
export type TrainingMethod =
  | { readonly kind: "dense" }
  | { readonly kind: "bdwp"; readonly n: number; readonly m: number }
  | { readonly kind: "activations"; readonly density: number; readonly weightDensity?: number | undefined }

export const trainingStepLayers = (shape: LayerShape, method: TrainingMethod, seed: number): ReadonlyArray<Layer> =>
  trainingGemms(shape).map((w) => {
    const [a, b]: [OperandSpec, OperandSpec] =
      method.kind === "dense"
        ? [{ kind: "dense" }, { kind: "dense" }]
        : method.kind === "bdwp"
          ? [{ kind: "dense" }, w.pass === "backward-weight" ? { kind: "dense" } : { kind: "nm", n: method.n, m: method.m }]
          : [
              { kind: "uniform", density: method.density },
              { kind: "uniform", density: w.pass === "backward-weight" ? 1 : (method.weightDensity ?? 1) },
            ]
    return statisticalLayer(w, a, b, seed)
  })

// ---------------------------------------------------------------------------------------------
// Command-line layers

const splitInts = (
  flag: string,
  value: string,
  fields: ReadonlyArray<string>,
  optional: number,
): Either.Either<ReadonlyArray<number>, WorkloadArgError> => {
  const parts = value.split(",").map((s) => s.trim())
  if (parts.length > 0 && parts[parts.length - 1] === "") parts.pop()
  const min = fields.length - optional
  const shape = optional > 0 ? `${fields.slice(0, min).join(",")}[,${fields.slice(min).join(",")}]` : fields.join(",")
  if (parts.length < min || parts.length > fields.length)
    return Either.left(
      new WorkloadArgError({
        flag,
        value,
        field: "",
        expected: `expected ${min === fields.length ? min : `${min} or ${fields.length}`} comma-separated positive integers (${shape}), got ${parts.length}`,
      }),
    )
  const out: number[] = []
  for (const [i, p] of parts.entries()) {
    const field = fields[i]!
    if (!/^\d+$/.test(p) || Number(p) < 1 || !Number.isSafeInteger(Number(p)))
      return Either.left(new WorkloadArgError({ flag, value, field, expected: `expected a positive integer, got "${p}"` }))
    out.push(Number(p))
  }
  return Either.right(out)
}

/** `--gemm M,N,K`. */
export const workloadFromGemmArgs = (value: string, flag = "--gemm"): Either.Either<LayerWorkload, WorkloadArgError> =>
  Either.map(splitInts(flag, value, ["M", "N", "K"], 0), ([m, n, k]) => workloadFromGemm(`gemm-${m}x${n}x${k}`, { m: m!, n: n!, k: k! }))

/** `--conv H,W,R,S,C,K[,stride]`: ifmap H×W, filter R×S, C channels, K filters; no padding (SCALE-Sim). */
export const workloadFromConvArgs = (value: string, flag = "--conv"): Either.Either<LayerWorkload, WorkloadArgError> =>
  Either.flatMap(splitInts(flag, value, ["H", "W", "R", "S", "C", "K", "stride"], 1), (v) => {
    const [h, w, r, s, c, k] = v as [number, number, number, number, number, number]
    const stride = v[6] ?? 1
    if (r > h) return Either.left(new WorkloadArgError({ flag, value, field: "R", expected: `expected a filter height <= H (${h}), got ${r}` }))
    if (s > w) return Either.left(new WorkloadArgError({ flag, value, field: "S", expected: `expected a filter width <= W (${w}), got ${s}` }))
    const conv: ConvDims = {
      batch: 1,
      ifmapHeight: h,
      ifmapWidth: w,
      filterHeight: r,
      filterWidth: s,
      channels: c,
      numFilters: k,
      stride,
      padding: 0,
    }
    return Either.right(workloadFromConv(`conv-${h}x${w}x${c}-${r}x${s}x${k}-s${stride}`, conv))
  })
