import type { DensityModel } from "../density.ts"

/**
 * One rank of a tensor's fibertree representation: how many metadata units (coordinates, run
 * lengths, mask bits) and payload units (offsets, pointers) the rank stores for a tile. A rank
 * holds `fibers` fibers of `fiberShape` coordinates each; every coordinate points to a subtile of
 * `subtileShape` coordinates in the rank below. Compressed ranks store only nonempty coordinates.
 */
export interface OccupancyQuery {
  /** Fibers the rank can hold at most (product of the fiber shapes of the ranks above). */
  readonly fibers: number
  /** Coordinates per fiber. */
  readonly fiberShape: number
  /** Coordinates of the tile the rank's fibers partition (empty tiles carry no fiber). */
  readonly tileShape: number
  /** Coordinates under one of the rank's coordinates. */
  readonly subtileShape: number
  readonly density: DensityModel
}

export interface RankOccupancy {
  readonly metadata: number
  readonly payload: number
}

export interface RankFormat {
  /** Lower-case name, as the reference tool prints it ("uop", "cp", ...). */
  readonly name: string
  /** Whether the rank drops empty coordinates (which makes the tensor compressed). */
  readonly compressed: boolean
  /** Metadata word width the format implies when the architecture gives none (bitmasks: 1 bit). */
  readonly metadataWordBits?: number | undefined
  readonly occupancy: (q: OccupancyQuery) => RankOccupancy
}

/** Fibers of a rank that are not empty: an empty tile has no fiber to store. */
export const nonemptyFibers = (q: OccupancyQuery): number => q.fibers * (1 - q.density.probability(q.tileShape, 0))

/** Probability that a coordinate's subtile holds no nonzero. */
export const emptyCoordinate = (q: OccupancyQuery): number => q.density.probability(q.subtileShape, 0)
