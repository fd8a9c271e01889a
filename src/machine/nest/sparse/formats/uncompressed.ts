import type { RankFormat } from "./format.ts"

/**
 * U, uncompressed: every coordinate is stored in place, so positions are implicit and the rank
 * needs neither metadata nor payload.
 */
export const uncompressed: RankFormat = {
  name: "u",
  compressed: false,
  occupancy: () => ({ metadata: 0, payload: 0 }),
}
