import type { RankFormat } from "./format.ts"

/**
 * UB, uncompressed bitmask: every coordinate keeps its data slot and one mask bit saying whether
 * it is nonzero, and one payload per coordinate; nothing is dropped, so the rank is uncompressed.
 */
export const uncompressedBitmask: RankFormat = {
  name: "ub",
  compressed: false,
  metadataWordBits: 1,
  occupancy: (q) => ({ metadata: q.fibers * q.fiberShape, payload: q.fibers * q.fiberShape }),
}
