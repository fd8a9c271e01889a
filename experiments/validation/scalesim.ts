/**
 * Spade's `--timing scalesim` against SCALE-Sim's own published reports, not against a reading of
 * its Python. scalesim-reference.json quotes SCALE-Sim-produced COMPUTE_REPORT.csv and
 * DETAILED_ACCESS_REPORT.csv figures exactly as printed (CI golden outputs of scale-sim-v2 and an
 * experiment folder committed to SCALE-Sim's main repository), each with the repository, commit and
 * path of the report, the config and the topology rows that produced it. Each quoted layer runs
 * through Spade's public API as `spade layer --topology … --timing scalesim` does: the topology
 * row parsed by the SCALE-Sim reader, its conv lowered with SCALE-Sim's output size, dense operands,
 * the dataflow's canonical mapping on a dense systolic array of the run's size and SRAM sizes.
 *
 * One tidy row per (run, layer, quantity), of three kinds:
 *
 * - exact: Spade claims SCALE-Sim's number. Cycles (SCALE-Sim's Total − Stall, the last demand
 *   row's index), and the SRAM counts per tensor, which SCALE-Sim takes from its compute module
 *   (systolic_compute_*.py: each fold's operand slice, plus R + C per fold on os ofmap writes) and
 *   which Spade's scalesim timing reproduces. Where the run did not stall, Total and Stall too.
 *   DRAM ifmap and filter reads in CALC (estimate-bandwidth) runs whose operand fits the active half
 *   of its SRAM: SCALE-Sim's read_buffer_estimate_bw.py then fetches each distinct address once,
 *   and Spade's loop nest fills each operand once.
 * - bounded: Overall Util % of stall-free runs. SCALE-Sim divides the MACs by its printed Total
 *   (the last demand row's index); Spade divides by the demand rows the array spent, one more, so
 *   Spade's figure is SCALE-Sim's × T/(T+1), within T's share (reference / Total) of it.
 * - known-difference: what Spade does not model SCALE-Sim's way. The row states Spade's number and
 *   its error all the same (pass false where it differs) and `withinBound` says whether the
 *   documented relation holds (null where there is none):
 *     Total and Stall Cycles of runs that stalled: Spade's scalesim timing has no SCALE-Sim memory
 *       model; Spade = Total − Stall, stall 0.
 *     Overall Util % of runs that stalled: SCALE-Sim counts the stalls; Spade =
 *       reference × Total / (Total − Stall + 1).
 *     DRAM ofmap writes: SCALE-Sim's write buffer drains every ofmap SRAM write (partial sums of
 *       every row fold) to DRAM; Spade writes outputs once they are complete where the ofmap SRAM
 *       holds them: Spade ≤ reference.
 *     DRAM ifmap and filter reads otherwise (USER runs, whose read buffer fetches whole
 *       bandwidth-wide lines and refetches what it evicted; operands larger than half their SRAM):
 *       Spade's loop-nest reuse model and SCALE-Sim's buffer model differ, no bound.
 */
import { Effect, Either, Schema } from "effect"
import * as path from "node:path"
import {
  ConfigError,
  decodeJsonFile,
  decodeValue,
  type FileError,
  loadConfig,
  type NotFoundError,
  projectRoot,
} from "../../src/config/index.ts"
import { Accelerator, type TensorName } from "../../src/hardware/index.ts"
import {
  type DataflowError,
  type LayerWorkload,
  loadDataflow,
  machineOf,
  type MappingError,
  statisticalLayer,
  withConvention,
} from "../../src/machine/index.ts"
import { parseTopologyCsv, simulateLayer, type TopologyCsvError } from "../../src/sim/index.ts"

const Count = Schema.Int.pipe(Schema.nonNegative())
const PositiveInt = Schema.Int.pipe(Schema.positive())

export const ScaleSimSource = Schema.Struct({
  repo: Schema.String.pipe(Schema.pattern(/^[\w.-]+\/[\w.-]+$/)),
  commit: Schema.String.pipe(Schema.pattern(/^[0-9a-f]{40}$/)),
  path: Schema.String.pipe(Schema.minLength(1)),
  role: Schema.Literal("compute-report", "access-report", "config", "topology", "script"),
})

