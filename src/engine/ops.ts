import { addRowVector, gemm, sumRows, weightGradient } from "../tensor/index.ts"
import { result, type Var } from "./autograd.ts"

/**
 * The weights a linear op computes with. `effective` is Ŵ (Cout×Cin), the weight as used (the dense
 * weight times the sparsity mask, or the dense weight itself); `effectiveT` is Ŵᵀ (Cin×Cout), kept so
 * the forward GEMM can skip zero activations (a dot-product kernel could not).
 *
 * The gradient goes to `weight` (the dense parameter) unmasked: straight-through, so pruned weights
 * keep learning and a later mask recomputation can grow them back.
 */
export interface LinearWeights {
  readonly weight: Var
  readonly bias: Var | null
  readonly effective: Float32Array
  readonly effectiveT: Float32Array
  /**
   * The weight backward-data multiplies by, when it differs from Ŵ (BDWP prunes Wᵀ along Cout
   * separately for the backward pass); null means Ŵ.
   */
  readonly effectiveBackward: Float32Array | null
  readonly inFeatures: number
  readonly outFeatures: number
}

/**
 * y = x · Ŵᵀ + b, in `groups` independent GEMMs (grouped convolution) stacked along rows:
 * x[groups·m × K], Ŵ[Cout × K] with group i owning rows i·N.. (N = Cout/groups), `effectiveT` the
 * stacked per-group transposes [groups·K × N], y[groups·m × N]. One group is the plain
 * y[B×Cout] = x[B×Cin] · Ŵᵀ + b.
 */
export const linear = (x: Var, w: LinearWeights, groups = 1): Var => {
  const [rows, cin] = [x.shape[0]!, x.shape[1]!]
  if (x.shape.length !== 2 || cin !== w.inFeatures || rows % groups !== 0)
    throw new RangeError(
      `linear: input shape [${x.shape.join(", ")}] does not fit ${w.inFeatures} input features in ${groups} group(s)`,
    )
  const batch = rows / groups
  const cout = w.outFeatures / groups
  const y = new Float32Array(rows * cout)
  const bias = w.bias
  for (let g = 0; g < groups; g++) {
    const yg = y.subarray(g * batch * cout, (g + 1) * batch * cout)
    gemm(batch, cout, cin, x.data.subarray(g * batch * cin), w.effectiveT.subarray(g * cin * cout), yg)
    if (bias !== null) addRowVector(batch, cout, yg, bias.data.subarray(g * cout, (g + 1) * cout))
  }
  const parents = bias === null ? [x, w.weight] : [x, w.weight, bias]
  return result(
    [rows, cout],
    y,
    parents,
    (self) => {
      const dyAll = self.grad!
      const wb = w.effectiveBackward ?? w.effective
      for (let g = 0; g < groups; g++) {
        const dy = dyAll.subarray(g * batch * cout, (g + 1) * batch * cout)
        const xg = x.data.subarray(g * batch * cin, (g + 1) * batch * cin)
        if (x.requiresGrad)
          gemm(batch, cin, cout, dy, wb.subarray(g * cout * cin), x.ensureGrad().subarray(g * batch * cin), true)
        if (w.weight.requiresGrad)
          weightGradient(cout, cin, batch, dy, xg, w.weight.ensureGrad().subarray(g * cout * cin), true)
        if (bias !== null && bias.requiresGrad)
          sumRows(batch, cout, dy, bias.ensureGrad().subarray(g * cout, (g + 1) * cout), true)
      }
    },
    "linear",
  )
}

/** max(x, 0), clipped at `max` too when given (ReLU6); the gradient passes where 0 < x < max. */
export const relu = (x: Var, max = Number.POSITIVE_INFINITY): Var => {
  const n = x.data.length
  const y = new Float32Array(n)
  const xd = x.data
  const clip = max !== Number.POSITIVE_INFINITY
  for (let i = 0; i < n; i++) y[i] = xd[i]! > 0 ? xd[i]! : 0
  if (clip) for (let i = 0; i < n; i++) if (y[i]! > max) y[i] = max
  return result(
    x.shape,
    y,
    [x],
    (self) => {
      const dy = self.grad!
      const dx = x.ensureGrad()
      if (clip) for (let i = 0; i < n; i++) if (xd[i]! > 0 && xd[i]! < max) dx[i] += dy[i]!
      if (!clip) for (let i = 0; i < n; i++) if (xd[i]! > 0) dx[i] += dy[i]!
    },
    "relu",
  )
}

/**
 * Mean softmax cross-entropy over the batch, from logits[B×C] and integer labels. Subtracting the
 * row max before exp keeps it finite for any logits; sums run in float64 (JS numbers).
 * Gradient: (softmax − onehot) / B.
 */
export const softmaxCrossEntropy = (logits: Var, labels: ArrayLike<number>): Var => {
  if (logits.shape.length !== 2)
    throw new RangeError(`softmaxCrossEntropy: logits must be 2-D, got [${logits.shape.join(", ")}]`)
  const [batch, classes] = [logits.shape[0]!, logits.shape[1]!]
  if (labels.length !== batch)
    throw new RangeError(`softmaxCrossEntropy: ${labels.length} labels for a batch of ${batch}`)
  const z = logits.data
  const probs = new Float32Array(batch * classes)
  let total = 0
  for (let i = 0; i < batch; i++) {
    const off = i * classes
    let max = -Infinity
    for (let j = 0; j < classes; j++) max = Math.max(max, z[off + j]!)
    let sum = 0
    for (let j = 0; j < classes; j++) sum += Math.exp(z[off + j]! - max)
    const label = labels[i]!
    if (!(label >= 0 && label < classes))
      throw new RangeError(`softmaxCrossEntropy: label ${label} outside 0..${classes - 1}`)
    const logSum = Math.log(sum)
    total += logSum - (z[off + label]! - max)
    for (let j = 0; j < classes; j++) probs[off + j] = Math.exp(z[off + j]! - max - logSum)
  }
  const loss = new Float32Array([total / batch])
  return result(
    [1],
    loss,
    [logits],
    (self) => {
      const scale = self.grad![0]! / batch
      const dz = logits.ensureGrad()
      for (let i = 0; i < batch; i++) {
        const off = i * classes
        const label = labels[i]!
        for (let j = 0; j < classes; j++) dz[off + j] += scale * (probs[off + j]! - (j === label ? 1 : 0))
      }
    },
    "softmax-cross-entropy",
  )
}

/** Σ x ⊙ c for a constant c: a scalar from any tensor (gradient checks, penalties). */
export const dotConstant = (x: Var, c: Float32Array): Var => {
  if (c.length !== x.data.length) throw new RangeError(`dotConstant: ${c.length} constants for ${x.data.length} values`)
  let s = 0
  for (let i = 0; i < c.length; i++) s += x.data[i]! * c[i]!
  return result(
    [1],
    new Float32Array([s]),
    [x],
    (self) => {
      const g = self.grad![0]!
      const dx = x.ensureGrad()
      for (let i = 0; i < c.length; i++) dx[i] += g * c[i]!
    },
    "dot-constant",
  )
}
