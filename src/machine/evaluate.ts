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
import { dramWordsOf, type MachineCost, type Prepared } from "./family.ts"

/**
 * Why a mapping cannot run this layer here: the loop nest's own rules and the buffers' capacity
 * (tiles in their on-chip format), the array's spatial structure, the dataflow's constraints and the
 * family's, in that order. Null when it can.
 */
export const mappingIssue = (p: Prepared, m: Mapping, c: MapConstraints): string | null => {
  const { problem } = p
  const allowed = p.machine.model.spatial(p)
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
