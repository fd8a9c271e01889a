import type { TensorName } from "../hardware/index.ts"
import { convOut } from "../tensor/index.ts"
import type { ConvDims, GemmDims } from "../trace/index.ts"

/**
 * A problem is the loop nest of one layer pass, kept apart from the architecture and the mapping (as
 * Timeloop keeps them): its dims, their sizes, and how each tensor's coordinates follow from them.
 */

export const TENSORS: ReadonlyArray<TensorName> = ["ifmap", "filter", "ofmap"]
export const IFMAP = 0
export const FILTER = 1
export const OFMAP = 2

export const tensorIndex = (t: TensorName): number => (t === "ifmap" ? IFMAP : t === "filter" ? FILTER : OFMAP)

/** How one coordinate of a tensor follows from the loop dims. */
export type Axis =
  | { readonly kind: "dim"; readonly dim: number }
  /** A sliding window: coordinate = out·stride + filter (conv ifmap rows and columns). */
  | { readonly kind: "window"; readonly out: number; readonly filter: number; readonly stride: number }

export interface Problem {
  readonly kind: "gemm" | "conv"
  readonly dimNames: ReadonlyArray<string>
  readonly sizes: ReadonlyArray<number>
  /** Per tensor (ifmap, filter, ofmap): its axes. */
  readonly axes: ReadonlyArray<ReadonlyArray<Axis>>
  /** A GEMM whose ifmap operand is a conv's im2col lowering: the conv, for on-chip lowering. */
  readonly lowering?: Lowering | undefined
}

/**
 * The conv behind a lowered GEMM (output positions as M in (image, row, column) order, the whole
 * R·S·C window as K). A buffer tile that spans the whole reduction and a run of output positions
 * holds and fills the raw input rows those positions read, once, and lowers them on chip: the rows
 * under the tile's output rows plus the filter's halo. A tile that splits the reduction moves its
 * lowered words.
 */
export interface Lowering {
  readonly images: number
  /** P·Q and Q. */
  readonly positionsPerImage: number
  readonly outputWidth: number
  /** H, and W·C words per input row. */
  readonly inputRows: number
  readonly inputRowWords: number
  readonly stride: number
  readonly filterRows: number
  /** The dense reduction (R·S·C), for problems whose K an N:M array compresses. */
  readonly reduction: number
}

/** Raw ifmap words a tile of `positions` consecutive output positions (whole reduction) holds. */
export const loweredTileWords = (l: Lowering, positions: number): number =>
  positions >= l.positionsPerImage
    ? (positions / l.positionsPerImage) * l.inputRows * l.inputRowWords
    : Math.min(l.inputRows, (positions / l.outputWidth) * l.stride + Math.max(0, l.filterRows - l.stride)) *
      l.inputRowWords

export const GEMM_DIMS = ["M", "N", "K"] as const
export const CONV_DIMS = ["N", "K", "C", "P", "Q", "R", "S"] as const

/** out[M×N] = ifmap[M×K] · filter[K×N]. */
export const gemmProblem = (g: GemmDims, lowering?: Lowering): Problem => ({
  kind: "gemm",
  dimNames: GEMM_DIMS,
  sizes: [g.m, g.n, g.k],
  axes: [
    [
      { kind: "dim", dim: 0 },
      { kind: "dim", dim: 2 },
    ],
    [
      { kind: "dim", dim: 2 },
      { kind: "dim", dim: 1 },
    ],
    [
      { kind: "dim", dim: 0 },
      { kind: "dim", dim: 1 },
    ],
  ],
  ...(lowering === undefined ? {} : { lowering }),
})

/**
 * The 7-dim convolution: N batch, K filters, C channels, P×Q output, R×S filter. The ifmap is the
 * padded input (its padding words are counted as words moved: hardware that skips them is sparse).
 */
export const convProblem = (c: ConvDims): Problem => ({
  kind: "conv",
  dimNames: CONV_DIMS,
  sizes: [
    c.batch,
    c.numFilters,
    c.channels,
    convOut(c.ifmapHeight, c.filterHeight, c.stride, c.padding),
    convOut(c.ifmapWidth, c.filterWidth, c.stride, c.padding),
    c.filterHeight,
    c.filterWidth,
  ],
  axes: [
    [
      { kind: "dim", dim: 0 },
      { kind: "dim", dim: 2 },
      { kind: "window", out: 3, filter: 5, stride: c.stride },
      { kind: "window", out: 4, filter: 6, stride: c.stride },
    ],
    [
      { kind: "dim", dim: 1 },
      { kind: "dim", dim: 2 },
      { kind: "dim", dim: 5 },
      { kind: "dim", dim: 6 },
    ],
    [
      { kind: "dim", dim: 0 },
      { kind: "dim", dim: 1 },
      { kind: "dim", dim: 3 },
      { kind: "dim", dim: 4 },
    ],
  ],
})

/** The same problem with one dim resized (N:M arrays compress the reduction). */
export const withSize = (p: Problem, dim: number, size: number): Problem => ({
  ...p,
  sizes: p.sizes.map((s, d) => (d === dim ? size : s)),
})

const relevanceCache = new WeakMap<Problem, ReadonlyArray<ReadonlyArray<boolean>>>()

/** relevant[t][d]: whether tensor t's coordinates depend on dim d. */
export const relevance = (p: Problem): ReadonlyArray<ReadonlyArray<boolean>> => {
  let r = relevanceCache.get(p)
  if (r === undefined) {
    r = p.axes.map((axes) =>
      p.sizes.map((_, d) => axes.some((a) => (a.kind === "dim" ? a.dim === d : a.out === d || a.filter === d))),
    )
    relevanceCache.set(p, r)
  }
  return r
}

/** The reduction dims: those the output does not depend on. */
export const reductionDims = (p: Problem): ReadonlyArray<number> =>
  p.sizes.flatMap((_, d) => (relevance(p)[OFMAP]![d] ? [] : [d]))

export const denseMacs = (p: Problem): number => p.sizes.reduce((a, b) => a * b, 1)

export const tensorWords = (p: Problem, t: number): number =>
  p.axes[t]!.reduce(
    (w, a) => w * (a.kind === "dim" ? p.sizes[a.dim]! : (p.sizes[a.out]! - 1) * a.stride + p.sizes[a.filter]!),
    1,
  )

/** The dims of a problem by name, for people and files. */
export const problemDims = (p: Problem): Record<string, number> =>
  Object.fromEntries(p.dimNames.map((d, i) => [d, p.sizes[i]!]))
