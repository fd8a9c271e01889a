import { Either } from "effect"
import type { Mapping } from "../cost/index.ts"
import type { Accelerator, Dataflow } from "../hardware/index.ts"
import type { MachineOptions, Timing } from "./arch.ts"
import { evaluateCanonical } from "./canonical.ts"
import { resolveConstraints, type MapConstraints } from "./constraints.ts"
import { dataflowLabel } from "./dataflows.ts"
import { MappingError, type DataflowError } from "./errors.ts"
import { evaluate, evaluateGroup, mappingIssue, sumCosts } from "./evaluate.ts"
import { groupPrepared, type Machine, type MachineCost, type Prepared } from "./family.ts"
import { families } from "./families/index.ts"
import { groupOperand, groupsOf, isStatistical } from "./groups.ts"
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

const preparedGroups = new WeakMap<Machine, WeakMap<Layer, Prepared>>()

/**
 * A layer as the machine runs it. A grouped layer (groups.ts) runs as its groups one after
 * another: the family prepares group 0's GEMM, and the others are prepared from their slices of
 * the real masks, or, with statistical operands, are group 0 again (one group's GEMM × g, which is
 * also how the mapper maps it). Memoized per layer object, since slicing masks is not free.
 */
export const prepare = (machine: Machine, layer: Layer): Prepared => {
  const g = groupsOf(layer)
  if (g === 1) return machine.model.prepare(machine, layer)
  let memo = preparedGroups.get(machine)
  const hit = memo?.get(layer)
  if (hit !== undefined) return hit
  const { m, k } = layer.gemm
  const slice = (i: number): Layer => {
    const { groups: _, ...w } = layer
    return { ...w, a: groupOperand(layer.a, i, m), b: groupOperand(layer.b, i, k) }
  }
  const statistical = isStatistical(layer.a) && isStatistical(layer.b)
  const first = machine.model.prepare(machine, slice(0))
  const others = statistical
    ? null
    : Array.from({ length: g - 1 }, (_, i) => machine.model.prepare(machine, slice(i + 1)))
  const p: Prepared = { ...first, grouped: { layer, count: g, others } }
  if (memo === undefined) preparedGroups.set(machine, (memo = new WeakMap()))
  memo.set(layer, p)
  return p
}

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
 * A grouped layer with real masks runs each group under its own canonical mapping (a family whose
 * canonical mapping reads the masks may pick different ones), or every group under the one given;
 * the run reports group 0's mapping.
 */
export const runLayer = (
  machine: Machine,
  layer: Layer,
  dataflow: Dataflow,
  given?: { readonly mapping: Mapping; readonly source: string },
): Either.Either<MachineRun, MappingError | DataflowError> => {
  const prepared = prepare(machine, layer)
  const fail = (source: string, expected: string): Either.Either<never, MappingError> =>
    Either.left(
      new MappingError({ source, layer: `${layer.name}${layer.pass === null ? "" : ` ${layer.pass}`}`, expected }),
    )
  const here = `${machine.acc.name}, ${dataflowLabel(dataflow)}`
  type Run = Either.Either<MachineRun, MappingError | DataflowError>
  return Either.flatMap(resolveConstraints(dataflow, prepared.problem), (constraints): Run => {
    if (given !== undefined) {
      const issue = mappingIssue(prepared, given.mapping, constraints)
      if (issue !== null) return fail(given.source, issue)
      const cost = evaluate(prepared, given.mapping, constraints)
      return Either.right({ prepared, constraints, mapping: given.mapping, mappingSource: given.source, cost })
    }
    const groups = groupPrepared(prepared)
    const runs: Array<{ mapping: Mapping; cost: MachineCost }> = []
    for (const g of groups) {
      const c = g === prepared ? Either.right(constraints) : resolveConstraints(dataflow, g.problem)
      if (Either.isLeft(c)) return Either.left(c.left)
      const mapping = machine.model.canonical(g, c.right)
      if (typeof mapping === "string") return fail(here, `no canonical mapping: ${mapping}`)
      const issue = mappingIssue(g, mapping, c.right)
      if (issue !== null) return fail(here, issue)
      // An ungrouped layer, or statistical groups (group 0 stands for all): the whole layer's cost.
      runs.push({
        mapping,
        cost: groups.length === 1 ? evaluateCanonical(g, mapping, c.right) : evaluateGroup(g, mapping, c.right),
      })
    }
    const cost = runs.length === 1 ? runs[0]!.cost : sumCosts(runs.map((r) => r.cost))
    return Either.right({ prepared, constraints, mapping: runs[0]!.mapping, mappingSource: "canonical", cost })
  })
}
