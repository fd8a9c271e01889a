/**
 * A storage format: how many words a rows×cols operand occupies, values and metadata apart, both
 * exactly from its mask and in expectation from its density. The two live side by side, with the
 * same index widths, so a scheduler's estimate and a simulator's count can only differ by chance.
 */
export interface EncodedSize {
  readonly dataWords: number
  readonly metadataWords: number
}

/** What a format needs to know of an operand; `mask` (row-major 0/1) only where positions matter. */
export interface MaskShape {
  readonly rows: number
  readonly cols: number
  readonly nnz: number
}

export interface FormatParams {
  readonly wordBits: number
  /** Bits of one run-length field (Eyeriss v1: 5). */
  readonly runLengthBits: number
  /** N:M formats: the structure (N nonzeros kept in every group of M). */
  readonly nm?: { readonly n: number; readonly m: number } | undefined
}

export interface StorageFormat {
  /** Whether `exact` needs the mask itself, not just its nonzero count. */
  readonly needsPositions: boolean
  readonly exact: (shape: MaskShape, mask: Uint8Array | null, p: FormatParams) => EncodedSize
  readonly expected: (rows: number, cols: number, density: number, p: FormatParams) => EncodedSize
}

export const wordsOf = (bits: number, wordBits: number): number => Math.ceil(bits / wordBits)

/** Bits of an index into `values` positions (at least one). */
export const indexBits = (values: number): number => Math.max(1, Math.ceil(Math.log2(Math.max(2, values))))
