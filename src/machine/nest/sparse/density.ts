/**
 * Density models: how likely a tile of a given shape (number of coordinates) holds a given number of
 * nonzeros. Sparseloop queries them for every occupancy question (is a conditioned-on tile empty?
 * how many nonzeros does a fiber hold? how much does a compressed tile occupy?), always by tile
 * shape alone for the models reproduced here.
 */
export interface DensityModel {
  readonly distribution: string
  /** The tensor's declared density (fraction of nonzeros). */
  readonly density: number
  /** Probability that a tile of `shape` coordinates holds exactly `occupancy` nonzeros. */
  readonly probability: (shape: number, occupancy: number) => number
  /** The most nonzeros such a tile can hold (at confidence 1). */
  readonly maxOccupancy: (shape: number) => number
  /** The fewest nonzeros such a tile can hold. */
  readonly minOccupancy: (shape: number) => number
  readonly expectedOccupancy: (shape: number) => number
  /** The nonzero counts such a tile holds with nonzero probability, ascending. */
  readonly support: (shape: number) => ReadonlyArray<number>
}

/**
 * `fixed_structured`: every tile holds exactly shape × density nonzeros. Where that is not an
 * integer the tile holds its floor or its ceiling, with the probabilities that keep the expected
 * count exact (p(ceil) = the fractional part). The arithmetic follows the reference tool's order
 * of floating-point operations, because its reports round counts that sit on such fractions.
 */
export const fixedStructured = (density: number): DensityModel => {
  const split = (shape: number) => {
    const exact = shape * density
    const ceilProbability = exact - Math.floor(exact)
    return { exact, ceilProbability, floorProbability: 1 - ceilProbability }
  }
  return {
    distribution: "fixed_structured",
    density,
    probability: (shape, occupancy) => {
      const { exact, ceilProbability, floorProbability } = split(shape)
      if (Math.floor(exact) === occupancy) return floorProbability
      if (Math.ceil(exact) === occupancy) return ceilProbability
      return 0
    },
    maxOccupancy: (shape) => {
      const { exact, floorProbability } = split(shape)
      // Confidence 1 is met by the floor only when the floor is certain.
      return 1 <= floorProbability ? Math.floor(exact) : Math.ceil(exact)
    },
    minOccupancy: (shape) => Math.floor(shape * density),
    expectedOccupancy: (shape) => shape * density,
    support: (shape) => {
      const { exact, ceilProbability, floorProbability } = split(shape)
      const out: number[] = []
      if (floorProbability !== 0) out.push(Math.floor(exact))
      if (ceilProbability !== 0 && Math.ceil(exact) !== Math.floor(exact)) out.push(Math.ceil(exact))
      return out
    },
  }
}

/** A dense tensor: density 1, so every coordinate holds a nonzero. */
export const dense: DensityModel = fixedStructured(1)
