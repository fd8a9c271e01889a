import { indexBits, wordsOf, type StorageFormat } from "./format.ts"

/**
 * N:M structured sparsity (SAT's sparse PEs): N values of every group of M, each with a
 * ⌈log2 M⌉-bit position in its group. The nonzero count of an operand that holds the structure is
 * the kept slots; without `nm` the format is uncompressed.
 */
export const nm: StorageFormat = {
  needsPositions: false,
  exact: (s, _mask, p) =>
    p.nm === undefined
      ? { dataWords: s.rows * s.cols, metadataWords: 0 }
      : { dataWords: s.nnz, metadataWords: wordsOf(s.nnz * indexBits(p.nm.m), p.wordBits) },
  expected: (rows, cols, density, p) =>
    p.nm === undefined
      ? { dataWords: rows * cols, metadataWords: 0 }
      : { dataWords: density * rows * cols, metadataWords: (density * rows * cols * indexBits(p.nm.m)) / p.wordBits },
}
