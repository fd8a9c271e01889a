import {
  gelu as geluAt,
  geluDerivative,
  gemm,
  gemmABt,
  gemmAtB,
  mergeGroups,
  mergeHeads,
  splitGroups,
  splitHeads,
  transposeGroups,
} from "../tensor/index.ts"
import { result, type Var } from "./autograd.ts"

/**
 * The ops graph models add: normalizations, activations of transformers, joins of branches, and
 * the permutations that stack grouped and per-head GEMMs. Each is a forward loop and its adjoint;
 * the arithmetic that matters for speed is in the GEMM kernels.
 */

/** Rows and the last axis of a tensor: every op here that works "per position" sees [rows × last]. */
const rowsAndLast = (x: Var): { readonly rows: number; readonly last: number } => {
  const last = x.shape[x.shape.length - 1]!
  return { rows: x.data.length / last, last }
}

/** Softmax over the last axis; gradient dx = y ⊙ (dy − Σ dy ⊙ y) per row. */
export const softmax = (x: Var): Var => {
  const { rows, last } = rowsAndLast(x)
  const xd = x.data
  const y = new Float32Array(xd.length)
  for (let r = 0; r < rows; r++) {
    const off = r * last
    let max = Number.NEGATIVE_INFINITY
    for (let j = 0; j < last; j++) max = Math.max(max, xd[off + j]!)
    let sum = 0
    for (let j = 0; j < last; j++) sum += Math.exp(xd[off + j]! - max)
    for (let j = 0; j < last; j++) y[off + j] = Math.exp(xd[off + j]! - max) / sum
  }
  return result(
    x.shape,
    y,
    [x],
    (self) => {
      const dy = self.grad!
      const dx = x.ensureGrad()
      for (let r = 0; r < rows; r++) {
        const off = r * last
        let dot = 0
        for (let j = 0; j < last; j++) dot += dy[off + j]! * y[off + j]!
        for (let j = 0; j < last; j++) dx[off + j] += y[off + j]! * (dy[off + j]! - dot)
      }
    },
    "softmax",
  )
}

/** GELU, exact erf form (PyTorch's default). */
export const gelu = (x: Var): Var => {
  const xd = x.data
  const y = Float32Array.from(xd, geluAt)
  return result(
    x.shape,
    y,
    [x],
    (self) => {
      const dy = self.grad!
      const dx = x.ensureGrad()
      for (let i = 0; i < xd.length; i++) dx[i] += dy[i]! * geluDerivative(xd[i]!)
    },
    "gelu",
  )
}

/**
 * The shared backward of layer and batch normalization, for one normalized set of `count` values
 * x̂ = (x − μ)/σ with upstream dx̂: dx = (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) / σ. `at(i)` maps the
 * i-th member of the set to its flat index.
 */
const normalizeBackward = (
  count: number,
  at: (i: number) => number,
  xhat: Float32Array,
  dxhat: (i: number) => number,
  invStd: number,
  dx: Float32Array,
): void => {
  let mean = 0
  let meanX = 0
  for (let i = 0; i < count; i++) {
    const d = dxhat(i)
    mean += d
    meanX += d * xhat[at(i)]!
  }
  mean /= count
  meanX /= count
  for (let i = 0; i < count; i++) {
    const j = at(i)
    dx[j] += (dxhat(i) - mean - xhat[j]! * meanX) * invStd
  }
}

/**
 * The result of either normalization, y = x̂·γ + β per position of the last axis (`last` values),
 * computed by the caller. Its backward gives dγ += Σ dy ⊙ x̂ and dβ += Σ dy over the other axes,
 * and leaves dx, which depends on where the statistics came from, to `inputBackward`.
 */
const normalized = (
  label: string,
  x: Var,
  gain: Var,
  bias: Var,
  y: Float32Array,
  xhat: Float32Array,
  last: number,
  inputBackward: (dy: Float32Array, dx: Float32Array) => void,
): Var =>
  result(
    x.shape,
    y,
    [x, gain, bias],
    (self) => {
      const dy = self.grad!
      if (gain.requiresGrad || bias.requiresGrad) {
        const dg = gain.ensureGrad()
        const db = bias.ensureGrad()
        for (let i = 0; i < dy.length; i++) {
          const j = i % last
          dg[j] += dy[i]! * xhat[i]!
          db[j] += dy[i]!
        }
      }
      if (x.requiresGrad) inputBackward(dy, x.ensureGrad())
    },
    label,
  )

