import { indexBits, wordsOf, type StorageFormat } from "./format.ts"

/**
 * Compressed sparse rows (or, transposed, columns): the nonzero values, a column index of
 * ⌈log2 cols⌉ bits per nonzero, and a pointer of ⌈log2(nnz + 1)⌉ bits per row plus one.
 */
const compressed = (transposed: boolean): StorageFormat => {
  const words = (rows: number, cols: number, nnz: number, wordBits: number): number => {
    const [outer, inner] = transposed ? [cols, rows] : [rows, cols]
    return wordsOf(nnz * indexBits(inner) + (outer + 1) * indexBits(nnz + 1), wordBits)
  }
  return {
    needsPositions: false,
    exact: (s, _mask, p) => ({ dataWords: s.nnz, metadataWords: words(s.rows, s.cols, s.nnz, p.wordBits) }),
    expected: (rows, cols, density, p) => {
      const nnz = density * rows * cols
      const [outer, inner] = transposed ? [cols, rows] : [rows, cols]
      return { dataWords: nnz, metadataWords: (nnz * indexBits(inner) + (outer + 1) * indexBits(nnz + 1)) / p.wordBits }
    },
  }
}

export const csr = compressed(false)
export const csc = compressed(true)
