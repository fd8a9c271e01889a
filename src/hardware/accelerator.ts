import { Schema } from "effect"

/**
 * An accelerator file (`accelerators/*.json`). Units are in the field names. Every energy constant
 * carries the source it was taken from, because per-term and all-in figures must never be mixed.
 */

const PositiveInt = Schema.Int.pipe(Schema.positive())
const Positive = Schema.Number.pipe(Schema.positive())
const NonNegative = Schema.Number.pipe(Schema.nonNegative())
const Source = Schema.String.pipe(Schema.minLength(1, { message: () => "expected a non-empty source citation" }))

export const TensorName = Schema.Literal("ifmap", "filter", "ofmap")
export type TensorName = typeof TensorName.Type

export const EnergyCost = Schema.Struct({
  energyPj: NonNegative,
  source: Source,
})
export type EnergyCost = typeof EnergyCost.Type

/**
 * Static power of one component instance, charged for every cycle of a layer, busy or idle: idle
 * cycles are not free, so a slow design that skips work pays for the time it takes. The energy of
 * one cycle is milliwatts / clockGhz pJ.
 */
export const Leakage = Schema.Struct({
  milliwatts: NonNegative,
  source: Source,
})
export type Leakage = typeof Leakage.Type

export const MemoryLevel = Schema.Struct({
  name: Schema.String.pipe(Schema.minLength(1)),
  /** Which GEMM tensors this level stores. DRAM stores all three. */
  holds: Schema.NonEmptyArray(TensorName),
  /** Capacity; null means unbounded (off-chip DRAM). */
  sizeBytes: Schema.NullOr(PositiveInt),
  ports: PositiveInt,
  /** Words moved per cycle across this level's interface to the level inside it. */
  bandwidthWordsPerCycle: Positive,
  readEnergyPjPerWord: NonNegative,
  writeEnergyPjPerWord: NonNegative,
  energySource: Source,
  /** Static power of the whole level. */
  leakage: Leakage,
})
export type MemoryLevel = typeof MemoryLevel.Type

export const SystolicDataflow = Schema.Literal("os", "ws", "is")
export type SystolicDataflow = typeof SystolicDataflow.Type

export const PeArray = Schema.Struct({
  rows: PositiveInt,
  cols: PositiveInt,
  macsPerPe: PositiveInt,
  /** Lanes per PE for skipping designs; 1 for a plain MAC. */
  lanes: PositiveInt,
  /** N:M structure the PEs can exploit, or null for a dense array. */
  nmSupport: Schema.NullOr(Schema.Struct({ n: PositiveInt, m: PositiveInt })),
})
export type PeArray = typeof PeArray.Type

export const Datatype = Schema.Struct({
  name: Schema.Literal("int8", "int16", "fp16", "bf16", "fp32"),
  wordBytes: PositiveInt,
})

export const EnergyTable = Schema.Struct({
  mac: EnergyCost,
  gatedMac: EnergyCost,
  mux: Schema.optional(EnergyCost),
  metadata: Schema.optional(EnergyCost),
  event: Schema.optional(EnergyCost),
  /** Static power of one PE (its MACs, registers and control), for every PE of the array. */
  peLeakage: Leakage,
})
export type EnergyTable = typeof EnergyTable.Type

/** Sparse storage formats whose metadata the simulators charge as memory traffic. */
export const Encoding = Schema.Literal("none", "bitmap", "csr", "csc", "rle")
export type Encoding = typeof Encoding.Type

/** Fields every family shares. */
const common = {
  name: Schema.String.pipe(Schema.minLength(1)),
  description: Schema.String,
  clockGhz: Positive,
  datatype: Datatype,
  peArray: PeArray,
  /** Outermost (DRAM) first. */
  memory: Schema.NonEmptyArray(MemoryLevel),
  energy: EnergyTable,
  /**
   * The dataflows (names of files in dataflows/) this array runs: the mapper searches these by
   * default, and the first is the one the simulators use when none is given.
   */
  dataflows: Schema.NonEmptyArray(Schema.String.pipe(Schema.minLength(1))),
}