/** The config file's fields that the quoted figures depend on. */
export const ScaleSimConfig = Schema.Struct({
  arrayRows: PositiveInt,
  arrayCols: PositiveInt,
  dataflow: Schema.Literal("os", "ws", "is"),
  ifmapSramKB: PositiveInt,
  filterSramKB: PositiveInt,
  ofmapSramKB: PositiveInt,
  bandwidth: PositiveInt,
  interfaceBandwidth: Schema.Literal("CALC", "USER"),
})
export type ScaleSimConfig = typeof ScaleSimConfig.Type

/** One LayerID of the two reports, its figures as printed. */
export const ScaleSimLayerReport = Schema.Struct({
  layerId: Count,
  /** The topology row's layer name (the reports give only the LayerID). */
  name: Schema.String.pipe(Schema.minLength(1)),
  /** COMPUTE_REPORT.csv: Total Cycles, Stall Cycles, Overall Util %. */
  compute: Schema.Struct({ totalCycles: Count, stallCycles: Count, overallUtilPct: Schema.Number }),
  /** DETAILED_ACCESS_REPORT.csv: the access counts (start and stop cycles left out). */
  access: Schema.Struct({
    sramIfmapReads: Count,
    sramFilterReads: Count,
    sramOfmapWrites: Count,
    dramIfmapReads: Count,
    dramFilterReads: Count,
    dramOfmapWrites: Count,
  }),
})
export type ScaleSimLayerReport = typeof ScaleSimLayerReport.Type

export const ScaleSimRun = Schema.Struct({
  id: Schema.String.pipe(Schema.pattern(/^[a-z0-9-]+$/)),
  sources: Schema.NonEmptyArray(ScaleSimSource),
  notes: Schema.String,
  config: ScaleSimConfig,
  /** The topology CSV's lines as written, header first. */
  topology: Schema.NonEmptyArray(Schema.String),
  layers: Schema.NonEmptyArray(ScaleSimLayerReport),
}).pipe(
  Schema.filter((r) => {
    for (const role of ["compute-report", "access-report", "config", "topology"] as const)
      if (!r.sources.some((s) => s.role === role)) return { path: ["sources"], message: `expected a ${role} source` }
    for (const [i, l] of r.layers.entries())
      if (l.layerId !== i) return { path: ["layers", i, "layerId"], message: `expected LayerID ${i}` }
    return true
  }),
)
export type ScaleSimRun = typeof ScaleSimRun.Type

export const ScaleSimReference = Schema.Struct({
  description: Schema.String,
  runs: Schema.NonEmptyArray(ScaleSimRun),
})
export type ScaleSimReference = typeof ScaleSimReference.Type

export const SCALESIM_REFERENCE_FILE = path.join(projectRoot, "experiments", "validation", "scalesim-reference.json")

/** The accelerator file the runs are derived from: SCALE-Sim's scale.cfg as a Spade accelerator. */
export const SCALESIM_BASE_ACCELERATOR = "systolic-32x32"

export const loadScaleSimReference = (file: string = SCALESIM_REFERENCE_FILE) => decodeJsonFile(ScaleSimReference)(file)

export const QUANTITIES = [
  "totalCycles",
  "stallCycles",
  "computeCycles",
  "overallUtilPct",
  "sramIfmapReads",
  "sramFilterReads",
  "sramOfmapWrites",
  "dramIfmapReads",
  "dramFilterReads",
  "dramOfmapWrites",
] as const
export type Quantity = (typeof QUANTITIES)[number]

export type Kind = "exact" | "bounded" | "known-difference"

export interface ScaleSimRow {
  readonly run: string
  readonly layer: string
  readonly quantity: Quantity
  /** SCALE-Sim's figure as printed (computeCycles: its Total − Stall). */
  readonly reference: number
  readonly spade: number
  /** spade − reference. */
  readonly error: number
  readonly tolerance: number
  /** |error| ≤ tolerance. */
  readonly pass: boolean
  readonly kind: Kind
  /** Known differences: whether the documented relation to SCALE-Sim's figure holds; null where none. */
  readonly withinBound: boolean | null
  readonly note: string
}

/**
 * The dense systolic array a run's config describes: the base accelerator with the config's array
 * and SRAM sizes (one SRAM per tensor, kB of one-byte words). Decoded again, so it is a valid file.
 */
