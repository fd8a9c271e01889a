import {
  accessEnergyPj,
  accessesFromVisits,
  capacityScale,
  leakagePjPerCycle,
  loopNestVisits,
  mappingProblem,
  memoryCycles,
  POS_COLS,
  POS_ROWS,
  type Mapping,
} from "../cost/index.ts"
import { constraintProblem, type MapConstraints } from "./constraints.ts"
import { dramWordsOf, groupPrepared, type FamilyModel, type MachineCost, type Prepared } from "./family.ts"
import { machineCachesEnabled } from "./memo.ts"

/**
 * Why a mapping cannot run this layer here: the loop nest's own rules and the buffers' capacity
 * (tiles in their on-chip format), the array's spatial structure, the dataflow's constraints and the
 * family's, in that order. Null when it can.
 */
export const mappingIssue = (p: Prepared, m: Mapping, c: MapConstraints): string | null => {
  for (const g of groupPrepared(p)) {
    const issue = groupIssue(g, m, c)
    if (issue !== null) return p.grouped === undefined || g === p ? issue : `${issue} (in one of its groups)`
  }
  return null
}

/** Per Prepared, its family's spatial rules (a function of the prepared layer alone). */
const spatialRules = new WeakMap<Prepared, ReturnType<FamilyModel["spatial"]>>()
const spatialOf = (p: Prepared): ReturnType<FamilyModel["spatial"]> => {
  if (!machineCachesEnabled()) return p.machine.model.spatial(p)
  let rules = spatialRules.get(p)
  if (rules === undefined) spatialRules.set(p, (rules = p.machine.model.spatial(p)))
  return rules
}

const groupIssue = (p: Prepared, m: Mapping, c: MapConstraints): string | null => {
  const { problem } = p
  const allowed = spatialOf(p)
  const issue = mappingProblem(problem, p.machine.arch, m, capacityScale(p.scales), allowed.pe)
  if (issue !== null) return issue
  for (let d = 0; d < problem.sizes.length; d++) {
    const name = problem.dimNames[d]
    if (!allowed.rows[d] && m.factors[POS_ROWS]![d]! > 1) return `${p.machine.acc.name}'s rows cannot take ${name}`
    if (!allowed.cols[d] && m.factors[POS_COLS]![d]! > 1) return `${p.machine.acc.name}'s cols cannot take ${name}`
  }
  return constraintProblem(problem, c, m) ?? p.machine.model.check(p, m, c)
}

/**
 * A mapping of a prepared layer, evaluated: loop-nest counts scaled by the layer's sparsity, the
 * family's compute timing, memory transfer time against it, and energy as Σ count × energy per
 * action plus every component's leakage over the cycles. The mapper ranks mappings by this, and the
 * simulator reports it: the one machine model.
 */
export const evaluate = (p: Prepared, m: Mapping, c: MapConstraints): MachineCost => {
  const first = evaluateGroup(p, m, c)
  const g = p.grouped
  if (g === undefined) return first
  if (g.others === null) return repeatCost(first, g.count)
  return sumCosts([first, ...g.others.map((o) => evaluateGroup(o, m, c))])
}

/** One group's GEMM (or an ungrouped layer's) under a mapping. */
export const evaluateGroup = (p: Prepared, m: Mapping, c: MapConstraints): MachineCost => {
  const model = p.machine.model
  if (model.evaluate !== undefined) return model.evaluate(p, m, c)
  const a = p.machine.arch
  const hasRf = a.rf !== null
  const v = loopNestVisits(p.problem, m, hasRf, model.arrayRetains?.(p, m, c))
  const counts = accessesFromVisits(p.problem, m, v, hasRf, p.scales)
  const compute = model.compute(p, m, v, c)
  const mem = memoryCycles(a, counts)
  let cycles: number
  let boundBy = ""
  // SCALE-Sim has no stall model to imitate: its timing is compute alone, and its report prints the
  // index of the last demand row (one less than the count).
  if (p.machine.timing === "scalesim") cycles = compute.cycles - 1
  else if (m.doubleBuffer) {
    cycles = compute.cycles
    if (mem.dram > cycles) [cycles, boundBy] = [mem.dram, a.dram.name]
    if (mem.buffers > cycles) [cycles, boundBy] = [mem.buffers, mem.buffer]
  } else {
    // Single-buffered: a tile is filled before compute on it starts and drained after it ends.
    cycles = compute.cycles + mem.dram
    boundBy = mem.dram > 0 ? a.dram.name : ""
    if (mem.buffers > cycles) [cycles, boundBy] = [mem.buffers, mem.buffer]
  }
  cycles += p.serialCycles
  const e = accessEnergyPj(a, counts)
  const macPj = p.macs.issued * a.macEnergyPj + p.macs.gated * a.gatedMacEnergyPj
  const decode = p.metadataDecode
  const actions =
    decode === null || counts.arrayMetadataWords === 0
      ? p.actions
      : [
          ...p.actions,
          { name: "metadata", count: counts.arrayMetadataWords, energyPjEach: decode.energyPj, source: decode.source },
        ]
  const actionsPj = p.actionsPj + (decode === null ? 0 : counts.arrayMetadataWords * decode.energyPj)
  const leakagePj = cycles * leakagePjPerCycle(a)
  return {
    cycles,
    computeCycles: compute.cycles,
    stallCycles: Math.max(0, cycles - compute.cycles - p.serialCycles),
    boundBy,
    fillDrainCycles: compute.fillDrainCycles,
    imbalanceCycles: compute.imbalanceCycles,
    maskGenCycles: p.maskGenCycles,
    counts,
    ofmapSramWritesExtra: compute.ofmapSramWritesExtra ?? 0,
    dramWords: dramWordsOf(counts),
    denseMacs: p.macs.dense,
    macs: p.macs.issued,
    gatedMacs: p.macs.gated,
    // Busy cycles: SCALE-Sim's printed count is one short of the demand rows the array spent.
    utilization:
      cycles === 0
        ? 0
        : (p.macs.issued + p.macs.gated) /
          ((p.machine.timing === "scalesim" ? compute.cycles : cycles) * a.rows * a.cols),
    energy: {
      macPj,
      dramPj: e.dram,
      sramPj: e.sram,
      rfPj: e.rf,
      actionsPj,
      leakagePj,
      totalPj: macPj + e.dram + e.sram + e.rf + actionsPj + leakagePj,
    },
    actions,
    events: null,
  }
}

