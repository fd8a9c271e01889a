import { emptyCoordinate, nonemptyFibers, type RankFormat } from "./format.ts"

/**
 * RLE, run-length encoding: one run length (metadata) and one payload per nonempty coordinate.
 * Unlike coordinate-payload, the expected count per fiber is not rounded up: runs are modelled as
 * a stream, not as per-fiber lists.
 */
export const runLength: RankFormat = {
  name: "rle",
  compressed: true,
  occupancy: (q) => {
    const nonzerosPerFiber = q.fiberShape * (1 - emptyCoordinate(q))
    const units = nonzerosPerFiber * nonemptyFibers(q)
    return { metadata: units, payload: units }
  },
}
