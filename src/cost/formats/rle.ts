import { wordsOf, type StorageFormat } from "./format.ts"

/**
 * Eyeriss v1's run-length code, row-major: each kept value carries the run of zeros before it in a
 * `runLengthBits` field, and a run longer than the field can hold costs an extra entry carrying an
 * explicit zero. Zeros after the last nonzero cost nothing.
 */
export const rle: StorageFormat = {
  needsPositions: true,
  exact: (s, mask, p) => {
    const total = s.rows * s.cols
    let entries = 0
    if (mask === null) entries = total
    else {
      const span = 2 ** p.runLengthBits
      let run = 0
      for (let i = 0; i < total; i++) {
        if (mask[i] === 1) {
          entries += 1 + Math.floor(run / span)
          run = 0
        } else run++
      }
    }
    return { dataWords: entries, metadataWords: wordsOf(entries * p.runLengthBits, p.wordBits) }
  },
  // With zeros i.i.d. at 1 − d, a zero run r before a nonzero costs ⌊r / L⌋ extra entries and
  // E[⌊r / L⌋] = q/(1 − q) for q = (1 − d)^L, so a nonzero costs 1/(1 − q) entries on average.
  expected: (rows, cols, density, p) => {
    if (density <= 0) return { dataWords: 0, metadataWords: 0 }
    const q = (1 - density) ** (2 ** p.runLengthBits)
    const entries = (density * rows * cols) / (1 - q)
    return { dataWords: entries, metadataWords: (entries * p.runLengthBits) / p.wordBits }
  },
}
