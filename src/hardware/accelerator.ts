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
})
export type EnergyTable = typeof EnergyTable.Type

export const Accelerator = Schema.Struct({
  name: Schema.String.pipe(Schema.minLength(1)),
  description: Schema.String,
  family: Schema.Literal("dense-systolic"),
  clockGhz: Positive,
  datatype: Datatype,
  peArray: PeArray,
  /** The dataflow used when none is given on the command line. */
  defaultDataflow: SystolicDataflow,
  /** Outermost (DRAM) first. */
  memory: Schema.NonEmptyArray(MemoryLevel),
  energy: EnergyTable,
}).pipe(
  Schema.filter((a) => {
    const dram = a.memory[0]
    if (dram.sizeBytes !== null) return { path: ["memory", 0, "sizeBytes"], message: "expected null: the outermost level is DRAM and unbounded" }
    for (const t of ["ifmap", "filter", "ofmap"] as const)
      if (!dram.holds.includes(t)) return { path: ["memory", 0, "holds"], message: `expected the outermost level to hold ${t}` }
    if (a.peArray.nmSupport !== null && a.peArray.nmSupport.n > a.peArray.nmSupport.m)
      return { path: ["peArray", "nmSupport", "n"], message: "expected n <= m" }
    return true
  }),
)
export type Accelerator = typeof Accelerator.Type

/** The on-chip level that stores a tensor: the innermost level that holds it, below DRAM. */
export const sramFor = (acc: Accelerator, tensor: TensorName): MemoryLevel | undefined =>
  [...acc.memory.slice(1)].reverse().find((l) => l.holds.includes(tensor))
