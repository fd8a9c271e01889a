import {
  denseScales,
  type CostArch,
  type CountedAction,
  type LevelCounts,
  type Mapping,
  type Problem,
  type SparseScales,
  type Visits,
} from "../cost/index.ts"
import type { Accelerator, AcceleratorFamily, EnergyCost } from "../hardware/index.ts"
import type { MachineOptions, Timing } from "./arch.ts"
import type { MapConstraints } from "./constraints.ts"
import { effectualMacs } from "./operand.ts"
import type { Layer } from "./workload.ts"

/**
 * One record per accelerator family (as vega-lite keeps one compiler per mark): its legal mapspace,
 * how a mapping of a layer becomes cycles, access counts, sparse savings and energy. The mapper
 * searches it with statistical operands; the simulator evaluates the same record under one mapping
 * with a trace's real masks. Nothing outside a family's record asks which family it is.
 */
export interface FamilyModel {
  readonly family: AcceleratorFamily
  /** The timings the family has: SCALE-Sim's conventions exist for systolic arrays only. */
  readonly timings: ReadonlyArray<Timing>
  /** The loop-nest view of an accelerator of this family. */
  readonly arch: (acc: Accelerator, opts: MachineOptions) => CostArch
  /** A layer as this family runs it: the loop nest, the sparse savings, the counts no mapping changes. */
  readonly prepare: (machine: Machine, layer: Layer) => Prepared
  /**
   * Per dim of the prepared problem, whether the array's rows and cols can take it, and (`pe`)
   * whether PEs without register files step loops over it themselves (RF-position factors).
   */
  readonly spatial: (p: Prepared) => {
    readonly rows: ReadonlyArray<boolean>
    readonly cols: ReadonlyArray<boolean>
    readonly pe?: ReadonlyArray<boolean> | undefined
  }
  /** Why the hardware cannot run a mapping under a dataflow, beyond the loop nest's and the dataflow's own rules. */
  readonly check: (p: Prepared, m: Mapping, c: MapConstraints) => string | null
  /** The dataflow's canonical mapping of the layer (what the simulators run without one), or why there is none. */
  readonly canonical: (p: Prepared, c: MapConstraints) => Mapping | string
  /** The tensors a mapping may hold still in the PEs (systolic arrays: os, ws, is), where the mapping chooses. */
  readonly stationaryChoices?: ((p: Prepared, c: MapConstraints) => ReadonlyArray<number>) | undefined
  /**
   * Per tensor, whether the array's PEs keep its tile across temporal loops that do not index it
   * (absent: every tensor; a systolic array holds only the stationary one, the others stream).
   */
  readonly arrayRetains?: ((p: Prepared, m: Mapping, c: MapConstraints) => ReadonlyArray<boolean>) | undefined
  /** Compute cycles of a mapping: the array busy, with its fill, drain and load imbalance. */
  readonly compute: (p: Prepared, m: Mapping, v: Visits, c: MapConstraints) => ComputeTiming
  /** Families outside the loop-nest model (a neuromorphic mesh) evaluate a layer whole. */
  readonly evaluate?: ((p: Prepared, m: Mapping, c: MapConstraints) => MachineCost) | undefined
}

/** An accelerator compiled through its family's record: what both the mapper and the simulator evaluate. */
export interface Machine {
  readonly acc: Accelerator
  readonly model: FamilyModel
  readonly arch: CostArch
  readonly timing: Timing
  readonly options: MachineOptions
}

/** MAC counts of a layer on a machine: mapping-independent, exact for the operands given. */
export interface MacCounts {
  readonly dense: number
  /** MACs the array performs (skipped ones excluded, gated ones excluded). */
  readonly issued: number
  /** MACs clock-gated on a zero operand: they take their slot but little energy. */
  readonly gated: number
  /** MACs with both operands nonzero (computed on first use: it may need both masks). */
  readonly effectual: () => number
}

/** A layer prepared for one machine. */
export interface Prepared {
  readonly machine: Machine
  readonly layer: Layer
  readonly problem: Problem
  readonly scales: SparseScales
  readonly macs: MacCounts
  /** Counted actions no mapping changes (mux selects, bitmask joins, mask-generation compares). */
  readonly actions: ReadonlyArray<CountedAction>
  readonly actionsPj: number
  /** Energy per metadata word crossing into the array (offset decoders), where the family charges one. */
  readonly metadataDecode: EnergyCost | null
  /** The mechanism that exploited sparsity: dense, nm:N:M, gating, one-sided, two-sided, events. */
  readonly mechanism: string
  /** N:M mask generation cycles (nm-training training passes), whether or not hidden. */
  readonly maskGenCycles: number
  /** Cycles added after compute and transfers (mask generation that does not overlap). */
  readonly serialCycles: number
  /** Family-private precomputation, memoized per geometry. */
  readonly detail: unknown
  /**
   * A grouped layer (`groups` independent GEMMs): this Prepared is group 0's, every field above
   * one group's, and `grouped` says how the others run (see machine.ts `prepare`).
   */
  readonly grouped?: Grouped | undefined
}

