import { wordsOf, type StorageFormat } from "./format.ts"

/** The nonzero values plus one presence bit per element (SparTen's bitmask, Sparseloop's "B"). */
export const bitmap: StorageFormat = {
  needsPositions: false,
  exact: (s, _mask, p) => ({ dataWords: s.nnz, metadataWords: wordsOf(s.rows * s.cols, p.wordBits) }),
  expected: (rows, cols, density, p) => ({
    dataWords: density * rows * cols,
    metadataWords: (rows * cols) / p.wordBits,
  }),
}