/** Layer normalization over the last axis with gain and bias (biased variance, as PyTorch). */
export const layerNorm = (x: Var, gain: Var, bias: Var, eps: number): Var => {
  const { rows, last } = rowsAndLast(x)
  if (gain.data.length !== last || bias.data.length !== last)
    throw new RangeError(`layerNorm: gain/bias of ${gain.data.length}/${bias.data.length} for a last axis of ${last}`)
  const xd = x.data
  const xhat = new Float32Array(xd.length)
  const invStd = new Float64Array(rows)
  const y = new Float32Array(xd.length)
  const g = gain.data
  const b = bias.data
  for (let r = 0; r < rows; r++) {
    const off = r * last
    let mean = 0
    for (let j = 0; j < last; j++) mean += xd[off + j]!
    mean /= last
    let variance = 0
    for (let j = 0; j < last; j++) variance += (xd[off + j]! - mean) ** 2
    variance /= last
    const inv = 1 / Math.sqrt(variance + eps)
    invStd[r] = inv
    for (let j = 0; j < last; j++) {
      const h = (xd[off + j]! - mean) * inv
      xhat[off + j] = h
      y[off + j] = h * g[j]! + b[j]!
    }
  }
  return normalized("layernorm", x, gain, bias, y, xhat, last, (dy, dx) => {
    for (let r = 0; r < rows; r++) {
      const off = r * last
      normalizeBackward(
        last,
        (i) => off + i,
        xhat,
        (i) => dy[off + i]! * g[i]!,
        invStd[r]!,
        dx,
      )
    }
  })
}

/** Per-channel statistics of a batch normalization in training. */
export interface BatchStats {
  readonly mean: Float64Array
  /** Biased (divide by the count), what the batch is normalized with. */
  readonly variance: Float64Array
  /** Values per channel the statistics came from (PyTorch's running variance uses count/(count − 1)). */
  readonly count: number
}

/**
 * Batch normalization per channel (the last axis). With `running` null it normalizes with the
 * batch's own statistics (training) and returns them; otherwise with the given running mean and
 * variance (inference), an affine map whose gradient is dy·γ/σ.
 */
export const batchNorm = (
  x: Var,
  gain: Var,
  bias: Var,
  eps: number,
  running: { readonly mean: Float32Array; readonly variance: Float32Array } | null,
): { readonly y: Var; readonly stats: BatchStats | null } => {
  const { rows, last: channels } = rowsAndLast(x)
  const xd = x.data
  const mean = new Float64Array(channels)
  const variance = new Float64Array(channels)
  if (running === null) {
    for (let i = 0; i < xd.length; i++) mean[i % channels] += xd[i]!
    for (let c = 0; c < channels; c++) mean[c] /= rows
    for (let i = 0; i < xd.length; i++) variance[i % channels] += (xd[i]! - mean[i % channels]!) ** 2
    for (let c = 0; c < channels; c++) variance[c] /= rows
  } else {
    mean.set(running.mean)
    variance.set(running.variance)
  }
  const invStd = Float64Array.from(variance, (v) => 1 / Math.sqrt(v + eps))
  const xhat = new Float32Array(xd.length)
  const y = new Float32Array(xd.length)
  const g = gain.data
  const b = bias.data
  for (let i = 0; i < xd.length; i++) {
    const c = i % channels
    const h = (xd[i]! - mean[c]!) * invStd[c]!
    xhat[i] = h
    y[i] = h * g[c]! + b[c]!
  }
  const out = normalized("batchnorm", x, gain, bias, y, xhat, channels, (dy, dx) => {
    if (running !== null) {
      for (let i = 0; i < dy.length; i++) dx[i] += dy[i]! * g[i % channels]! * invStd[i % channels]!
      return
    }
    for (let c = 0; c < channels; c++)
      normalizeBackward(
        rows,
        (r) => r * channels + c,
        xhat,
        (r) => dy[r * channels + c]! * g[c]!,
        invStd[c]!,
        dx,
      )
  })
  return { y: out, stats: running === null ? { mean, variance, count: rows } : null }
}

