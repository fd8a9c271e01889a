import type { Einsum } from "../../src/machine/index.ts"

/** Z[M,N] += A[M,K]·B[N,K] as an einsum: every rank one dim, so tiles never half-overlap. */
export const gemmEinsum = (m: number, n: number, k: number): Einsum => ({
  name: "gemm",
  dims: ["M", "N", "K"],
  bounds: [m, n, k],
  dataSpaces: [
    { name: "A", ranks: [[{ dim: 0, coefficient: 1 }], [{ dim: 2, coefficient: 1 }]], readWrite: false },
    { name: "B", ranks: [[{ dim: 1, coefficient: 1 }], [{ dim: 2, coefficient: 1 }]], readWrite: false },
    { name: "Z", ranks: [[{ dim: 0, coefficient: 1 }], [{ dim: 1, coefficient: 1 }]], readWrite: true },
  ],
})
