/**
 * Convolution and pooling kernels on NHWC tensors (batch, height, width, channels), row-major.
 *
 * NHWC because im2col then needs no transposes: the lowered matrix has one row per output pixel
 * (M = B·OH·OW) and one column per (r, s, c) with c fastest (K = R·S·C), the GEMM result
 * [M × Cout] *is* the NHWC output, and each (r, s) tap copies C contiguous floats.
 */

export interface ConvGeometry {
  readonly batch: number
  readonly height: number
  readonly width: number
  readonly channels: number
  readonly filterHeight: number
  readonly filterWidth: number
  readonly stride: number
  readonly padding: number
}

/** Output size of a convolution or pooling window along one axis. */
export const convOut = (input: number, filter: number, stride: number, padding: number): number =>
  Math.floor((input + 2 * padding - filter) / stride) + 1

export const convOutputShape = (g: ConvGeometry): { readonly outHeight: number; readonly outWidth: number } => ({
  outHeight: convOut(g.height, g.filterHeight, g.stride, g.padding),
  outWidth: convOut(g.width, g.filterWidth, g.stride, g.padding),
})

/** col[(b·OH + oh)·OW + ow, (r·S + s)·C + c] = x[b, oh·stride − pad + r, ow·stride − pad + s, c] (0 outside). */
export const im2col = (g: ConvGeometry, x: Float32Array, col?: Float32Array): Float32Array => {
  const { batch, height: H, width: W, channels: C, filterHeight: R, filterWidth: S, stride, padding } = g
  const { outHeight: OH, outWidth: OW } = convOutputShape(g)
  const K = R * S * C
  const out = col ?? new Float32Array(batch * OH * OW * K)
  let row = 0
  for (let b = 0; b < batch; b++) {
    const xb = b * H * W * C
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++, row++) {
        const base = row * K
        for (let r = 0; r < R; r++) {
          const ih = oh * stride - padding + r
          const tapBase = base + r * S * C
          if (ih < 0 || ih >= H) {
            out.fill(0, tapBase, tapBase + S * C)
            continue
          }
          for (let s = 0; s < S; s++) {
            const iw = ow * stride - padding + s
            const dst = tapBase + s * C
            if (iw < 0 || iw >= W) out.fill(0, dst, dst + C)
            else if (C === 1) out[dst] = x[xb + ih * W + iw]!
            else out.set(x.subarray(xb + (ih * W + iw) * C, xb + (ih * W + iw + 1) * C), dst)
          }
        }
      }
  }
  return out
}

/** The adjoint of im2col: dx[b, ih, iw, c] += Σ over the col entries that copied it. */
export const col2im = (g: ConvGeometry, dcol: Float32Array, dx: Float32Array): void => {
  const { batch, height: H, width: W, channels: C, filterHeight: R, filterWidth: S, stride, padding } = g
  const { outHeight: OH, outWidth: OW } = convOutputShape(g)
  const K = R * S * C
  let row = 0
  for (let b = 0; b < batch; b++) {
    const xb = b * H * W * C
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++, row++) {
        const base = row * K
        for (let r = 0; r < R; r++) {
          const ih = oh * stride - padding + r
          if (ih < 0 || ih >= H) continue
          for (let s = 0; s < S; s++) {
            const iw = ow * stride - padding + s
            if (iw < 0 || iw >= W) continue
            const src = base + (r * S + s) * C
            const dst = xb + (ih * W + iw) * C
            for (let c = 0; c < C; c++) dx[dst + c] += dcol[src + c]!
          }
        }
      }
  }
}

export interface PoolGeometry {
  readonly batch: number
  readonly height: number
  readonly width: number
  readonly channels: number
  readonly size: number
  readonly stride: number
  /** Rows and columns added on every side, default 0 (PyTorch's `padding`). */
  readonly padding?: number
  /**
   * Average pooling only: divide by the whole window (true, PyTorch's default
   * count_include_pad=True) or by its cells inside the input (false, ONNX's default). Default true.
   */
  readonly countIncludePad?: boolean
}

/**
 * The input rows (or columns) a window starting at `start` covers, clipped to the input: padded
 * cells hold nothing to read, so the loops skip them instead of testing every tap.
 */