/** Elementwise sum of equally shaped tensors (residual connections). */
export const add = (xs: ReadonlyArray<Var>): Var => {
  const first = xs[0]!
  for (const x of xs)
    if (x.data.length !== first.data.length)
      throw new RangeError(`add: shapes [${first.shape.join(", ")}] and [${x.shape.join(", ")}] differ`)
  const y = first.data.slice()
  for (const x of xs.slice(1)) for (let i = 0; i < y.length; i++) y[i] += x.data[i]!
  return result(
    first.shape,
    y,
    xs,
    (self) => {
      const dy = self.grad!
      for (const x of xs) {
        if (!x.requiresGrad) continue
        const dx = x.ensureGrad()
        for (let i = 0; i < dy.length; i++) dx[i] += dy[i]!
      }
    },
    "add",
  )
}

/** Concatenation along the last axis; every other axis must agree. */
export const concat = (xs: ReadonlyArray<Var>): Var => {
  const { rows } = rowsAndLast(xs[0]!)
  const widths = xs.map((x) => x.shape[x.shape.length - 1]!)
  const total = widths.reduce((a, b) => a + b, 0)
  for (const x of xs)
    if (x.data.length / x.shape[x.shape.length - 1]! !== rows)
      throw new RangeError(`concat: inputs [${xs.map((v) => `[${v.shape.join(", ")}]`).join(", ")}] do not line up`)
  const y = new Float32Array(rows * total)
  let offset = 0
  xs.forEach((x, i) => {
    const w = widths[i]!
    for (let r = 0; r < rows; r++) y.set(x.data.subarray(r * w, (r + 1) * w), r * total + offset)
    offset += w
  })
  return result(
    [...xs[0]!.shape.slice(0, -1), total],
    y,
    xs,
    (self) => {
      const dy = self.grad!
      let at = 0
      xs.forEach((x, i) => {
        const w = widths[i]!
        if (x.requiresGrad) {
          const dx = x.ensureGrad()
          for (let r = 0; r < rows; r++) for (let j = 0; j < w; j++) dx[r * w + j] += dy[r * total + at + j]!
        }
        at += w
      })
    },
    "concat",
  )
}

/** Mean over every position between the batch and the last axis: [B, H, W, C] or [B, T, C] → [B, C]. */
export const globalAvgPool = (x: Var): Var => {
  const batch = x.shape[0]!
  const channels = x.shape[x.shape.length - 1]!
  const positions = x.data.length / (batch * channels)
  const xd = x.data
  const y = new Float32Array(batch * channels)
  for (let b = 0; b < batch; b++)
    for (let p = 0; p < positions; p++) {
      const off = (b * positions + p) * channels
      for (let c = 0; c < channels; c++) y[b * channels + c] += xd[off + c]!
    }
  for (let i = 0; i < y.length; i++) y[i] /= positions
  return result(
    [batch, channels],
    y,
    [x],
    (self) => {
      const dy = self.grad!
      const dx = x.ensureGrad()
      for (let b = 0; b < batch; b++)
        for (let p = 0; p < positions; p++) {
          const off = (b * positions + p) * channels
          for (let c = 0; c < channels; c++) dx[off + c] += dy[b * channels + c]! / positions
        }
    },
    "globalavgpool",
  )
}

/**
 * `groups` independent products out_i = alpha · A_i · B_i of activations, stacked along rows:
 * a[groups·m × k], b[groups·k × n], out[groups·m × n]. Backward: dA_i = alpha·dOut_i·B_iᵀ,
 * dB_i = alpha·A_iᵀ·dOut_i.
 */