/** Every group's Prepared, group 0 first: one entry for an ungrouped layer or statistical groups. */
export const groupPrepared = (p: Prepared): ReadonlyArray<Prepared> =>
  p.grouped === undefined || p.grouped.others === null ? [p] : [p, ...p.grouped.others]

/** How a grouped layer's groups run, beside group 0's Prepared. */
export interface Grouped {
  /** The whole layer, operands stacked as the record holds them. */
  readonly layer: Layer
  readonly count: number
  /**
   * Groups 1..g−1, each prepared from its slice of the real masks; null when the operands are
   * statistical, so every group is group 0 again and the layer costs g times group 0.
   */
  readonly others: ReadonlyArray<Prepared> | null
}

export interface ComputeTiming {
  readonly cycles: number
  /** Of `cycles`: filling and draining the array (and reloading stationary blocks). */
  readonly fillDrainCycles: number
  /** Of `cycles`: load imbalance, lanes or units waiting for the slowest one, measured on the masks. */
  readonly imbalanceCycles: number
  /** Output-buffer writes SCALE-Sim reports beyond the real ones (its os bookkeeping adds R + C per fold). */
  readonly ofmapSramWritesExtra?: number | undefined
}

export interface EnergyParts {
  readonly macPj: number
  readonly dramPj: number
  readonly sramPj: number
  readonly rfPj: number
  /** Counted actions and metadata decoding. */
  readonly actionsPj: number
  /** Static power of every component over the layer's cycles. */
  readonly leakagePj: number
  readonly totalPj: number
}

/** Neuromorphic event counts. */
export interface EventCounts {
  readonly events: number
  readonly synops: number
  readonly active: number
  readonly idle: number
  readonly hops: number
}

/** One mapping of one layer on one machine, evaluated: the numbers every result row and search share. */
export interface MachineCost {
  readonly cycles: number
  readonly computeCycles: number
  /** Cycles compute waited for a memory level's transfers. */
  readonly stallCycles: number
  /** The level whose bandwidth set the pace, or "" when compute did. */
  readonly boundBy: string
  readonly fillDrainCycles: number
  readonly imbalanceCycles: number
  readonly maskGenCycles: number
  readonly counts: LevelCounts
  /** See ComputeTiming.ofmapSramWritesExtra. */
  readonly ofmapSramWritesExtra: number
  readonly dramWords: number
  readonly denseMacs: number
  readonly macs: number
  readonly gatedMacs: number
  /** (MACs + gated MACs) per PE slot over the layer's cycles. */
  readonly utilization: number
  readonly energy: EnergyParts
  /** Every counted action outside MACs and memory, with its energy and source (their sum is `energy.actionsPj`). */
  readonly actions: ReadonlyArray<CountedAction>
  readonly events: EventCounts | null
}

/** MachineCost's objective values for a search. */
export const dramWordsOf = (c: LevelCounts): number => c.dram.reduce((s, x) => s + x.reads + x.writes, 0)

/** What a family states about a prepared layer; the rest takes the dense defaults. */
export interface PreparedParts {
  readonly machine: Machine
  readonly layer: Layer
  readonly problem: Problem
  readonly mechanism: string
  readonly scales?: SparseScales | undefined
  /** Issued and gated MACs (default: every dense MAC issued). */
  readonly issued?: number | undefined
  readonly gated?: number | undefined
  /** Effectual MACs when the family already counted them (default: from the operands, on first use). */
  readonly effectual?: number | undefined
  readonly actions?: ReadonlyArray<CountedAction> | undefined
  readonly metadataDecode?: EnergyCost | null | undefined
  readonly maskGenCycles?: number | undefined
  readonly serialCycles?: number | undefined
  readonly detail?: unknown
}

/** A prepared layer from what its family states, with the dense defaults for the rest. */
export const preparedOf = (x: PreparedParts): Prepared => {
  const { m, n, k } = x.layer.gemm
  const dense = m * n * k
  let effectual = x.effectual
  const actions = x.actions ?? []
  return {
    machine: x.machine,
    layer: x.layer,
    problem: x.problem,
    scales: x.scales ?? denseScales,
    macs: {
      dense,
      issued: x.issued ?? dense,
      gated: x.gated ?? 0,
      effectual: () => (effectual ??= effectualMacs(x.layer.a, x.layer.b)),
    },
    actions,
    actionsPj: actions.reduce((s, a) => s + a.count * a.energyPjEach, 0),
    metadataDecode: x.metadataDecode ?? null,
    mechanism: x.mechanism,
    maskGenCycles: x.maskGenCycles ?? 0,
    serialCycles: x.serialCycles ?? 0,
    detail: x.detail ?? null,
  }
}