// ---------------------------------------------------------------------------------------------
// Groups: independent GEMMs one after another, so cycles, counts, MACs and energy add.

/**
 * The cost of GEMMs run one after another, cost i `times[i]` times (default once): every count,
 * cycle and energy adds; utilization is the cycle-weighted mean of theirs; the level named as the
 * bound is the one that stalled longest.
 */
export const sumCosts = (costs: ReadonlyArray<MachineCost>, times?: ReadonlyArray<number>): MachineCost => {
  const w = times ?? costs.map(() => 1)
  const sum = (f: (c: MachineCost) => number): number => costs.reduce((s, c, i) => s + w[i]! * f(c), 0)
  const addRw = (f: (c: MachineCost) => ReadonlyArray<{ readonly reads: number; readonly writes: number }>) =>
    f(costs[0]!).map((_, t) => ({ reads: sum((c) => f(c)[t]!.reads), writes: sum((c) => f(c)[t]!.writes) }))
  const addNums = (f: (c: MachineCost) => ReadonlyArray<number>) => f(costs[0]!).map((_, t) => sum((c) => f(c)[t]!))
  const cycles = sum((c) => c.cycles)
  const actions = new Map<string, MachineCost["actions"][number]>()
  costs.forEach((c, i) => {
    for (const a of c.actions) {
      const had = actions.get(a.name)
      actions.set(a.name, { ...a, count: (had?.count ?? 0) + w[i]! * a.count })
    }
  })
  const stalled = costs.reduce((best, c) => (c.stallCycles > best.stallCycles ? c : best), costs[0]!)
  const events = costs.every((c) => c.events === null)
    ? null
    : {
        events: sum((c) => c.events?.events ?? 0),
        synops: sum((c) => c.events?.synops ?? 0),
        active: sum((c) => c.events?.active ?? 0),
        idle: sum((c) => c.events?.idle ?? 0),
        hops: sum((c) => c.events?.hops ?? 0),
      }
  return {
    cycles,
    computeCycles: sum((c) => c.computeCycles),
    stallCycles: sum((c) => c.stallCycles),
    boundBy: stalled.stallCycles > 0 ? stalled.boundBy : "",
    fillDrainCycles: sum((c) => c.fillDrainCycles),
    imbalanceCycles: sum((c) => c.imbalanceCycles),
    maskGenCycles: sum((c) => c.maskGenCycles),
    counts: {
      dram: addRw((c) => c.counts.dram),
      glb: addRw((c) => c.counts.glb),
      rf: addRw((c) => c.counts.rf),
      arrayReads: addNums((c) => c.counts.arrayReads),
      arrayWrites: addNums((c) => c.counts.arrayWrites),
      onChip: costs[0]!.counts.onChip,
      metadataWords: sum((c) => c.counts.metadataWords),
      arrayMetadataWords: sum((c) => c.counts.arrayMetadataWords),
    },
    ofmapSramWritesExtra: sum((c) => c.ofmapSramWritesExtra),
    dramWords: sum((c) => c.dramWords),
    denseMacs: sum((c) => c.denseMacs),
    macs: sum((c) => c.macs),
    gatedMacs: sum((c) => c.gatedMacs),
    utilization: cycles === 0 ? 0 : sum((c) => c.utilization * c.cycles) / cycles,
    energy: {
      macPj: sum((c) => c.energy.macPj),
      dramPj: sum((c) => c.energy.dramPj),
      sramPj: sum((c) => c.energy.sramPj),
      rfPj: sum((c) => c.energy.rfPj),
      actionsPj: sum((c) => c.energy.actionsPj),
      leakagePj: sum((c) => c.energy.leakagePj),
      totalPj: sum((c) => c.energy.totalPj),
    },
    actions: [...actions.values()],
    events,
  }
}

/** `count` runs of the same GEMM: the cost of one, every count and cycle times `count`. */
export const repeatCost = (c: MachineCost, count: number): MachineCost => sumCosts([c], [count])
