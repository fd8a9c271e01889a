import type { RankFormat } from "./format.ts"

/**
 * UOP, uncompressed offset pair (the upper rank of CSR): every fiber, empty or not, stores one
 * offset per coordinate plus the closing one, and no coordinates; the rank is uncompressed.
 */
export const offsetPair: RankFormat = {
  name: "uop",
  compressed: false,
  occupancy: (q) => ({ metadata: 0, payload: q.fibers * (q.fiberShape + 1) }),
}
