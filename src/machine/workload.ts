import { Either } from "effect"
import type { Lowering } from "../cost/index.ts"
import { modelGemms, type ModelConfig } from "../engine/index.ts"
import { convOut, fnvDeriveSeed } from "../tensor/index.ts"
import type { ConvDims, GemmDims, LayerOp, NmStructure, Pass } from "../trace/index.ts"
import { WorkloadArgError } from "./errors.ts"
import { groupConv, groupOperand, groupsOf, stackOperands } from "./groups.ts"
import { materializeMask, reductionAxis, statisticalOperand, type Operand, type OperandSpec } from "./operand.ts"

/**
 * The workload facts of a layer, each defined once: output sizes, the im2col lowering, the GEMMs of
 * a training step, and a layer with its operands.
 */

/**
 * One GEMM to run: out[M×N] = ifmap[M×K] · filter[K×N], with the conv it is the im2col lowering of;
 * or `groups` independent GEMMs of those dims (see groups.ts), with the operands stacked along rows.
 */
export interface LayerWorkload {
  readonly name: string
  /** One group's GEMM. */
  readonly gemm: GemmDims
  /** The conv whose im2col lowering one group's ifmap operand is (forward passes of convs), else null. */
  readonly conv: ConvDims | null
  /** The training pass this GEMM belongs to; null for a plain layer list (inference-style topology). */
  readonly pass: Pass | null
  /** Independent GEMMs of `gemm`'s dims (absent = 1): a grouped conv's channel groups, attention's heads. */
  readonly groups?: number | undefined
  /**
   * "matmul": a GEMM of two activations (attention's products), whose b operand no sparsifier
   * prunes; absent or "linear"/"conv2d": b is a weight.
   */
  readonly op?: LayerOp | undefined
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

/** A record's groups: its own field, else its conv's (a grouped conv states both; absent = 1). */
const recordGroups = (r: { readonly groups?: number | undefined; readonly conv: ConvDims | null }): number =>
  r.groups ?? r.conv?.groups ?? 1

/**
 * A traced (layer, pass) as a workload: a linear layer's GEMMs and a conv's forward and
 * backward-weight GEMMs as recorded; a conv's backward-data as its transposed conv (see
 * `backwardDataGemm`). A grouped record keeps its groups, each group's conv its share of the
 * channels. Structural so this stage does not depend on the trace reader.
 */
export const workloadFromTraceRecord = (r: {
  readonly layer: string
  readonly pass: Pass
  readonly gemm: GemmDims
  readonly conv: ConvDims | null
  readonly groups?: number | undefined
  readonly op?: LayerOp | undefined
}): LayerWorkload => {
  const g = recordGroups(r)
  const extra = { ...(g === 1 ? {} : { groups: g }), ...(r.op === undefined ? {} : { op: r.op }) }
  const conv = r.conv === null ? null : groupConv(r.conv)
  if (conv !== null && r.pass === "backward-data")
    return { name: r.layer, pass: r.pass, gemm: backwardDataGemm(conv), conv: transposedConv(conv), ...extra }
  return {
    name: r.layer,
    gemm: { m: r.gemm.m, n: r.gemm.n, k: r.gemm.k },
    conv: r.pass === "forward" ? conv : null,
    pass: r.pass,
    ...extra,
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
 * conv, masks and all (group by group, restacked). Neuromorphic replays use the ifmap mask as the events.
 */
export const layerFromTrace = (r: {
  readonly layer: string
  readonly pass: Pass
  readonly gemm: GemmDims
  readonly conv: ConvDims | null
  readonly groups?: number | undefined
  readonly op?: LayerOp | undefined
  readonly a: Extract<Operand, { kind: "trace" }>["trace"]
  readonly b: Extract<Operand, { kind: "trace" }>["trace"]
}): Layer => {
  const w = workloadFromTraceRecord(r)
  const a: Operand = { kind: "trace", trace: r.a }
  const b: Operand = { kind: "trace", trace: r.b }
  if (r.conv === null || r.pass !== "backward-data") return { ...w, a, b }
  const conv = groupConv(r.conv)
  const g = recordGroups(r)
  const groups = Array.from({ length: g }, (_, i) => {
    const dy = g === 1 ? a : groupOperand(a, i, r.gemm.m)
    const wt = g === 1 ? b : groupOperand(b, i, r.gemm.k)
    return transposedOperands(conv, { mask: materializeMask(dy), nm: null }, { mask: materializeMask(wt), nm: r.b.nm })
  })
  if (g === 1) return { ...w, ...groups[0]! }
  return { ...w, a: stackOperands(groups.map((x) => x.a)), b: stackOperands(groups.map((x) => x.b)) }
}

/**
 * A workload with statistical operands; every operand gets its own seed derived from `seed`, the name
 * and the pass. A grouped workload's operands are stacked: g·m × k and g·k × n.
 */
export const statisticalLayer = (w: LayerWorkload, a: OperandSpec, b: OperandSpec, seed: number): Layer => {
  const g = groupsOf(w)
  const { m, n, k } = w.gemm
  const sa = fnvDeriveSeed(seed, w.name, w.pass ?? "", "a")
  const sb = fnvDeriveSeed(seed, w.name, w.pass ?? "", "b")
  return {
    ...w,
    a: statisticalOperand(a, g * m, k, sa, reductionAxis("a")),
    b: statisticalOperand(b, g * k, n, sb, reductionAxis("b")),
  }
}

// ---------------------------------------------------------------------------------------------
// Training steps

/**
 * A layer's shape, from which its training GEMMs follow. `inputGradient: false` marks a layer that
 * reads the network's input: nothing consumes that gradient, so training skips its backward-data
 * GEMM (the engine does too: it computes dX only for inputs that require a gradient). A conv's
 * `groups` split it into that many independent convs; a matmul is `groups` products of two
 * activations, out[m×n] = A[m×k]·B[k×n] (attention's Q·Kᵀ and S·V).
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
      /** The whole conv; `conv.groups` (absent = 1) splits its channels. */
      readonly conv: ConvDims
      readonly inputGradient?: boolean | undefined
    }
  | {
      readonly kind: "matmul"
      readonly name: string
      readonly m: number
      readonly n: number
      readonly k: number
      readonly groups?: number | undefined
      readonly inputGradient?: boolean | undefined
    }

/**
 * The GEMMs of one training step (see trace/observation.ts for the operand roles). For a conv with
 * H×W inputs and P×Q outputs per image, per channel group (Cin, Cout: one group's):
 *   forward          M = B·P·Q, K = R·S·Cin,  N = Cout     a = im2col(X), b = Wᵀ
 *   backward-data    M = B·H·W, K = R·S·Cout, N = Cin      a = im2col(dY padded), b = W rearranged:
 *                    the transposed conv (`backwardDataGemm`)
 *   backward-weight  M = Cout,  K = B·P·Q,    N = R·S·Cin  a = dYᵀ, b = im2col(X)
 * A linear layer is the conv with H = W = P = Q = R = S = 1. `conv` is the conv whose im2col the
 * ifmap operand is: the conv itself forward, the transposed conv backward (stride 1). A matmul
 * out = A·B: forward (m, n, k); backward-data dA = dOut·Bᵀ (m, k, n); backward-weight dB = Aᵀ·dOut
 * (k, n, m), as the engine traces them.
 */
export const trainingGemms = (shape: LayerShape): ReadonlyArray<LayerWorkload> => {
  if (shape.kind === "matmul") {
    const { name, m, n, k } = shape
    const extra = { op: "matmul" as const, ...(groupsOf(shape) === 1 ? {} : { groups: groupsOf(shape) }) }
    const passes: LayerWorkload[] = [
      { name, pass: "forward", gemm: { m, n, k }, conv: null, ...extra },
      { name, pass: "backward-data", gemm: { m, n: k, k: n }, conv: null, ...extra },
      { name, pass: "backward-weight", gemm: { m: k, n, k: m }, conv: null, ...extra },
    ]
    return shape.inputGradient === false ? passes.filter((p) => p.pass !== "backward-data") : passes
  }
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
          const c = groupConv(shape.conv)
          const g = groupsOf(shape.conv)
          const extra = g === 1 ? {} : { groups: g }
          const f = gemmFromConv(c)
          return [
            { name: shape.name, pass: "forward" as const, gemm: f, conv: c, ...extra },
            {
              name: shape.name,
              pass: "backward-data" as const,
              gemm: backwardDataGemm(c),
              conv: transposedConv(c),
              ...extra,
            },
            {
              name: shape.name,
              pass: "backward-weight" as const,
              gemm: { m: f.n, n: f.k, k: f.m },
              conv: null,
              ...extra,
            },
          ]
        })()
  return shape.inputGradient === false ? passes.filter((p) => p.pass !== "backward-data") : passes
}

