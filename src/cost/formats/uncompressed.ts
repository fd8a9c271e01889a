import type { StorageFormat } from "./format.ts"

/** Every value stored, zeros included; no metadata. */
export const uncompressed: StorageFormat = {
  needsPositions: false,
  exact: (s) => ({ dataWords: s.rows * s.cols, metadataWords: 0 }),
  expected: (rows, cols) => ({ dataWords: rows * cols, metadataWords: 0 }),
}
