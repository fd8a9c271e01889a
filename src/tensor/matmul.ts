import { gemm, gemmABt, gemmAtB, transpose } from "./gemm.ts"
import { dims2, type Tensor } from "./tensor.ts"

export interface MatmulOptions {
  readonly transA?: boolean
  readonly transB?: boolean
}

/** op(A)·op(B) on 2-D tensors, dispatching to the kernel that walks memory contiguously. */
export const matmul = (a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor => {
  const [ar, ac] = dims2(a)
  const [br, bc] = dims2(b)
  const transA = options.transA ?? false
  const transB = options.transB ?? false
  const m = transA ? ac : ar
  const k = transA ? ar : ac
  const kb = transB ? bc : br
  const n = transB ? br : bc
  if (k !== kb) throw new RangeError(`matmul: inner dimensions differ (${k} vs ${kb})`)
  const c = new Float32Array(m * n)
  if (!transA && !transB) gemm(m, n, k, a.data, b.data, c)
  else if (!transA && transB) gemmABt(m, n, k, a.data, b.data, c)
  else if (transA && !transB) gemmAtB(m, n, k, a.data, b.data, c)
  else gemm(m, n, k, transpose(k, m, a.data), transpose(n, k, b.data), c)
  return { shape: [m, n], data: c }
}