export const batchedMatmul = (a: Var, b: Var, groups: number, m: number, n: number, k: number, alpha = 1): Var => {
  if (a.data.length !== groups * m * k || b.data.length !== groups * k * n)
    throw new RangeError(
      `batchedMatmul: operands of ${a.data.length} and ${b.data.length} for ${groups}×(${m}×${k}·${k}×${n})`,
    )
  const out = new Float32Array(groups * m * n)
  for (let g = 0; g < groups; g++)
    gemm(m, n, k, a.data.subarray(g * m * k), b.data.subarray(g * k * n), out.subarray(g * m * n, (g + 1) * m * n))
  if (alpha !== 1) for (let i = 0; i < out.length; i++) out[i] *= alpha
  return result(
    [groups * m, n],
    out,
    [a, b],
    (self) => {
      const dOut = alpha === 1 ? self.grad! : Float32Array.from(self.grad!, (v) => v * alpha)
      for (let g = 0; g < groups; g++) {
        const dg = dOut.subarray(g * m * n, (g + 1) * m * n)
        if (a.requiresGrad) gemmABt(m, k, n, dg, b.data.subarray(g * k * n), a.ensureGrad().subarray(g * m * k), true)
        if (b.requiresGrad) gemmAtB(k, n, m, a.data.subarray(g * m * k), dg, b.ensureGrad().subarray(g * k * n), true)
      }
    },
    "matmul",
  )
}

/** The grouped-conv lowering as a graph node: see `splitGroups`. Output [groups·rows, taps·channels/groups]. */
export const splitGroupsOp = (x: Var, rows: number, taps: number, channels: number, groups: number): Var =>
  result(
    [groups * rows, (taps * channels) / groups],
    splitGroups(rows, taps, channels, groups, x.data),
    [x],
    (self) => {
      mergeGroups(rows, taps, channels, groups, self.grad!, x.ensureGrad(), true)
    },
    "split-groups",
  )

/** Stacked group outputs [groups·rows, channels/groups] back to [rows, channels]. */
export const mergeGroupsOp = (x: Var, rows: number, channels: number, groups: number): Var =>
  result(
    [rows, channels],
    mergeGroups(rows, 1, channels, groups, x.data),
    [x],
    (self) => {
      splitGroups(rows, 1, channels, groups, self.grad!, x.ensureGrad(), true)
    },
    "merge-groups",
  )

/** Per-group transpose: [groups·rows, cols] → [groups·cols, rows]. */
export const transposeGroupsOp = (x: Var, groups: number, rows: number, cols: number): Var =>
  result(
    [groups * cols, rows],
    transposeGroups(groups, rows, cols, x.data),
    [x],
    (self) => {
      transposeGroups(groups, cols, rows, self.grad!, x.ensureGrad(), true)
    },
    "transpose-groups",
  )

/**
 * One of Q, K, V (`which` 0, 1, 2) of a fused projection qkv[batch·tokens × 3D], heads stacked as
 * groups: [batch·heads·tokens, dh].
 */
export const headsOf = (qkv: Var, batch: number, tokens: number, heads: number, which: 0 | 1 | 2): Var => {
  const d = qkv.shape[1]! / 3
  const dh = d / heads
  return result(
    [batch * heads * tokens, dh],
    splitHeads(batch, tokens, heads, dh, qkv.data, 3 * d, which * d),
    [qkv],
    (self) => {
      mergeHeads(batch, tokens, heads, dh, self.grad!, qkv.ensureGrad(), 3 * d, which * d)
    },
    "heads",
  )
}

/** Stacked heads [batch·heads·tokens, dh] back to [batch·tokens, heads·dh]. */
export const mergeHeadsOp = (o: Var, batch: number, tokens: number, heads: number): Var => {
  const dh = o.shape[1]!
  const d = heads * dh
  const y = mergeHeads(batch, tokens, heads, dh, o.data, new Float32Array(batch * tokens * d), d, 0)
  return result(
    [batch * tokens, d],
    y,
    [o],
    (self) => {
      const back = splitHeads(batch, tokens, heads, dh, self.grad!, d, 0)
      const dx = o.ensureGrad()
      for (let i = 0; i < back.length; i++) dx[i] += back[i]!
    },
    "merge-heads",
  )
}
