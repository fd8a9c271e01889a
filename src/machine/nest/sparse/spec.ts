import type { RankFormatName } from "./formats/index.ts"

/**
 * What a Sparseloop input asks of the loop-nest model beyond the dense analysis: each tensor's
 * density, how each storage level represents each tensor (a fibertree format per rank), which
 * reads a level gates or skips and on what condition, and what the compute unit does with
 * ineffectual operand pairs. Levels are innermost first, one per storage level of the hierarchy.
 */
export interface RankSpec {
  readonly format: RankFormatName
  /**
   * Groups of dims (indices into the einsum's dims) the rank may flatten together; empty where the
   * input gives none, which lets the rank take one loop and nothing flattened with it.
   */
  readonly flattenedDims: ReadonlyArray<ReadonlyArray<number>>
  readonly metadataWordBits?: number | undefined
  readonly payloadWordBits?: number | undefined
}

export interface Representation {
  /** Top rank first, as the input lists them. */
  readonly ranks: ReadonlyArray<RankSpec>
  /** Map ranks to loops from the innermost up (the default maps the outermost rank first). */
  readonly innerToOuter: boolean
}

/** Reads of `target` are gated or skipped whenever the matching tile of every `conditionOn` is empty. */
export interface ActionOption {
  readonly target: number
  readonly conditionOn: ReadonlyArray<number>
}

/** One optimization the level applies; where it lists several options the most saving one is kept. */
export interface ActionGroup {
  readonly kind: "gating" | "skipping"
  readonly options: ReadonlyArray<ActionOption>
}

export interface LevelSparsity {
  /** Per data space; undefined where the level stores it uncompressed without metadata. */
  readonly representations: ReadonlyArray<Representation | undefined>
  readonly actions: ReadonlyArray<ActionGroup>
}

export interface DensitySpec {
  readonly distribution: "fixed_structured"
  readonly density: number
}

export interface ComputeSparsity {
  /** An operand pair with a zero (but present) operand is gated rather than computed. */
  readonly gateOnZeroOperand: boolean
  /** Operands with a missing partner are skipped (the unit looks ahead for aligned pairs). */
  readonly skipOnNotAlignedOperands: boolean
}

export interface SparseSpec {
  /** Per data space. */
  readonly densities: ReadonlyArray<DensitySpec>
  readonly levels: ReadonlyArray<LevelSparsity>
  readonly compute: ComputeSparsity
}

/** Sparseloop skips its sparse analysis altogether when no level or compute unit asks for one. */
export const appliesOptimizations = (s: SparseSpec): boolean =>
  s.compute.gateOnZeroOperand ||
  s.compute.skipOnNotAlignedOperands ||
  s.levels.some((l) => l.actions.length > 0 || l.representations.some((r) => r !== undefined))