export const acceleratorFor = (base: Accelerator, run: ScaleSimRun): Either.Either<Accelerator, ConfigError> => {
  const c = run.config
  const kB: Record<TensorName, number> = { ifmap: c.ifmapSramKB, filter: c.filterSramKB, ofmap: c.ofmapSramKB }
  const source = `${run.id} (${base.name} resized)`
  const onChip = base.memory.slice(1)
  const bad = onChip.find((l) => l.holds.length !== 1)
  if (base.family !== "dense-systolic" || bad !== undefined)
    return Either.left(
      new ConfigError({
        file: source,
        path: bad === undefined ? "family" : "memory",
        expected: "expected a dense-systolic accelerator with one SRAM per tensor, as SCALE-Sim has",
      }),
    )
  return decodeValue(Accelerator)(source, {
    ...base,
    name: `${base.name}-as-${run.id}`,
    peArray: { ...base.peArray, rows: c.arrayRows, cols: c.arrayCols },
    memory: [base.memory[0], ...onChip.map((l) => ({ ...l, sizeBytes: kB[l.holds[0]] * 1024 }))],
  })
}

/**
 * SCALE-Sim's estimate-bandwidth read buffer keeps the active half of an SRAM as 50 sets of
 * ⌊words / 100⌋ addresses (read_buffer_estimate_bw.py, active_buf_frac 0.5 in single_layer_sim.py).
 */
const activeWindowWords = (kB: number): number => 50 * Math.floor((kB * 1024) / 100)

/** Distinct ifmap words a layer reads: the raw input of a conv, the M×K operand of a GEMM. */
const ifmapWords = (w: LayerWorkload): number =>
  w.conv === null ? w.gemm.m * w.gemm.k : w.conv.ifmapHeight * w.conv.ifmapWidth * w.conv.channels

interface Spade {
  readonly cycles: number
  readonly stallCycles: number
  readonly utilizationPct: number
  readonly sram: { readonly ifmap: number; readonly filter: number; readonly ofmap: number }
  readonly dram: { readonly ifmap: number; readonly filter: number; readonly ofmap: number }
}

const rowsOfLayer = (run: ScaleSimRun, rep: ScaleSimLayerReport, w: LayerWorkload, s: Spade): ScaleSimRow[] => {
  const { totalCycles: total, stallCycles: stall, overallUtilPct: util } = rep.compute
  const a = rep.access
  const c = run.config
  const stalled = stall > 0
  const calc = c.interfaceBandwidth === "CALC"
  const out: ScaleSimRow[] = []
  const add = (
    quantity: Quantity,
    reference: number,
    spade: number,
    kind: Kind,
    note: string,
    tolerance = 0,
    bound: ((spade: number) => boolean) | null = null,
  ) => {
    const error = spade - reference
    out.push({
      run: run.id,
      layer: rep.name,
      quantity,
      reference,
      spade,
      error,
      tolerance,
      pass: Math.abs(error) <= tolerance,
      kind,
      withinBound: kind === "known-difference" ? (bound === null ? null : bound(spade)) : null,
      note,
    })
  }
  const noStallModel = "Spade's scalesim timing has no SCALE-Sim memory model: it never stalls"
  if (stalled) {
    add(
      "totalCycles",
      total,
      s.cycles + s.stallCycles,
      "known-difference",
      `${noStallModel}; Spade = Total − Stall`,
      0,
      (x) => x === total - stall,
    )
    add("stallCycles", stall, s.stallCycles, "known-difference", noStallModel, 0, (x) => x === 0)
  } else {
    add("totalCycles", total, s.cycles + s.stallCycles, "exact", "the last demand row's index")
    add("stallCycles", stall, s.stallCycles, "exact", "stall-free run")
  }
  add("computeCycles", total - stall, s.cycles, "exact", "SCALE-Sim's Total − Stall: its demand rows less one")
  if (stalled) {
    const expected = (util * total) / (total - stall + 1)
    add(
      "overallUtilPct",
      util,
      s.utilizationPct,
      "known-difference",
      "SCALE-Sim's Total counts the stalls; Spade = reference × Total / (Total − Stall + 1)",
      0,
      (x) => Math.abs(x - expected) <= 1e-9 * expected,
    )
  } else
    add(
      "overallUtilPct",
      util,
      s.utilizationPct,
      "bounded",
      "Spade divides by the demand rows (Total + 1), SCALE-Sim by Total",
      util / total,
    )
  add("sramIfmapReads", a.sramIfmapReads, s.sram.ifmap, "exact", "SCALE-Sim's compute-module counter")
  add("sramFilterReads", a.sramFilterReads, s.sram.filter, "exact", "SCALE-Sim's compute-module counter")
  add(
    "sramOfmapWrites",
    a.sramOfmapWrites,
    s.sram.ofmap,
    "exact",
    c.dataflow === "os" ? "includes os's R + C per fold" : "SCALE-Sim's compute-module counter",
  )
  const dramRead = (quantity: Quantity, reference: number, spade: number, words: number, kB: number) => {
    const fits = words <= activeWindowWords(kB)
    if (calc && fits)
      add(
        quantity,
        reference,
        spade,
        "exact",
        `CALC run, ${words} words fit the active half of ${kB} kB: each fetched once`,
      )
    else {
      const why = calc ? `${words} words exceed the active half of ${kB} kB` : "USER run: whole-line fetches, refetches"
      add(quantity, reference, spade, "known-difference", `${why}: SCALE-Sim's buffer model vs Spade's loop nest`)
    }
  }
  dramRead("dramIfmapReads", a.dramIfmapReads, s.dram.ifmap, ifmapWords(w), c.ifmapSramKB)
  dramRead("dramFilterReads", a.dramFilterReads, s.dram.filter, w.gemm.k * w.gemm.n, c.filterSramKB)
  add(
    "dramOfmapWrites",
    a.dramOfmapWrites,
    s.dram.ofmap,
    "known-difference",
    "SCALE-Sim drains every ofmap SRAM write (each row fold's partial sums) to DRAM; Spade ≤ reference",
    0,
    (x) => x <= a.dramOfmapWrites,
  )
  return out
}