/** TPU-like dense systolic array (the first slice's family). */
export const DenseSystolicAccelerator = Schema.Struct({
  ...common,
  family: Schema.Literal("dense-systolic"),
})
export type DenseSystolicAccelerator = typeof DenseSystolicAccelerator.Type

/**
 * Eyeriss-like row-stationary array. `gating: "zero-ifmap"` is Eyeriss v1's data gating: a zero
 * input activation gates the MAC and the filter scratchpad read (energy), never the schedule (cycles).
 */
export const RowStationaryAccelerator = Schema.Struct({
  ...common,
  family: Schema.Literal("row-stationary"),
  rowStationary: Schema.Struct({
    gating: Schema.Literal("none", "zero-ifmap"),
    /** How ifmaps travel to and from DRAM (Eyeriss v1 run-length codes them). */
    ifmapEncoding: Encoding,
    /** Bits of one run-length field when `ifmapEncoding` is "rle" (Eyeriss v1: 5). */
    runLengthBits: PositiveInt,
    /** Per-PE scratchpad capacities in words (Eyeriss v1: 12 ifmap, 224 filter, 24 partial sums). */
    rfWords: Schema.Struct({ ifmap: PositiveInt, filter: PositiveInt, ofmap: PositiveInt }),
    /** Per-PE scratchpad (register file) energies, charged per MAC operand access. */
    rfReadEnergyPjPerWord: NonNegative,
    rfWriteEnergyPjPerWord: NonNegative,
    rfEnergySource: Source,
    /** Static power of one PE's three scratchpads. */
    rfLeakage: Leakage,
  }),
})
export type RowStationaryAccelerator = typeof RowStationaryAccelerator.Type

/**
 * SAT-like N:M training array: a systolic array whose sparse PEs hold N weights of every group of M
 * along the reduction dim plus ceil(log2 M)-bit indices, selecting activations with M:1 muxes.
 * `peArray.nmSupport` gives N and M.
 */
export const NmTrainingAccelerator = Schema.Struct({
  ...common,
  family: Schema.Literal("nm-training"),
  nmTraining: Schema.Struct({
    /**
     * Activation words the ifmap port delivers per cycle. A sparse row consumes M/N words per cycle
     * (its group's M candidates for N slots), so a port sized for the dense array throttles it.
     */
    activationPortWordsPerCycle: Positive,
    maskGeneration: Schema.Struct({
      /** Weights the top-N-of-M selection unit scans per cycle. */
      weightsPerCycle: Positive,
      /** Whether mask generation runs beside the dense weight-gradient pass (hidden up to its length). */
      overlapped: Schema.Boolean,
      /** Energy of one comparison in the selection network. */
      compare: EnergyCost,
    }),
  }),
})
export type NmTrainingAccelerator = typeof NmTrainingAccelerator.Type

/**
 * Cnvlutin-like one-sided activation skipping: `peArray.rows` neuron lanes split the reduction dim,
 * `peArray.cols` filters run in parallel; each lane walks only the nonzeros of its brick, and all
 * lanes resynchronize after every brick window.
 */
export const OneSidedAccelerator = Schema.Struct({
  ...common,
  family: Schema.Literal("one-sided-skipping"),
  oneSided: Schema.Struct({
    /** Activations per lane per sync window (Cnvlutin: a 16-activation brick). */
    brickSize: PositiveInt,
    /** Storage format of the (sparse) ifmap in SRAM and DRAM. */
    ifmapEncoding: Encoding,
  }),
})
export type OneSidedAccelerator = typeof OneSidedAccelerator.Type

/**
 * SparTen-like two-sided skipping: `peArray.rows × peArray.cols` compute units, each holding whole
 * filters as bitmask + nonzeros; an input chunk is broadcast, each unit ANDs bitmasks and does one
 * MAC per matched pair; per-unit input FIFOs of `bufferChunks` chunks decide how far units drift apart.
 */
