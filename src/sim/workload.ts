import { Either } from "effect"
import type { ConvDims, GemmDims, Pass } from "../trace/index.ts"
import { WorkloadArgError } from "./errors.ts"

/** One GEMM to simulate: out[M×N] = ifmap[M×K] · filter[K×N], with the conv it was lowered from. */
export interface LayerWorkload {
  readonly name: string
  readonly gemm: GemmDims
  readonly conv: ConvDims | null
  /** The training pass this GEMM belongs to; null for a plain layer list (inference-style topology). */
  readonly pass: Pass | null
}

/** Output spatial size of a convolution. With padding 0 this is SCALE-Sim's `ceil((H − R + s)/s)`. */
export const convOutputSize = (input: number, filter: number, stride: number, padding: number): number =>
  Math.floor((input + 2 * padding - filter) / stride) + 1

/**
 * im2col lowering as SCALE-Sim does it: every ofmap pixel is a row of the ifmap operand, every filter
 * a column of the filter operand, and the reduction runs over the R·S·C window.
 */
export const gemmFromConv = (c: ConvDims): GemmDims => {
  const ofmapHeight = convOutputSize(c.ifmapHeight, c.filterHeight, c.stride, c.padding)
  const ofmapWidth = convOutputSize(c.ifmapWidth, c.filterWidth, c.stride, c.padding)
  return {
    m: c.batch * ofmapHeight * ofmapWidth,
    n: c.numFilters,
    k: c.filterHeight * c.filterWidth * c.channels,
  }
}

/**
 * Words of the raw ifmap behind a GEMM's ifmap operand, when that operand is `conv`'s im2col
 * lowering (the GEMM is exactly gemmFromConv(conv)); null otherwise. Padding is not stored, and each
 * word appears in up to R·S rows of the lowered operand.
 */
export const loweredIfmapWords = (g: GemmDims, conv: ConvDims | null | undefined): number | null => {
  if (conv === null || conv === undefined) return null
  const f = gemmFromConv(conv)
  return f.m === g.m && f.n === g.n && f.k === g.k ? conv.batch * conv.ifmapHeight * conv.ifmapWidth * conv.channels : null
}

export const workloadFromGemm = (name: string, gemm: GemmDims, pass: Pass | null = null): LayerWorkload => ({
  name,
  gemm,
  conv: null,
  pass,
})

export const workloadFromConv = (name: string, conv: ConvDims, pass: Pass | null = null): LayerWorkload => ({
  name,
  gemm: gemmFromConv(conv),
  conv,
  pass,
})

/**
 * A traced (layer, pass): the trace already holds the GEMM each pass ran, so it is taken as is
 * (the backward passes are not the forward conv's im2col). Structural so this stage does not depend
 * on the trace reader.
 */
export const workloadFromTraceRecord = (r: {
  readonly layer: string
  readonly pass: Pass
  readonly gemm: GemmDims
  readonly conv: ConvDims | null
}): LayerWorkload => ({ name: r.layer, gemm: { m: r.gemm.m, n: r.gemm.n, k: r.gemm.k }, conv: r.conv, pass: r.pass })

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