export type ScaleSimError = ConfigError | FileError | NotFoundError | TopologyCsvError | MappingError | DataflowError

/** Spade's figures for every quoted layer of one run, as comparison rows. */
export const evaluateScaleSimRun = (
  base: Accelerator,
  run: ScaleSimRun,
  source: string = SCALESIM_REFERENCE_FILE,
): Effect.Effect<ReadonlyArray<ScaleSimRow>, ScaleSimError> =>
  Effect.gen(function* () {
    const acc = yield* acceleratorFor(base, run)
    const machine = machineOf(acc, { timing: "scalesim" })
    const df = yield* loadDataflow(run.config.dataflow)
    const workloads = yield* parseTopologyCsv(run.topology.join("\n"), `${source} (${run.id} topology)`)
    if (workloads.length !== run.layers.length)
      return yield* new ConfigError({
        file: source,
        path: `${run.id}.layers`,
        expected: `expected one report layer per topology layer (${workloads.length}), got ${run.layers.length}`,
      })
    const rows: ScaleSimRow[] = []
    for (const [i, rep] of run.layers.entries()) {
      const w = withConvention(workloads[i]!, "scalesim")
      if (w.name !== rep.name)
        return yield* new ConfigError({
          file: source,
          path: `${run.id}.layers.${i}.name`,
          expected: `expected the topology's layer ${i}, ${w.name}, got ${rep.name}`,
        })
      const layer = statisticalLayer(w, { kind: "dense" }, { kind: "dense" }, 1)
      const r = yield* simulateLayer(machine, layer, df)
      const dram = (t: string, f: "reads" | "writes") =>
        r.accesses.filter((x) => x.level === machine.arch.dram.name && x.tensor === t).reduce((n, x) => n + x[f], 0)
      rows.push(
        ...rowsOfLayer(run, rep, w, {
          cycles: r.row.cycles,
          stallCycles: r.row.stallCycles,
          utilizationPct: r.row.utilization * 100,
          sram: { ifmap: r.row.ifmapSramReads, filter: r.row.filterSramReads, ofmap: r.row.ofmapSramWrites },
          dram: { ifmap: dram("ifmap", "reads"), filter: dram("filter", "reads"), ofmap: dram("ofmap", "writes") },
        }),
      )
    }
    return rows
  })

/** Every quoted run, evaluated: the rows of scalesim-reference.json against Spade. */
export const compareWithScaleSim = (
  file: string = SCALESIM_REFERENCE_FILE,
): Effect.Effect<ReadonlyArray<ScaleSimRow>, ScaleSimError> =>
  Effect.gen(function* () {
    const ref = yield* loadScaleSimReference(file)
    const base = yield* loadConfig("accelerators", Accelerator)(SCALESIM_BASE_ACCELERATOR)
    const rows = yield* Effect.forEach(ref.runs, (run) => evaluateScaleSimRun(base, run, file))
    return rows.flat()
  })
