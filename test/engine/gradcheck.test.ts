import { fc, test } from "@fast-check/vitest"
import { describe, expect } from "vitest"
import {
  backward,
  dotConstant,
  leaf,
  Linear,
  nmMask,
  relu,
  softmaxCrossEntropy,
  type Var,
} from "../../src/engine/index.ts"
import { createRng } from "../../src/tensor/index.ts"
import { expectClose, expectGradients, numericGradient, randoms, weightedSum } from "./gradcheck-helpers.ts"

/**
 * Engine gradients (Float32) against central differences of a float64 reference of the same
 * function. These shallow functions round little, so the tolerance is tighter than the shared one.
 */
const [rel, abs] = [1e-3, 1e-4]
const expectGradClose = (name: string, actual: Float32Array | null, expected: Float64Array): void =>
  expectClose(name, actual, expected, rel, abs)

/** Reference y = x·ŵᵀ + b in float64 (ŵ row-major Cout×Cin). */
const linearRef = (
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  batch: number,
  cin: number,
  cout: number,
): Float64Array => {
  const y = new Float64Array(batch * cout)
  for (let i = 0; i < batch; i++)
    for (let j = 0; j < cout; j++) {
      let s = b[j]!
      for (let k = 0; k < cin; k++) s += x[i * cin + k]! * w[j * cin + k]!
      y[i * cout + j] = s
    }
  return y
}

const ceRef = (z: ArrayLike<number>, labels: ArrayLike<number>, batch: number, classes: number): number => {
  let total = 0
  for (let i = 0; i < batch; i++) {
    let max = -Infinity
    for (let j = 0; j < classes; j++) max = Math.max(max, z[i * classes + j]!)
    let sum = 0
    for (let j = 0; j < classes; j++) sum += Math.exp(z[i * classes + j]! - max)
    total += Math.log(sum) + max - z[i * classes + labels[i]!]!
  }
  return total / batch
}

const dims = fc.record({
  batch: fc.integer({ min: 1, max: 4 }),
  cin: fc.integer({ min: 1, max: 9 }),
  cout: fc.integer({ min: 1, max: 6 }),
  seed: fc.integer({ min: 0, max: 2 ** 31 }),
})

describe("finite-difference gradient checks", () => {
  test.prop([dims, fc.boolean()])(
    "Linear: dX, dW, db (with and without a 2:4 mask; dW straight-through)",
    ({ batch, cin, cout, seed }, masked) => {
      const layer = new Linear("fc", cin, cout, true, seed)
      layer.bias!.data.set(randoms(seed + 1, cout))
      if (masked) layer.setMask(nmMask(cout, cin, layer.weight.data, 2, 4))
      const mask = layer.mask
      const x0 = randoms(seed + 2, batch * cin)
      const r = randoms(seed + 3, batch * cout)
      const x = leaf([batch, cin], x0.slice(), true)
      backward(dotConstant(layer.forward(x), r))

      const w0 = layer.weight.data
      const b0 = layer.bias!.data
      const effective = Float64Array.from(w0, (v, i) => (mask === null || mask[i] !== 0 ? v : 0))
      // Straight-through: the dense weight gets the gradient of the weight as used, mask ignored.
      expectGradients(
        (p) => weightedSum(linearRef(p.X, p.W, p.b, batch, cin, cout), r),
        { X: Float64Array.from(x0), W: effective, b: Float64Array.from(b0) },
        { X: x.grad, W: layer.weight.grad, b: layer.bias!.grad },
        rel,
        abs,
      )
    },
  )

  test.prop([fc.integer({ min: 1, max: 30 }), fc.integer()])("ReLU", (n, seed) => {
    // Keep inputs away from the kink, where the derivative is undefined.
    const x0 = randoms(seed, n).map((v) => (Math.abs(v) < 0.01 ? 0.5 : v))
    const r = randoms(seed + 1, n)
    const x = leaf([n], x0.slice(), true)
    backward(dotConstant(relu(x), r))
    const f = (p: Float64Array): number => p.reduce((s, v, i) => s + Math.max(0, v) * r[i]!, 0)
    expectGradClose("dX", x.grad, numericGradient(f, Float64Array.from(x0)))
  })

  test.prop([
    fc.integer({ min: 1, max: 5 }),
    fc.integer({ min: 2, max: 7 }),
    fc.integer(),
    fc.constantFrom(1, 10, 1000),
  ])("softmax cross-entropy (stable for huge logits)", (batch, classes, seed, scale) => {
    const z0 = randoms(seed, batch * classes, scale)
    const rng = createRng(seed + 1)
    const labels = Uint8Array.from({ length: batch }, () => rng.int(classes))
    const z = leaf([batch, classes], z0.slice(), true)
    const loss = softmaxCrossEntropy(z, labels)
    expect(Number.isFinite(loss.data[0]!)).toBe(true)
    expect(Math.abs(loss.data[0]! - ceRef(z0, labels, batch, classes))).toBeLessThan(1e-4 * Math.max(1, scale))
    backward(loss)
    expectGradClose(
      "dZ",
      z.grad,
      numericGradient((p) => ceRef(p, labels, batch, classes), Float64Array.from(z0)),
    )
  })

  test.prop([dims, fc.integer({ min: 2, max: 5 })])(
    "a two-layer MLP end to end (Linear → ReLU → Linear → CE)",
    ({ batch, cin, cout, seed }, classes) => {
      const l1 = new Linear("fc1", cin, cout, true, seed)
      const l2 = new Linear("fc2", cout, classes, true, seed + 1)
      l1.bias!.data.set(randoms(seed + 2, cout, 0.1))
      const x0 = randoms(seed + 3, batch * cin)
      const rng = createRng(seed + 4)
      const labels = Uint8Array.from({ length: batch }, () => rng.int(classes))
      const h = linearRef(x0, l1.weight.data, l1.bias!.data, batch, cin, cout)
      // A pre-activation within eps of 0 makes the numeric derivative meaningless; skip those draws.
      fc.pre(h.every((v) => Math.abs(v) > 1e-3))
      const x = leaf([batch, cin], x0.slice(), false)
      const forward = (v: Var): Var => l2.forward(relu(l1.forward(v)))
      backward(softmaxCrossEntropy(forward(x), labels))
      const f = (w1: ArrayLike<number>): number => {
        const hidden = linearRef(x0, w1, l1.bias!.data, batch, cin, cout).map((v) => Math.max(0, v))
        return ceRef(linearRef(hidden, l2.weight.data, l2.bias!.data, batch, cout, classes), labels, batch, classes)
      }
      expectGradClose("dW1", l1.weight.grad, numericGradient(f, Float64Array.from(l1.weight.data)))
      expect(x.grad).toBeNull()
    },
  )
})
