import type { Encoding } from "../hardware/index.ts"
import { materializeMask, operandCols, operandNnz, operandRows, type Operand } from "./operand.ts"

/** Words one operand occupies in memory in a sparse format: the values kept plus the metadata. */
export interface EncodedSize {
  readonly dataWords: number
  readonly metadataWords: number
}

const bitsFor = (values: number): number => Math.max(1, Math.ceil(Math.log2(Math.max(2, values))))

/**
 * Exact sizes from the mask. `none` keeps every value; `bitmap` one bit per element; `csr`/`csc` a
 * column (row) index per nonzero plus a pointer per row (column); `rle` Eyeriss v1's run-length code:
 * each kept value carries the run of zeros before it in `runLengthBits`, and a run longer than the
 * field can hold costs an extra entry carrying an explicit zero.
 */
export const encodedSize = (op: Operand, encoding: Encoding, wordBits: number, runLengthBits = 5): EncodedSize => {
  const rows = operandRows(op)
  const cols = operandCols(op)
  const total = rows * cols
  const nnz = operandNnz(op)
  const words = (bits: number): number => Math.ceil(bits / wordBits)
  switch (encoding) {
    case "none":
      return { dataWords: total, metadataWords: 0 }
    case "bitmap":
      return { dataWords: nnz, metadataWords: words(total) }
    case "csr":
      return { dataWords: nnz, metadataWords: words(nnz * bitsFor(cols) + (rows + 1) * bitsFor(nnz + 1)) }
    case "csc":
      return { dataWords: nnz, metadataWords: words(nnz * bitsFor(rows) + (cols + 1) * bitsFor(nnz + 1)) }
    case "rle": {
      const maxRun = 2 ** runLengthBits - 1
      let entries = 0
      if (op.kind === "dense") entries = total
      else {
        const mask = materializeMask(op)
        let run = 0
        for (let i = 0; i < total; i++) {
          if (mask[i] === 1) {
            entries += 1 + Math.floor(run / (maxRun + 1))
            run = 0
          } else run++
        }
      }
      return { dataWords: entries, metadataWords: words(entries * runLengthBits) }
    }
  }
}
