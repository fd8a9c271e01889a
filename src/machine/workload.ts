import { Either } from "effect"
import type { Lowering } from "../cost/index.ts"
import { inferShapes, type ModelConfig, type SampleShape } from "../engine/index.ts"
import { convOut, fnvDeriveSeed } from "../tensor/index.ts"
import type { ConvDims, GemmDims, NmStructure, Pass } from "../trace/index.ts"
import { WorkloadArgError } from "./errors.ts"
import { materializeMask, reductionAxis, statisticalOperand, type Operand, type OperandSpec } from "./operand.ts"

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

export const convOutputSize = (
  input: number,
  filter: number,
  stride: number,
  padding: number,
  convention: OutputConvention = "floor",
): number =>
  convention === "floor"
    ? convOut(input, filter, stride, padding)
    : Math.ceil((input + 2 * padding - filter + stride) / stride)

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

/**
 * The conv behind a GEMM whose ifmap operand is its im2col lowering (the GEMM is gemmFromConv(conv)
 * under either convention), for buffers that lower on chip; undefined otherwise.
 */
export const loweringOf = (g: GemmDims, conv: ConvDims | null | undefined): Lowering | undefined => {
  if (conv === null || conv === undefined) return undefined
  for (const convention of ["floor", "scalesim"] as const) {
    const f = gemmFromConv(conv, convention)
    if (f.m !== g.m || f.n !== g.n || f.k !== g.k) continue
    const p = convOutputSize(conv.ifmapHeight, conv.filterHeight, conv.stride, conv.padding, convention)
    const q = convOutputSize(conv.ifmapWidth, conv.filterWidth, conv.stride, conv.padding, convention)
    return {
      images: conv.batch,
      positionsPerImage: p * q,
      outputWidth: q,
      inputRows: conv.ifmapHeight,
      inputRowWords: conv.ifmapWidth * conv.channels,
      stride: conv.stride,
      filterRows: conv.filterHeight,
      reduction: f.k,
    }
  }
  return undefined
}

export const workloadFromGemm = (name: string, gemm: GemmDims, pass: Pass | null = null): LayerWorkload => ({
  name,
  gemm,
  conv: null,
  pass,
})

export const workloadFromConv = (
  name: string,
  conv: ConvDims,
  pass: Pass | null = null,
  convention: OutputConvention = "floor",
): LayerWorkload => ({
  name,
  gemm: gemmFromConv(conv, convention),
  conv,
  pass,
})

/** The same workload with its conv lowered under another output convention (SCALE-Sim timing). */
export const withConvention = (w: LayerWorkload, convention: OutputConvention): LayerWorkload =>
  w.conv === null ? w : { ...w, gemm: gemmFromConv(w.conv, convention) }

/**
 * A conv's backward-data as the accelerators run it: the transposed convolution
 * dX[b,h,w,c] = Σ_{r,s,k} dY[b,(h+p−r)/st,(w+p−s)/st,k] · W[k,r,s,c], the terms whose output
 * coordinate is whole and in range. As a GEMM: M = B·H·W input positions, K = R·S·Cout (Cout
 * innermost), N = Cin; its ifmap operand is dY, padded and (for stride > 1) dilated, lowered with
 * im2col. The engine computes the same dX on a CPU as the col2im GEMM dY·W (M = B·P·Q, K = Cout,
 * N = R·S·Cin) followed by a scatter-add, and traces that; replays re-express it (`layerFromTrace`).
 */
export const backwardDataGemm = (c: ConvDims): GemmDims => ({
  m: c.batch * c.ifmapHeight * c.ifmapWidth,
  n: c.channels,
  k: c.filterHeight * c.filterWidth * c.numFilters,
})

/**
 * The stride-1 transposed conv as a conv of dY with padding R − 1 − p (its im2col is the backward-data
 * GEMM's ifmap operand), or null where that is not a plain conv (stride > 1 dilates dY; p > R − 1).
 */
export const transposedConv = (c: ConvDims): ConvDims | null => {
  if (
    c.stride !== 1 ||
    c.padding > c.filterHeight - 1 ||
    c.padding > c.filterWidth - 1 ||
    c.filterHeight !== c.filterWidth
  )
    return null
  return {
    batch: c.batch,
    ifmapHeight: convOut(c.ifmapHeight, c.filterHeight, c.stride, c.padding),
    ifmapWidth: convOut(c.ifmapWidth, c.filterWidth, c.stride, c.padding),
    filterHeight: c.filterHeight,
    filterWidth: c.filterWidth,
    channels: c.numFilters,
    numFilters: c.channels,
    stride: 1,
    padding: c.filterHeight - 1 - c.padding,
  }
}

