import { Either } from "effect"
import { describe, expect, it, vi } from "vitest"
import { problemDims } from "../../src/cost/index.ts"
import type { NmTrainingAccelerator } from "../../src/hardware/index.ts"
import {
  machineOf,
  mappingFromNamed,
  namedMapping,
  prepare,
  statisticalLayer,
  trainingStepLayers,
  workloadFromGemm,
  type Layer,
  type MappingEntry,
} from "../../src/machine/index.ts"
import { iterationSummary, simulate, simulateLayer, simulateWithEntry } from "../../src/sim/index.ts"
import { dataflow, loadAcc, toyAcc } from "./helpers.ts"

// Counts the files read, to see `simulate` load each dataflow file once.
const reads = vi.hoisted(() => [] as string[])
vi.mock("node:fs", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:fs")>()
  const readFileSync = ((file: string, ...rest: [never]) => {
    reads.push(String(file))
    return actual.readFileSync(file, ...rest)
  }) as typeof actual.readFileSync
  return { ...actual, default: { ...actual, readFileSync }, readFileSync }
})

const dense = (name: string, m: number, n: number, k: number, pass: Layer["pass"] = null): Layer =>
  statisticalLayer(workloadFromGemm(name, { m, n, k }, pass), { kind: "dense" }, { kind: "dense" }, 1)

describe("simulateWithEntry", () => {
  const machine = machineOf(toyAcc())
  const ws = dataflow("ws")
  /** A mapping-file entry for `layer` holding the dataflow's canonical mapping, as `spade map` writes one. */
  const entryFor = (layer: Layer): MappingEntry => {
    const canonical = Either.getOrThrow(simulateLayer(machine, layer, ws)).run.mapping
    const problem = prepare(machine, layer).problem
    return {
      layer: layer.name,
      pass: layer.pass,
      accelerator: "toy",
      dataflow: ws.name,
      machine: { timing: "default", glbWords: null, rows: 4, cols: 4 },
      dims: problemDims(problem),
      mapping: namedMapping(problem, machine.arch, canonical),
    }
  }

  it("runs the entry's mapping, labelled with its source, with the numbers of the same mapping given directly", () => {
    const layer = dense("fc", 8, 12, 20)
    const entry = entryFor(layer)
    const r = Either.getOrThrow(simulateWithEntry(machine, layer, ws, entry, "maps.jsonl:3"))
    expect(r.row.mapping).toBe("maps.jsonl:3")
    expect(r.run.mappingSource).toBe("maps.jsonl:3")
    const mapping = mappingFromNamed(prepare(machine, layer).problem, entry.dims, entry.mapping)
    if (typeof mapping === "string") throw new Error(mapping)
    expect(r.run.mapping).toEqual(mapping)
    const given = Either.getOrThrow(simulateLayer(machine, layer, ws, { mapping, source: "maps.jsonl:3" }))
    expect(r.row).toEqual(given.row)
    // The canonical mapping read back from its names runs as the canonical mapping does.
    const canonical = Either.getOrThrow(simulateLayer(machine, layer, ws))
    expect({ ...r.row, mapping: "canonical" }).toEqual(canonical.row)
  })

  it("an entry found for other dims is a MappingError naming the source, the layer and its pass", () => {
    const entry = entryFor(dense("fc", 8, 12, 20))
    const other = dense("fc", 8, 12, 21, "backward-data")
    const err = Either.flip(simulateWithEntry(machine, other, ws, entry, "maps.jsonl:3")).pipe(Either.getOrThrow)
    expect(err._tag).toBe("MappingError")
    expect(err.message).toBe(
      "maps.jsonl:3: mapping for fc backward-data: it was found for M=8,N=12,K=20, " +
        "and the layer runs here as M=8,N=12,K=21",
    )
    const noPass = Either.flip(simulateWithEntry(machine, dense("fc", 8, 12, 21), ws, entry, "m")).pipe(
      Either.getOrThrow,
    )
    expect(noPass.message).toBe(
      "m: mapping for fc: it was found for M=8,N=12,K=20, and the layer runs here as M=8,N=12,K=21",
    )
  })
})

