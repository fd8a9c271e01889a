/**
 * A tensor is a row-major Float32Array plus its shape. Kept a plain record, not a class, so kernels
 * work on the raw arrays and any stage can build one without importing a constructor.
 */
export interface Tensor {
  readonly shape: ReadonlyArray<number>
  readonly data: Float32Array
}

export const sizeOf = (shape: ReadonlyArray<number>): number => {
  let n = 1
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`bad dimension ${d} in shape [${shape.join(", ")}]`)
    n *= d
  }
  return n
}

export const zeros = (shape: ReadonlyArray<number>): Tensor => ({
  shape: [...shape],
  data: new Float32Array(sizeOf(shape)),
})

/** Wrap existing data (no copy); the length must match the shape. */
export const tensor = (shape: ReadonlyArray<number>, data: Float32Array | ReadonlyArray<number>): Tensor => {
  const n = sizeOf(shape)
  if (data.length !== n) throw new RangeError(`shape [${shape.join(", ")}] needs ${n} values, got ${data.length}`)
  return { shape: [...shape], data: data instanceof Float32Array ? data : Float32Array.from(data) }
}

/** Rows and columns of a 2-D tensor; anything else is a caller bug. */
export const dims2 = (t: Tensor): readonly [number, number] => {
  if (t.shape.length !== 2) throw new RangeError(`expected a 2-D tensor, got shape [${t.shape.join(", ")}]`)
  return [t.shape[0]!, t.shape[1]!]
}

/** Fraction of nonzero entries (the density every sparsity figure is built from). */
export const density = (values: Float32Array | Uint8Array): number => {
  if (values.length === 0) return 0
  let nz = 0
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) nz++
  return nz / values.length
}