const clip = (start: number, size: number, extent: number): readonly [number, number] => [
  Math.max(start, 0),
  Math.min(start + size, extent),
]

/**
 * Max pooling. Padding is −∞ (PyTorch's): a padded cell never wins, and since the padding is at
 * most half the window every window holds at least one input cell. `argmax` receives, per output
 * element, the flat input index that won (the first one on a tie) so backward routes the gradient
 * without searching again.
 */
export const maxPool = (g: PoolGeometry, x: Float32Array, y: Float32Array, argmax: Int32Array): void => {
  const { batch, height: H, width: W, channels: C, size, stride } = g
  const pad = g.padding ?? 0
  const OH = convOut(H, size, stride, pad)
  const OW = convOut(W, size, stride, pad)
  let o = 0
  for (let b = 0; b < batch; b++)
    for (let oh = 0; oh < OH; oh++) {
      const [r0, r1] = clip(oh * stride - pad, size, H)
      for (let ow = 0; ow < OW; ow++) {
        const [s0, s1] = clip(ow * stride - pad, size, W)
        for (let c = 0; c < C; c++, o++) {
          let best = -1
          let bestValue = -Infinity
          for (let r = r0; r < r1; r++)
            for (let s = s0; s < s1; s++) {
              const idx = ((b * H + r) * W + s) * C + c
              const v = x[idx]!
              if (v > bestValue || best < 0) {
                bestValue = v
                best = idx
              }
            }
          y[o] = bestValue
          argmax[o] = best
        }
      }
    }
}

/** Per output position: the window's input cells and the divisor its mean uses. */
const avgWindows = (g: PoolGeometry) => {
  const { height: H, width: W, size, stride } = g
  const pad = g.padding ?? 0
  const whole = g.countIncludePad ?? true
  const OH = convOut(H, size, stride, pad)
  const OW = convOut(W, size, stride, pad)
  const rows = Array.from({ length: OH }, (_, oh) => clip(oh * stride - pad, size, H))
  const cols = Array.from({ length: OW }, (_, ow) => clip(ow * stride - pad, size, W))
  const scale = (oh: number, ow: number): number => {
    if (whole) return 1 / (size * size)
    const [r0, r1] = rows[oh]!
    const [s0, s1] = cols[ow]!
    return 1 / ((r1 - r0) * (s1 - s0))
  }
  return { OH, OW, rows, cols, scale }
}

/** Average pooling: every output is its window's sum over the divisor `countIncludePad` picks (padding adds zeros). */
export const avgPool = (g: PoolGeometry, x: Float32Array, y: Float32Array): void => {
  const { batch, height: H, width: W, channels: C } = g
  const { OH, OW, rows, cols, scale } = avgWindows(g)
  let o = 0
  for (let b = 0; b < batch; b++)
    for (let oh = 0; oh < OH; oh++) {
      const [r0, r1] = rows[oh]!
      for (let ow = 0; ow < OW; ow++) {
        const [s0, s1] = cols[ow]!
        const k = scale(oh, ow)
        for (let c = 0; c < C; c++, o++) {
          let sum = 0
          for (let r = r0; r < r1; r++) for (let s = s0; s < s1; s++) sum += x[((b * H + r) * W + s) * C + c]!
          y[o] = sum * k
        }
      }
    }
}

/** The adjoint of avgPool: each input cell gets the window's scale times every window gradient it fed. */
export const avgPoolBackward = (g: PoolGeometry, dy: Float32Array, dx: Float32Array): void => {
  const { batch, height: H, width: W, channels: C } = g
  const { OH, OW, rows, cols, scale } = avgWindows(g)
  let o = 0
  for (let b = 0; b < batch; b++)
    for (let oh = 0; oh < OH; oh++) {
      const [r0, r1] = rows[oh]!
      for (let ow = 0; ow < OW; ow++) {
        const [s0, s1] = cols[ow]!
        const k = scale(oh, ow)
        for (let c = 0; c < C; c++, o++) {
          const d = dy[o]! * k
          if (d === 0) continue
          for (let r = r0; r < r1; r++) for (let s = s0; s < s1; s++) dx[((b * H + r) * W + s) * C + c] += d
        }
      }
    }
}
