import { avgPool, avgPoolBackward, col2im, convOut, im2col, maxPool, type ConvGeometry } from "../tensor/index.ts"
import { result, type Var } from "./autograd.ts"

/** Same data, new shape (flatten, NHWC ↔ rows). The data is shared; the gradient passes through. */
export const reshape = (x: Var, shape: ReadonlyArray<number>): Var =>
  result(
    shape,
    x.data,
    [x],
    (self) => {
      const dy = self.grad!
      const dx = x.ensureGrad()
      for (let i = 0; i < dx.length; i++) dx[i] += dy[i]!
    },
    "reshape",
  )

/** The im2col lowering as a graph node: [B, H, W, C] → [B·OH·OW, R·S·C]; backward is col2im. */
export const im2colOp = (x: Var, g: ConvGeometry): Var => {
  const oh = convOut(g.height, g.filterHeight, g.stride, g.padding)
  const ow = convOut(g.width, g.filterWidth, g.stride, g.padding)
  const col = im2col(g, x.data)
  return result(
    [g.batch * oh * ow, g.filterHeight * g.filterWidth * g.channels],
    col,
    [x],
    (self) => {
      col2im(g, self.grad!, x.ensureGrad())
    },
    "im2col",
  )
}

/** How a pool pads: on every side, and (average pools) whether padded cells count in the mean. */
export interface PoolPadding {
  /** Default 0. */
  readonly padding?: number
  /** Default true (PyTorch's count_include_pad). */
  readonly countIncludePad?: boolean
}

const poolDims = (x: Var, size: number, stride: number, pad: PoolPadding) => {
  if (x.shape.length !== 4) throw new RangeError(`pooling needs [B, H, W, C] input, got [${x.shape.join(", ")}]`)
  const [batch, height, width, channels] = [x.shape[0]!, x.shape[1]!, x.shape[2]!, x.shape[3]!]
  const padding = pad.padding ?? 0
  // PyTorch's bound: a window always keeps an input cell, so a max pool never returns −∞.
  if (2 * padding > size) throw new RangeError(`pooling: padding ${padding} exceeds half the window ${size}`)
  const g = { batch, height, width, channels, size, stride, padding, countIncludePad: pad.countIncludePad ?? true }
  return {
    g,
    shape: [batch, convOut(height, size, stride, padding), convOut(width, size, stride, padding), channels],
  }
}

export const maxPool2d = (x: Var, size: number, stride: number, pad: PoolPadding = {}): Var => {
  const { g, shape } = poolDims(x, size, stride, pad)
  const n = shape.reduce((a, b) => a * b, 1)
  const y = new Float32Array(n)
  const argmax = new Int32Array(n)
  maxPool(g, x.data, y, argmax)
  return result(
    shape,
    y,
    [x],
    (self) => {
      const dy = self.grad!
      const dx = x.ensureGrad()
      for (let i = 0; i < n; i++) dx[argmax[i]!] += dy[i]!
    },
    "maxpool",
  )
}

export const avgPool2d = (x: Var, size: number, stride: number, pad: PoolPadding = {}): Var => {
  const { g, shape } = poolDims(x, size, stride, pad)
  const y = new Float32Array(shape.reduce((a, b) => a * b, 1))
  avgPool(g, x.data, y)
  return result(shape, y, [x], (self) => avgPoolBackward(g, self.grad!, x.ensureGrad()), "avgpool")
}

/**
 * Keep exactly k entries per sample (row of the flattened batch): every entry above the k-th
 * largest value, then entries equal to it in index order until k are kept. Backward uses the same
 * mask, so dropped units get no gradient. Returns the mask too (1 = kept) for tracing and tests.
 */
