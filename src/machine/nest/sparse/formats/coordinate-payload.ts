import { emptyCoordinate, nonemptyFibers, type RankFormat } from "./format.ts"

/**
 * CP, coordinate-payload: every nonempty coordinate stores its coordinate (metadata) and a
 * payload; each fiber's expected nonzero count is rounded up, as a fiber holds whole entries.
 */
export const coordinatePayload: RankFormat = {
  name: "cp",
  compressed: true,
  occupancy: (q) => {
    const nonzerosPerFiber = Math.ceil(q.fiberShape * (1 - emptyCoordinate(q)))
    const units = nonzerosPerFiber * nonemptyFibers(q)
    return { metadata: units, payload: units }
  },
}
