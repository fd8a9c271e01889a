import { Effect } from "effect"
import * as path from "node:path"
import { decodeJsonFile, projectRoot } from "../../src/config/index.ts"
import { Accelerator } from "../../src/hardware/index.ts"

export const loadAcc = (name: string): Accelerator =>
  Effect.runSync(decodeJsonFile(Accelerator)(path.join(projectRoot, "accelerators", `${name}.json`)))

/** A small accelerator with round, distinct energies so sums can be checked by hand. */
export const toyAcc = (over: { sramBytes?: number; dramWordsPerCycle?: number; wordBytes?: number } = {}): Accelerator => {
  const sram = (name: string, holds: "ifmap" | "filter" | "ofmap", rd: number, wr: number) => ({
    name,
    holds: [holds] as const,
    sizeBytes: over.sramBytes ?? 1 << 20,
    ports: 1,
    bandwidthWordsPerCycle: 4,
    readEnergyPjPerWord: rd,
    writeEnergyPjPerWord: wr,
    energySource: "test",
  })
  return {
    name: "toy",
    description: "test accelerator",
    family: "dense-systolic",
    clockGhz: 1,
    datatype: { name: "int8", wordBytes: over.wordBytes ?? 1 },
    peArray: { rows: 4, cols: 4, macsPerPe: 1, lanes: 1, nmSupport: null },
    defaultDataflow: "os",
    memory: [
      {
        name: "dram",
        holds: ["ifmap", "filter", "ofmap"],
        sizeBytes: null,
        ports: 1,
        bandwidthWordsPerCycle: over.dramWordsPerCycle ?? 1e9,
        readEnergyPjPerWord: 100,
        writeEnergyPjPerWord: 200,
        energySource: "test",
      },
      sram("ifmap-sram", "ifmap", 2, 3),
      sram("filter-sram", "filter", 4, 5),
      sram("ofmap-sram", "ofmap", 6, 7),
    ],
    energy: { mac: { energyPj: 1, source: "test" }, gatedMac: { energyPj: 0.5, source: "test" } },
  }
}