/**
 * A model file's GEMM layers as training shapes at a batch size, each with its `sparse` flag
 * (sparsifiers prune only those; a matmul has no weight to prune), from the engine's listing of a
 * training step's GEMMs (`modelGemms`, the shapes a trace of that step would hold): a linear layer
 * on a token sequence runs per token (its batch is batch·T), attention is its two linears and two
 * matmuls, and a layer whose input carries no gradient has no backward-data GEMM.
 */
export const layerShapesOf = (
  model: ModelConfig,
  batch: number,
): ReadonlyArray<{ readonly shape: LayerShape; readonly sparse: boolean }> => {
  const gemms = modelGemms(model, batch)
  const withBackwardData = new Set(gemms.filter((g) => g.pass === "backward-data").map((g) => g.layer))
  return gemms
    .filter((g) => g.pass === "forward")
    .map((g): { shape: LayerShape; sparse: boolean } => {
      const inputGradient = withBackwardData.has(g.layer)
      const { m, n, k } = g.gemm
      if (g.op === "matmul")
        return {
          shape: {
            kind: "matmul",
            name: g.layer,
            m,
            n,
            k,
            inputGradient,
            ...(g.groups === 1 ? {} : { groups: g.groups }),
          },
          sparse: false,
        }
      if (g.op === "conv2d" && g.conv !== null)
        return { shape: { kind: "conv", name: g.layer, conv: g.conv, inputGradient }, sparse: g.sparse }
      return {
        shape: { kind: "linear", name: g.layer, batch: m, inFeatures: k, outFeatures: n, inputGradient },
        sparse: g.sparse,
      }
    })
}

