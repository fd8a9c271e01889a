import { Either } from "effect"
import type { Mapping } from "../cost/index.ts"
import type { Accelerator, Dataflow } from "../hardware/index.ts"
import type { MachineOptions, Timing } from "./arch.ts"
import { resolveConstraints, type MapConstraints } from "./constraints.ts"
import { MappingError, type DataflowError } from "./errors.ts"
import { evaluate, mappingIssue } from "./evaluate.ts"
import type { Machine, MachineCost, Prepared } from "./family.ts"
import { families } from "./families/index.ts"
import type { Layer } from "./workload.ts"

/** The timings an accelerator's family has. */
export const timingsOf = (acc: Accelerator): ReadonlyArray<Timing> => families[acc.family].timings

/** An accelerator compiled through its family's record. */
export const machineOf = (acc: Accelerator, options: MachineOptions = {}): Machine => {
  const model = families[acc.family]
  const timing = options.timing ?? "default"
  if (!model.timings.includes(timing)) throw new Error(`${acc.name} (${acc.family}) has no ${timing} timing`)
  return { acc, model, arch: model.arch(acc, options), timing, options }
}

/** A layer as the machine runs it. */
export const prepare = (machine: Machine, layer: Layer): Prepared => machine.model.prepare(machine, layer)

/** One layer run under one mapping: what it ran as, under which constraints, and what it cost. */
export interface MachineRun {
  readonly prepared: Prepared
  readonly constraints: MapConstraints
  readonly mapping: Mapping
  /** "canonical" (the dataflow's) or where the mapping came from. */
  readonly mappingSource: string
  readonly cost: MachineCost
}

/**
 * Run a layer under a dataflow: its canonical mapping, or the one given (which must fit the layer
 * as this machine runs it). The simulators' entry point; the mapper evaluates the same `evaluate`.
 */
export const runLayer = (
  machine: Machine,
  layer: Layer,
  dataflow: Dataflow,
  given?: { readonly mapping: Mapping; readonly source: string },
): Either.Either<MachineRun, MappingError | DataflowError> => {
  const prepared = prepare(machine, layer)
  return Either.flatMap(resolveConstraints(dataflow, prepared.problem), (constraints) => {
    const fail = (source: string, expected: string) =>
      Either.left(
        new MappingError({ source, layer: `${layer.name}${layer.pass === null ? "" : ` ${layer.pass}`}`, expected }),
      )
    let mapping: Mapping
    if (given === undefined) {
      const c = machine.model.canonical(prepared, constraints)
      if (typeof c === "string")
        return fail(`${machine.acc.name}, dataflow ${dataflow.name}`, `no canonical mapping: ${c}`)
      mapping = c
    } else mapping = given.mapping
    const issue = mappingIssue(prepared, mapping, constraints)
    if (issue !== null) return fail(given?.source ?? `${machine.acc.name}, dataflow ${dataflow.name}`, issue)
    return Either.right({
      prepared,
      constraints,
      mapping,
      mappingSource: given?.source ?? "canonical",
      cost: evaluate(prepared, mapping, constraints),
    })
  })
}
