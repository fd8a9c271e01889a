import { emptyCoordinate, nonemptyFibers, type RankFormat } from "./format.ts"

/**
 * B, bitmask: one mask bit per coordinate of every nonempty fiber, and payloads only for the
 * coordinates whose subtile is nonempty (rounded up per fiber), so empty coordinates are dropped.
 */
export const bitmask: RankFormat = {
  name: "b",
  compressed: true,
  metadataWordBits: 1,
  occupancy: (q) => {
    const fibers = nonemptyFibers(q)
    const nonzerosPerFiber = Math.ceil(q.fiberShape * (1 - emptyCoordinate(q)))
    return { metadata: fibers * q.fiberShape, payload: fibers * nonzerosPerFiber }
  },
}