describe("simulate", () => {
  it("runs the accelerator's first dataflow when none is named", () => {
    const layer = dense("fc", 8, 12, 20)
    const acc = toyAcc()
    expect(acc.dataflows[0]).toBe("output-stationary")
    expect(simulate(acc, layer).row).toEqual(simulate(acc, layer, { dataflow: "output-stationary" }).row)
    expect(simulate(acc, layer).row.dataflow).toBe("output-stationary")
    expect(simulate(acc, layer, { dataflow: "ws" }).row.dataflow).toBe("weight-stationary")
  })

  it("reads a dataflow file once, however many layers run under it", () => {
    const acc = toyAcc()
    const count = () => reads.filter((f) => f.endsWith("input-stationary.json")).length
    const before = count()
    const first = simulate(acc, dense("a", 4, 5, 6), { dataflow: "is" })
    const loaded = count()
    expect(loaded).toBeGreaterThan(before)
    expect(first.row.dataflow).toBe("input-stationary")
    expect(simulate(acc, dense("b", 7, 5, 6), { dataflow: "is" }).row.dataflow).toBe("input-stationary")
    expect(count()).toBe(loaded)
  })

  it("throws the machine's error as an Error with its message when the layer cannot run", () => {
    const layer = dense("g", 8, 8, 8)
    expect(() => simulate(loadAcc("eyeriss-like"), layer, { dataflow: "ws" })).toThrowError(
      new Error(
        "eyeriss-like, dataflow weight-stationary: mapping for g: no canonical mapping: M may not unroll over the cols",
      ),
    )
  })
})

describe("iterationSummary", () => {
  const sat28 = loadAcc("sat-like-2x8") as NmTrainingAccelerator
  const withMaskGen = (
    over: Partial<NmTrainingAccelerator["nmTraining"]["maskGeneration"]>,
  ): NmTrainingAccelerator => ({
    ...sat28,
    nmTraining: { ...sat28.nmTraining, maskGeneration: { ...sat28.nmTraining.maskGeneration, ...over } },
  })
  const shape = { kind: "linear" as const, name: "fc", batch: 64, inFeatures: 256, outFeatures: 128 }
  const step = (acc: NmTrainingAccelerator) =>
    trainingStepLayers(shape, { kind: "bdwp", n: 2, m: 8 }, 1).map((layer) => simulate(acc, layer))

  it("sums MACs and energy over the step's rows", () => {
    const rows = step(sat28)
    const s = iterationSummary(rows)
    expect(rows.length).toBe(3)
    expect(s.macs).toBe(rows[0]!.row.macs + rows[1]!.row.macs + rows[2]!.row.macs)
    expect(s.macs).toBeGreaterThan(0)
    expect(s.energyPj).toBeCloseTo(rows[0]!.energy.totalPj + rows[1]!.energy.totalPj + rows[2]!.energy.totalPj, 6)
    expect(s.energyPj).toBeGreaterThan(0)
    expect(iterationSummary([])).toEqual({ cycles: 0, exposedMaskGenCycles: 0, macs: 0, energyPj: 0 })
  })

  it("serial mask generation is in its own pass's cycles and is never exposed again", () => {
    // A slow serial generator: its cycles exceed the weight-gradient pass, but they are already paid.
    const rows = step(withMaskGen({ overlapped: false, weightsPerCycle: 8 }))
    expect(rows[0]!.row.maskGenCycles).toBe((256 * 128) / 8)
    expect(rows[0]!.row.maskGenCycles + rows[1]!.row.maskGenCycles).toBeGreaterThan(rows[2]!.row.cycles)
    const s = iterationSummary(rows)
    expect(s.exposedMaskGenCycles).toBe(0)
    expect(s.cycles).toBe(rows.reduce((t, r) => t + r.row.cycles, 0))
  })
})
