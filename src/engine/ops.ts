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

/** y[B×Cout] = x[B×Cin] · Ŵᵀ + b */
export const linear = (x: Var, w: LinearWeights): Var => {
  const [batch, cin] = [x.shape[0]!, x.shape[1]!]
  if (x.shape.length !== 2 || cin !== w.inFeatures)
    throw new RangeError(`linear: input shape [${x.shape.join(", ")}] does not fit ${w.inFeatures} input features`)
  const cout = w.outFeatures
  const y = new Float32Array(batch * cout)
  gemm(batch, cout, cin, x.data, w.effectiveT, y)
  if (w.bias !== null) addRowVector(batch, cout, y, w.bias.data)
  const parents = w.bias === null ? [x, w.weight] : [x, w.weight, w.bias]
  return result(
    [batch, cout],
    y,
    parents,
    (self) => {
      const dy = self.grad!
      if (x.requiresGrad) gemm(batch, cin, cout, dy, w.effectiveBackward ?? w.effective, x.ensureGrad(), true)
      if (w.weight.requiresGrad) weightGradient(cout, cin, batch, dy, x.data, w.weight.ensureGrad(), true)
      if (w.bias !== null && w.bias.requiresGrad) sumRows(batch, cout, dy, w.bias.ensureGrad(), true)
    },
    "linear",
  )
}

export const relu = (x: Var): Var => {
  const n = x.data.length
  const y = new Float32Array(n)
  const xd = x.data
  for (let i = 0; i < n; i++) y[i] = xd[i]! > 0 ? xd[i]! : 0
  return result(
    x.shape,
    y,
    [x],
    (self) => {
      const dy = self.grad!
      const dx = x.ensureGrad()
      for (let i = 0; i < n; i++) if (xd[i]! > 0) dx[i] += dy[i]!
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