export const TwoSidedAccelerator = Schema.Struct({
  ...common,
  family: Schema.Literal("two-sided-skipping"),
  twoSided: Schema.Struct({
    /** Reduction-dim elements per bitmask chunk (SparTen: 128), whole 32-bit mask words. */
    chunkSize: PositiveInt.pipe(
      Schema.filter((n) => n % 32 === 0 || "expected a multiple of 32 (a chunk's bitmask is whole 32-bit words)"),
    ),
    /** "greedy": SparTen's static greedy balancing (densest filter to the least-loaded unit); "none": round-robin. */
    balancing: Schema.Literal("none", "greedy"),
    /**
     * Input chunks each compute unit's FIFO holds, counting the one it is working on. The broadcast
     * waits only for units whose FIFO is full, so 1 means every unit resynchronizes after every
     * chunk and deeper FIFOs let units drift apart by up to that many chunks.
     */
    bufferChunks: PositiveInt,
  }),
})
export type TwoSidedAccelerator = typeof TwoSidedAccelerator.Type

/**
 * Loihi-like neuromorphic mesh. Energies are Loihi's all-in per-operation figures (they include
 * the synapse and state memory accesses), so the memory levels of such a file are not charged for
 * synaptic or neuron state traffic.
 */
export const NeuromorphicAccelerator = Schema.Struct({
  ...common,
  family: Schema.Literal("neuromorphic"),
  neuromorphic: Schema.Struct({
    meshCols: PositiveInt,
    meshRows: PositiveInt,
    neuronsPerCore: PositiveInt,
    synopsPerCyclePerCore: Positive,
    /** Neuron-state words (read + write) a core moves per cycle: the bound once events are rare. */
    stateWordsPerCyclePerCore: Positive,
    synop: EnergyCost,
    neuronUpdateActive: EnergyCost,
    neuronUpdateIdle: EnergyCost,
    spikeWithinTile: EnergyCost,
    hopEastWest: EnergyCost,
    hopNorthSouth: EnergyCost,
  }),
})
export type NeuromorphicAccelerator = typeof NeuromorphicAccelerator.Type

export const AcceleratorFamily = Schema.Literal(
  "dense-systolic",
  "row-stationary",
  "nm-training",
  "one-sided-skipping",
  "two-sided-skipping",
  "neuromorphic",
)
export type AcceleratorFamily = typeof AcceleratorFamily.Type

export const Accelerator = Schema.Union(
  DenseSystolicAccelerator,
  RowStationaryAccelerator,
  NmTrainingAccelerator,
  OneSidedAccelerator,
  TwoSidedAccelerator,
  NeuromorphicAccelerator,
).pipe(
  Schema.filter((a) => {
    const dram = a.memory[0]
    if (dram.sizeBytes !== null)
      return { path: ["memory", 0, "sizeBytes"], message: "expected null: the outermost level is DRAM and unbounded" }
    for (const t of ["ifmap", "filter", "ofmap"] as const)
      if (!dram.holds.includes(t))
        return { path: ["memory", 0, "holds"], message: `expected the outermost level to hold ${t}` }
    if (a.peArray.nmSupport !== null && a.peArray.nmSupport.n > a.peArray.nmSupport.m)
      return { path: ["peArray", "nmSupport", "n"], message: "expected n <= m" }
    if (a.family === "nm-training" && a.peArray.nmSupport === null)
      return {
        path: ["peArray", "nmSupport"],
        message: "expected {n, m}: an nm-training array needs the N:M it supports",
      }
    return true
  }),
)
export type Accelerator = typeof Accelerator.Type

/** The dataflow the simulators run when none is given: the first the file declares. */
export const defaultDataflowOf = (acc: Accelerator): string => acc.dataflows[0]

/** The on-chip level that stores a tensor: the innermost level that holds it, below DRAM. */
export const sramFor = (acc: Accelerator, tensor: TensorName): MemoryLevel | undefined =>
  [...acc.memory.slice(1)].reverse().find((l) => l.holds.includes(tensor))
