import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { decodeJsonFile, projectRoot } from "../../src/config/index.ts"
import { Accelerator, type Dataflow } from "../../src/hardware/index.ts"
import { type Layer, loadDataflow, type Operand } from "../../src/machine/index.ts"
import { mulberry32 } from "../../src/tensor/index.ts"
import { type GemmDims, packMask, type NmStructure, type OperandTrace } from "../../src/trace/index.ts"

export const loadAcc = (name: string): Accelerator =>
  Effect.runSync(decodeJsonFile(Accelerator)(path.join(projectRoot, "accelerators", `${name}.json`)))

export const accelerators = (): ReadonlyArray<Accelerator> =>
  fs
    .readdirSync(path.join(projectRoot, "accelerators"))
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => loadAcc(f.slice(0, -5)))

/** A dataflow file by name or SCALE-Sim alias. */
export const dataflow = (name: string): Dataflow => Effect.runSync(loadDataflow(name))

/**
 * A small accelerator with round, distinct energies so sums can be checked by hand. Leakage is off
 * unless asked for (`leakMw`, per PE and per SRAM level). SRAMs move 4 words a cycle through one
 * port unless `sramWordsPerCycle` says otherwise.
 */
export const toyAcc = (
  over: {
    sramBytes?: number
    dramWordsPerCycle?: number
    sramWordsPerCycle?: number
    wordBytes?: number
    leakMw?: number
  } = {},
): Accelerator => {
  const sram = (name: string, holds: "ifmap" | "filter" | "ofmap", rd: number, wr: number) => ({
    name,
    holds: [holds] as const,
    sizeBytes: over.sramBytes ?? 1 << 20,
    ports: 1,
    bandwidthWordsPerCycle: over.sramWordsPerCycle ?? 4,
    readEnergyPjPerWord: rd,
    writeEnergyPjPerWord: wr,
    energySource: "test",
    leakage: { milliwatts: over.leakMw ?? 0, source: "test" },
  })
  return {
    name: "toy",
    description: "test accelerator",
    family: "dense-systolic",
    clockGhz: 1,
    datatype: { name: "int8", wordBytes: over.wordBytes ?? 1 },
    peArray: { rows: 4, cols: 4, macsPerPe: 1, lanes: 1, nmSupport: null },
    dataflows: ["output-stationary", "weight-stationary", "input-stationary"],
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
        leakage: { milliwatts: 0, source: "test" },
      },
      sram("ifmap-sram", "ifmap", 2, 3),
      sram("filter-sram", "filter", 4, 5),
      sram("ofmap-sram", "ofmap", 6, 7),
    ],
    energy: {
      mac: { energyPj: 1, source: "test" },
      gatedMac: { energyPj: 0.5, source: "test" },
      peLeakage: { milliwatts: over.leakMw ?? 0, source: "test" },
    },
  }
}

/** A trace operand (as the tracer records one) from a row-major 0/1 list. */
export const traceOf = (
  rows: number,
  cols: number,
  bits: ReadonlyArray<number>,
  nm: NmStructure | null = null,
): OperandTrace => {
  if (bits.length !== rows * cols) throw new RangeError(`traceOf: ${bits.length} bits for ${rows}×${cols}`)
  const nnz = bits.reduce((s, b) => s + b, 0)
  const rowNnz = Int32Array.from({ length: rows }, (_, r) =>
    bits.slice(r * cols, (r + 1) * cols).reduce((s, b) => s + b, 0),
  )
  return {
    tensor: "test",
    rows,
    cols,
    nnz,
    density: rows * cols === 0 ? 0 : nnz / (rows * cols),
    mask: packMask(Uint8Array.from(bits)),
    rowNnz,
    tileNnz: Int32Array.of(nnz),
    nm,
  }
}

/** An operand from a row-major 0/1 mask, as a derived (re-expressed trace) operand. */
export const maskOperand = (rows: number, cols: number, mask: Uint8Array): Operand => ({
  kind: "derived",
  rows,
  cols,
  mask,
  nnz: mask.reduce((s, b) => s + b, 0),
  nm: null,
})

/**
 * Masks whose density jumps from one 32-element block of the reduction to the next and from row to
 * row (empty, sparse, half or full blocks): the imbalance between units that FIFOs absorb and
 * lockstep pays, which uniform masks hardly have.
 */
export const blockyLayer = (g: GemmDims, s: number): Layer => {
  const rand = mulberry32(s)
  const levels = [0, 0.1, 0.5, 1]
  const blocks = Math.ceil(g.k / 32)
  const a = new Uint8Array(g.m * g.k)
  const b = new Uint8Array(g.k * g.n)
  for (let i = 0; i < g.m; i++)
    for (let blk = 0; blk < blocks; blk++) {
      const p = levels[Math.floor(rand() * levels.length)]!
      for (let j = blk * 32; j < Math.min(g.k, blk * 32 + 32); j++) a[i * g.k + j] = rand() < p ? 1 : 0
    }
  for (let f = 0; f < g.n; f++)
    for (let blk = 0; blk < blocks; blk++) {
      const p = levels[Math.floor(rand() * levels.length)]!
      for (let j = blk * 32; j < Math.min(g.k, blk * 32 + 32); j++) b[j * g.n + f] = rand() < p ? 1 : 0
    }
  return { name: "blocky", pass: null, conv: null, gemm: g, a: maskOperand(g.m, g.k, a), b: maskOperand(g.k, g.n, b) }
}
