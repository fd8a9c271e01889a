import type { BufferLevel, CostArch, Mapping } from "../../src/cost/index.ts"

/**
 * A hand-made architecture view with distinct, binary-exact figures everywhere, so a sum that takes
 * a wrong term shows: a 4×2 array with RFs, DRAM and two buffers (ifmap and ofmap share the first).
 */
export const buffer = (over: Partial<BufferLevel> & { name: string }): BufferLevel => ({
  capacityWords: 100,
  readEnergyPjPerWord: 2,
  writeEnergyPjPerWord: 3,
  bandwidthWordsPerCycle: 4,
  ports: 2,
  leakagePjPerCycle: 0.25,
  ...over,
})

export const arch = (over: Partial<CostArch> = {}): CostArch => ({
  name: "hand",
  rows: 4,
  cols: 2,
  clockGhz: 1,
  wordBits: 16,
  dram: buffer({
    name: "dram",
    capacityWords: Number.POSITIVE_INFINITY,
    readEnergyPjPerWord: 100,
    writeEnergyPjPerWord: 200,
    bandwidthWordsPerCycle: 8,
    ports: 1,
    leakagePjPerCycle: 0.5,
  }),
  buffers: [
    buffer({ name: "shared" }),
    buffer({
      name: "weights",
      capacityWords: 50,
      readEnergyPjPerWord: 5,
      writeEnergyPjPerWord: 7,
      bandwidthWordsPerCycle: 2,
      ports: 1,
      leakagePjPerCycle: 0.125,
    }),
  ],
  bufferOf: [0, 1, 0],
  rf: { capacityWords: [2, 3, 4], readEnergyPjPerWord: 0.5, writeEnergyPjPerWord: 0.75, leakagePjPerCycle: 0.0625 },
  macEnergyPj: 1,
  gatedMacEnergyPj: 0.125,
  peLeakagePjPerCycle: 0.03125,
  ...over,
})

/** A mapping from its factors (positions DRAM, GLB, rows, cols, RF), identity orders and every tensor kept. */
export const mappingOf = (factors: number[][], over: Partial<Mapping> = {}): Mapping => {
  const nd = factors[0]!.length
  const id = Array.from({ length: nd }, (_, d) => d)
  return {
    factors,
    orders: [id, id, id],
    keep: [
      [true, true, true],
      [true, true, true],
      [true, true, true],
    ],
    doubleBuffer: false,
    ...over,
  }
}
