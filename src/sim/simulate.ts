import { Effect, Either } from "effect"
import type { Mapping } from "../cost/index.ts"
import type { Accelerator, Dataflow } from "../hardware/index.ts"
import {
  loadDataflow,
  machineOf,
  mappingFromNamed,
  MappingError,
  prepare,
  resultOf,
  runLayer,
  type DataflowError,
  type Layer,
  type Machine,
  type MachineOptions,
  type MappingEntry,
  type SimResult,
} from "../machine/index.ts"

/**
 * The simulators: a layer with its operands (a trace's real masks, or statistical ones) run on a
 * machine under a dataflow, with that dataflow's canonical mapping or a mapping the mapper found.
 * Every family goes through its record in the machine model, the same one the mapper searches.
 */
export const simulateLayer = (
  machine: Machine,
  layer: Layer,
  dataflow: Dataflow,
  given?: { readonly mapping: Mapping; readonly source: string },
): Either.Either<SimResult, MappingError | DataflowError> =>
  Either.map(runLayer(machine, layer, dataflow, given), resultOf)

/** Run a layer under a mapping-file entry, read back against the problem the layer runs as here. */
export const simulateWithEntry = (
  machine: Machine,
  layer: Layer,
  dataflow: Dataflow,
  entry: MappingEntry,
  source: string,
): Either.Either<SimResult, MappingError | DataflowError> => {
  const mapping = mappingFromNamed(prepare(machine, layer).problem, entry.dims, entry.mapping)
  if (typeof mapping === "string")
    return Either.left(
      new MappingError({
        source,
        layer: `${layer.name}${layer.pass === null ? "" : ` ${layer.pass}`}`,
        expected: mapping,
      }),
    )
  return simulateLayer(machine, layer, dataflow, { mapping, source })
}

export interface SimulateOptions extends MachineOptions {
  /** A dataflow name or SCALE-Sim alias; the accelerator's first declared dataflow when absent. */
  readonly dataflow?: string | undefined
}

const dataflows = new Map<string, Dataflow>()

/**
 * One layer with the dataflow's canonical mapping, for scripts and benches that own their inputs:
 * there a failure is a bug, so it throws. Commands use `simulateLayer`, whose errors are data.
 */
export const simulate = (acc: Accelerator, layer: Layer, opts: SimulateOptions = {}): SimResult => {
  const name = opts.dataflow ?? acc.dataflows[0]
  let df = dataflows.get(name)
  if (df === undefined) dataflows.set(name, (df = Effect.runSync(loadDataflow(name))))
  return Either.getOrThrowWith(simulateLayer(machineOf(acc, opts), layer, df), (e) => new Error(e.message))
}

export interface IterationSummary {
  readonly cycles: number
  /** Mask-generation cycles not hidden behind the dense weight-gradient pass. */
  readonly exposedMaskGenCycles: number
  readonly macs: number
  readonly energyPj: number
}

/**
 * Sum one training step's rows. Mask generation that overlaps (it added no cycles to its own pass)
 * runs while the dense weight-gradient GEMMs do; only what exceeds them is exposed.
 */
export const iterationSummary = (results: ReadonlyArray<SimResult>): IterationSummary => {
  const rows = results.map((r) => r.row)
  const cycles = rows.reduce((s, r) => s + r.cycles, 0)
  const overlapped = results
    .filter((r) => r.run.prepared.serialCycles === 0)
    .reduce((s, r) => s + r.row.maskGenCycles, 0)
  const hiddenUnder = rows.filter((r) => r.pass === "backward-weight").reduce((s, r) => s + r.cycles, 0)
  const exposed = Math.max(0, overlapped - hiddenUnder)
  return {
    cycles: cycles + exposed,
    exposedMaskGenCycles: exposed,
    macs: rows.reduce((s, r) => s + r.macs, 0),
    energyPj: results.reduce((s, r) => s + r.energy.totalPj, 0),
  }
}