/**
 * A traced (layer, pass) as a workload: a linear layer's GEMMs and a conv's forward and
 * backward-weight GEMMs as recorded; a conv's backward-data as its transposed conv (see
 * `backwardDataGemm`). Structural so this stage does not depend on the trace reader.
 */
export const workloadFromTraceRecord = (r: {
  readonly layer: string
  readonly pass: Pass
  readonly gemm: GemmDims
  readonly conv: ConvDims | null
}): LayerWorkload => {
  if (r.conv !== null && r.pass === "backward-data")
    return { name: r.layer, pass: r.pass, gemm: backwardDataGemm(r.conv), conv: transposedConv(r.conv) }
  return {
    name: r.layer,
    gemm: { m: r.gemm.m, n: r.gemm.n, k: r.gemm.k },
    conv: r.pass === "forward" ? r.conv : null,
    pass: r.pass,
  }
}

/**
 * The backward-data operands of a conv, from the col2im operands the engine traced: dY (B·P·Q ×
 * Cout) and W (Cout × R·S·Cin, columns (r·S + s)·Cin + c). Nonzeros move, none appear or vanish but
 * dY's, which appear once per (r, s) that reads them; the N:M groups of W keep their axis (groups
 * along Cout run down the new b's columns, groups along Cin along its rows).
 */
export const transposedOperands = (
  c: ConvDims,
  dy: { readonly mask: Uint8Array; readonly nm: NmStructure | null },
  w: { readonly mask: Uint8Array; readonly nm: NmStructure | null },
): { readonly a: Operand; readonly b: Operand } => {
  const {
    batch: B,
    ifmapHeight: H,
    ifmapWidth: W,
    filterHeight: R,
    filterWidth: S,
    channels: C,
    numFilters: K,
    stride: st,
    padding: p,
  } = c
  const P = convOut(H, R, st, p)
  const Q = convOut(W, S, st, p)
  const cols = R * S * K
  const a = new Uint8Array(B * H * W * cols)
  let aNnz = 0
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let x = 0; x < W; x++) {
        const row = ((b * H + h) * W + x) * cols
        for (let r = 0; r < R; r++) {
          const oh = h + p - r
          if (oh < 0 || oh % st !== 0 || oh / st >= P) continue
          for (let s = 0; s < S; s++) {
            const ow = x + p - s
            if (ow < 0 || ow % st !== 0 || ow / st >= Q) continue
            const src = ((b * P + oh / st) * Q + ow / st) * K
            const dst = row + (r * S + s) * K
            for (let k = 0; k < K; k++)
              if (dy.mask[src + k] === 1) {
                a[dst + k] = 1
                aNnz++
              }
          }
        }
      }
  const bMask = new Uint8Array(cols * C)
  let bNnz = 0
  for (let k = 0; k < K; k++)
    for (let rs = 0; rs < R * S; rs++)
      for (let ch = 0; ch < C; ch++)
        if (w.mask[k * R * S * C + rs * C + ch] === 1) {
          bMask[(rs * K + k) * C + ch] = 1
          bNnz++
        }
  return {
    a: { kind: "derived", rows: B * H * W, cols, mask: a, nnz: aNnz, nm: null },
    // Groups stay aligned where their run (Cout down a column, Cin along a row) is whole groups long.
    b: {
      kind: "derived",
      rows: cols,
      cols: C,
      mask: bMask,
      nnz: bNnz,
      nm: w.nm !== null && (w.nm.axis === "col" ? K : C) % w.nm.m === 0 ? w.nm : null,
    },
  }
}

// ---------------------------------------------------------------------------------------------
// Layers with operands

/** One GEMM of one layer and pass, with its operands: out[M×N] = a[M×K] · b[K×N]. */
export interface Layer extends LayerWorkload {
  readonly a: Operand
  readonly b: Operand
}

/**
 * A traced (layer, pass) with its real masks; a conv's backward-data re-expressed as its transposed
 * conv, masks and all. Neuromorphic replays use the ifmap mask as the events.
 */
export const layerFromTrace = (r: {
  readonly layer: string
  readonly pass: Pass
  readonly gemm: GemmDims
  readonly conv: ConvDims | null
  readonly a: Extract<Operand, { kind: "trace" }>["trace"]
  readonly b: Extract<Operand, { kind: "trace" }>["trace"]
}): Layer => {
  const w = workloadFromTraceRecord(r)
  const a: Operand = { kind: "trace", trace: r.a }
  const b: Operand = { kind: "trace", trace: r.b }
  if (r.conv === null || r.pass !== "backward-data") return { ...w, a, b }
  return {
    ...w,
    ...transposedOperands(r.conv, { mask: materializeMask(a), nm: null }, { mask: materializeMask(b), nm: r.b.nm }),
  }
}

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
  | {
      readonly kind: "conv"
      readonly name: string
      readonly conv: ConvDims
      readonly inputGradient?: boolean | undefined
    }