export const topK = (x: Var, k: number): { readonly y: Var; readonly mask: Uint8Array } => {
  const batch = x.shape[0]!
  const features = x.data.length / batch
  if (!(Number.isInteger(k) && k >= 1 && k <= features)) throw new RangeError(`topK: k=${k} must be in 1..${features}`)
  const xd = x.data
  const y = new Float32Array(xd.length)
  const mask = new Uint8Array(xd.length)
  const sorted = new Float32Array(features)
  for (let b = 0; b < batch; b++) {
    const off = b * features
    sorted.set(xd.subarray(off, off + features))
    // Native typed-array sort (ascending, NaN last): the k-th largest sits at features − k.
    sorted.sort()
    const threshold = sorted[features - k]!
    let above = 0
    for (let i = 0; i < features; i++) if (xd[off + i]! > threshold) above++
    let ties = k - above
    for (let i = 0; i < features; i++) {
      const v = xd[off + i]!
      if (v > threshold || (v === threshold && ties-- > 0)) {
        mask[off + i] = 1
        y[off + i] = v
      }
    }
  }
  const out = result(
    x.shape,
    y,
    [x],
    (self) => {
      const dy = self.grad!
      const dx = x.ensureGrad()
      for (let i = 0; i < dy.length; i++) if (mask[i] !== 0) dx[i] += dy[i]!
    },
    "topk",
  )
  return { y: out, mask }
}

export interface DeltaOptions {
  readonly threshold: number
  readonly quantStep: number
  readonly bits: number
  readonly l1: number
  /** Rows are grouped by sequence: row = sample·frames + frame. 1 for non-sequence input. */
  readonly frames: number
}

export interface DeltaOutput {
  /** x̂: what the next layer computes with (equals the quantized input when threshold = 0). */
  readonly y: Var
  /** The deltas sent, in activation units, same layout as the input (zeros where nothing was sent). */
  readonly deltas: Float32Array
  /** Per frame: events sent (nonzero deltas) and nonzero quantized activations, summed over samples. */
  readonly eventsPerFrame: Int32Array
  readonly activationNnzPerFrame: Int32Array
  /** The L1 penalty value l1 · mean over rows of Σ|Δ| (0 when l1 = 0). */
  readonly penalty: number
}

/**
 * The delta rule on integer quantization levels, so reconstruction is exact: x̂ ← x̂ + Δ in integers
 * equals q_t exactly whenever Δ was sent. Gradient: straight-through (the quantizer and the
 * threshold are treated as identity, except where the quantizer clips), plus l1·sign(Δ)/rows from
 * the penalty on sent deltas.
 */
export const deltaActivation = (x: Var, o: DeltaOptions): DeltaOutput => {
  const rows = x.shape[0]!
  const features = x.data.length / rows
  if (rows % o.frames !== 0)
    throw new RangeError(`delta: ${rows} rows are not a whole number of ${o.frames}-frame sequences`)
  const levels = 2 ** (o.bits - 1) - 1
  const thresholdLevels = o.threshold / o.quantStep
  const xd = x.data
  const y = new Float32Array(xd.length)
  const deltas = new Float32Array(xd.length)
  const clipped = new Uint8Array(xd.length)
  const eventsPerFrame = new Int32Array(o.frames)
  const activationNnzPerFrame = new Int32Array(o.frames)
  const state = new Int32Array(features)
  let l1Sum = 0
  for (let r = 0; r < rows; r++) {
    const frame = r % o.frames
    if (frame === 0) state.fill(0)
    const off = r * features
    let events = 0
    let nnz = 0
    for (let i = 0; i < features; i++) {
      let q = Math.round(xd[off + i]! / o.quantStep)
      if (q > levels) {
        q = levels
        clipped[off + i] = 1
      } else if (q < -levels) {
        q = -levels
        clipped[off + i] = 1
      }
      if (q !== 0) nnz++
      const d = q - state[i]!
      if (d !== 0 && Math.abs(d) > thresholdLevels) {
        state[i] = q
        deltas[off + i] = d * o.quantStep
        l1Sum += Math.abs(d) * o.quantStep
        events++
      }
      y[off + i] = state[i]! * o.quantStep
    }
    eventsPerFrame[frame] += events
    activationNnzPerFrame[frame] += nnz
  }
  const scale = o.l1 / rows
  const out = result(
    x.shape,
    y,
    [x],
    (self) => {
      const dy = self.grad!
      const dx = x.ensureGrad()
      for (let i = 0; i < dy.length; i++) {
        let g = clipped[i] === 0 ? dy[i]! : 0
        const d = deltas[i]!
        if (scale !== 0 && d !== 0) g += d > 0 ? scale : -scale
        dx[i] += g
      }
    },
    "delta",
  )
  return { y: out, deltas, eventsPerFrame, activationNnzPerFrame, penalty: (o.l1 * l1Sum) / rows }
}