/**
 * Statistical operands for one training step of a method:
 *   dense: everything dense;
 *   bdwp:  BDWP (SAT): W pruned N:M along K for forward and Wᵀ pruned N:M along Cout for
 *          backward-data (both the b operand, grouped along that pass's reduction); weight-gradient dense;
 *   activations: a uniform ifmap density for every pass (ReLU zeros, as activation skipping sees them),
 *          and a weight density for the forward and backward-data weights;
 *   operands: any ifmap operand for every pass, and any weight operand (an N:M one along each pass's
 *          reduction) for forward and backward-data, the weight gradient's b dense.
 * A matmul's b is an activation, which no weight sparsifier prunes: it stays dense.
 */
export type TrainingMethod =
  | { readonly kind: "dense" }
  | { readonly kind: "bdwp"; readonly n: number; readonly m: number }
  | { readonly kind: "activations"; readonly density: number; readonly weightDensity?: number | undefined }
  | { readonly kind: "operands"; readonly a: OperandSpec; readonly weight: OperandSpec }

/** The operand specs of one training GEMM under a method. */
const specsOf = (w: LayerWorkload, method: TrainingMethod): [OperandSpec, OperandSpec] => {
  const weight = w.op !== "matmul" && w.pass !== "backward-weight"
  const dense: OperandSpec = { kind: "dense" }
  switch (method.kind) {
    case "dense":
      return [dense, dense]
    case "bdwp":
      return [dense, weight ? { kind: "nm", n: method.n, m: method.m } : dense]
    case "activations":
      return [
        { kind: "uniform", density: method.density },
        { kind: "uniform", density: weight ? (method.weightDensity ?? 1) : 1 },
      ]
    case "operands":
      return [method.a, weight ? method.weight : dense]
  }
}

export const trainingStepLayers = (shape: LayerShape, method: TrainingMethod, seed: number): ReadonlyArray<Layer> =>
  trainingGemms(shape).map((w) => {
    const [a, b] = specsOf(w, method)
    return statisticalLayer(w, a, b, seed)
  })

/** The method a layer that sparsifiers leave dense (`"sparse": false`) runs under: its weights dense. */
const denseWeights = (method: TrainingMethod): TrainingMethod =>
  method.kind === "bdwp"
    ? { kind: "dense" }
    : method.kind === "activations"
      ? { kind: "activations", density: method.density }
      : method.kind === "operands"
        ? { kind: "operands", a: method.a, weight: { kind: "dense" } }
        : method

/**
 * Every GEMM of one training step of a model file, with statistical operands: the shapes-only path
 * (a model without weights, a zoo file, a shape-only ONNX model). Weights of layers marked
 * `"sparse": false` stay dense under every method.
 */
export const modelStepLayers = (
  model: ModelConfig,
  batch: number,
  method: TrainingMethod,
  seed: number,
): ReadonlyArray<Layer> =>
  layerShapesOf(model, batch).flatMap(({ shape, sparse }) =>
    trainingStepLayers(shape, sparse ? method : denseWeights(method), seed),
  )

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

/**
 * Why a workload is too large to count exactly, or null: every count Spade reports (MACs, words,
 * cycles) is an integer, and past 2^53 a double no longer holds each one. A layer of 10^27 MACs
 * would print rounded numbers as if they were counted; it is refused instead.
 */
export const workloadSizeIssue = (w: LayerWorkload): string | null => {
  const { m, n, k } = w.gemm
  const macs = (w.groups ?? 1) * m * n * k
  return Number.isSafeInteger(macs)
    ? null
    : `its GEMM (M ${m}, N ${n}, K ${k}${(w.groups ?? 1) > 1 ? `, ${w.groups} groups` : ""}) has ${macs.toExponential(3)} MACs, ` +
        `past 2^53 (${Number.MAX_SAFE_INTEGER.toExponential(3)}), where counts stop being exact`
}

const sized = (flag: string, value: string, w: LayerWorkload): Either.Either<LayerWorkload, WorkloadArgError> => {
  const issue = workloadSizeIssue(w)
  return issue === null
    ? Either.right(w)
    : Either.left(
        new WorkloadArgError({ flag, value, field: "", expected: `expected a layer Spade can count: ${issue}` }),
      )
}

/** `--gemm M,N,K`. */
export const workloadFromGemmArgs = (value: string, flag = "--gemm"): Either.Either<LayerWorkload, WorkloadArgError> =>
  Either.flatMap(splitInts(flag, value, ["M", "N", "K"], 0), ([m, n, k]) =>
    sized(flag, value, workloadFromGemm(`gemm-${m}x${n}x${k}`, { m: m!, n: n!, k: k! })),
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
    return sized(flag, value, workloadFromConv(`conv-${h}x${w}x${c}-${r}x${s}x${k}-s${stride}`, conv))
  })