/**
 * The GEMMs of one training step (see trace/observation.ts for the operand roles). For a conv with
 * H×W inputs and P×Q outputs per image:
 *   forward          M = B·P·Q, K = R·S·Cin,  N = Cout     a = im2col(X), b = Wᵀ
 *   backward-data    M = B·H·W, K = R·S·Cout, N = Cin      a = im2col(dY padded), b = W rearranged:
 *                    the transposed conv (`backwardDataGemm`)
 *   backward-weight  M = Cout,  K = B·P·Q,    N = R·S·Cin  a = dYᵀ, b = im2col(X)
 * A linear layer is the conv with H = W = P = Q = R = S = 1. `conv` is the conv whose im2col the
 * ifmap operand is: the conv itself forward, the transposed conv backward (stride 1).
 */
export const trainingGemms = (shape: LayerShape): ReadonlyArray<LayerWorkload> => {
  const passes: LayerWorkload[] =
    shape.kind === "linear"
      ? [
          {
            name: shape.name,
            pass: "forward",
            gemm: { m: shape.batch, n: shape.outFeatures, k: shape.inFeatures },
            conv: null,
          },
          {
            name: shape.name,
            pass: "backward-data",
            gemm: { m: shape.batch, n: shape.inFeatures, k: shape.outFeatures },
            conv: null,
          },
          {
            name: shape.name,
            pass: "backward-weight",
            gemm: { m: shape.outFeatures, n: shape.inFeatures, k: shape.batch },
            conv: null,
          },
        ]
      : (() => {
          const f = gemmFromConv(shape.conv)
          return [
            { name: shape.name, pass: "forward" as const, gemm: f, conv: shape.conv },
            {
              name: shape.name,
              pass: "backward-data" as const,
              gemm: backwardDataGemm(shape.conv),
              conv: transposedConv(shape.conv),
            },
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
export const layerShapesOf = (
  model: ModelConfig,
  batch: number,
): ReadonlyArray<{ readonly shape: LayerShape; readonly sparse: boolean }> => {
  const inferred = inferShapes(model.input, model.layers)
  if ("reason" in inferred) throw new RangeError(`model ${model.name}: layer ${inferred.index}: ${inferred.reason}`)
  const s0 = model.input.shape
  let input: SampleShape = s0 !== undefined && s0.length === 3 ? [s0[0]!, s0[1]!, s0[2]!] : [model.input.features]
  const out: Array<{ shape: LayerShape; sparse: boolean }> = []
  for (const [i, layer] of model.layers.entries()) {
    const inputGradient = out.length > 0
    if (layer.type === "linear")
      out.push({
        shape: {
          kind: "linear",
          name: layer.name,
          batch,
          inFeatures: input.reduce((a, b) => a * b, 1),
          outFeatures: layer.outFeatures,
          inputGradient,
        },
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
          ? [
              { kind: "dense" },
              w.pass === "backward-weight" ? { kind: "dense" } : { kind: "nm", n: method.n, m: method.m },
            ]
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
      return Either.left(
        new WorkloadArgError({ flag, value, field, expected: `expected a positive integer, got "${p}"` }),
      )
    out.push(Number(p))
  }
  return Either.right(out)
}

/** `--gemm M,N,K`. */
export const workloadFromGemmArgs = (value: string, flag = "--gemm"): Either.Either<LayerWorkload, WorkloadArgError> =>
  Either.map(splitInts(flag, value, ["M", "N", "K"], 0), ([m, n, k]) =>
    workloadFromGemm(`gemm-${m}x${n}x${k}`, { m: m!, n: n!, k: k! }),
  )

/** `--conv H,W,R,S,C,K[,stride]`: ifmap H×W, filter R×S, C channels, K filters; no padding (SCALE-Sim). */
export const workloadFromConvArgs = (value: string, flag = "--conv"): Either.Either<LayerWorkload, WorkloadArgError> =>
  Either.flatMap(splitInts(flag, value, ["H", "W", "R", "S", "C", "K", "stride"], 1), (v) => {
    const [h, w, r, s, c, k] = v as [number, number, number, number, number, number]
    const stride = v[6] ?? 1
    if (r > h)
      return Either.left(
        new WorkloadArgError({ flag, value, field: "R", expected: `expected a filter height <= H (${h}), got ${r}` }),
      )
    if (s > w)
      return Either.left(
        new WorkloadArgError({ flag, value, field: "S", expected: `expected a filter width <= W (${w}), got ${s}` }),
      )
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
