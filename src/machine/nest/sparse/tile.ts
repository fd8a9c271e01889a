import type { DensityModel } from "./density.ts"
import type { RankFormat, RankOccupancy } from "./formats/index.ts"
import type { NestLoop } from "./loops.ts"

/**
 * One data space at one storage level as the sparse analysis refines it: the dense counts it
 * starts from, its representation, its expected occupancy, and its fine-grained actions. Every
 * count is per instance, as in the dense analysis.
 */
export type Kind = "random" | "gated" | "skipped"
export type Access = "read" | "fill" | "update"
export const KINDS: ReadonlyArray<Kind> = ["random", "gated", "skipped"]
export const ACCESSES: ReadonlyArray<Access> = ["read", "fill", "update"]

/** Per rank (index 0 innermost): [metadata units, payload units]. */
export type FormatCounts = Array<[number, number]>

export type DataActions = Record<Kind, Record<Access, number>>
export type FormatActions = Record<Kind, Record<Access, FormatCounts>>

export interface SparseTile {
  readonly space: number
  readonly level: number
  /** Coordinates of the tile (0 where the level bypasses the data space). */
  readonly shape: number
  readonly instances: number
  /** Dense (algorithmic) counts. */
  readonly reads: number
  readonly fills: number
  readonly updates: number
  temporalReductions: number
  /** The nearest levels below and above that keep the data space. */
  readonly child: number | undefined
  readonly parent: number | undefined
  readonly density: DensityModel
  hasMetadata: boolean
  compressed: boolean
  /** Per rank, index 0 innermost. */
  formats: RankFormat[]
  wordBits: Array<{ readonly metadata: number; readonly payload: number }>
  /** Per rank, the loops flattened into it. */
  metadataSubnest: NestLoop[][]
  /** Coordinates under one coordinate of each rank; one more entry than ranks (the last is the tile). */
  subtiles: number[]
  fiberShapes: number[]
  expectedOccupancy: number
  expectedMetadata: RankOccupancy[]
  formatReads: FormatCounts
  formatFills: FormatCounts
  formatUpdates: FormatCounts
  readonly data: DataActions
  readonly format: FormatActions
  decompressions: number
  compressions: number
}

const byAccess = <A>(f: () => A): Record<Access, A> => ({ read: f(), fill: f(), update: f() })
export const byKind = <A>(f: () => A): Record<Kind, Record<Access, A>> => ({
  random: byAccess(f),
  gated: byAccess(f),
  skipped: byAccess(f),
})

export const expectedDensity = (t: SparseTile): number => t.expectedOccupancy / t.shape

/** Ranks whose format the level sends a child (all of them where the level is the innermost keeper). */
export const metadataRanks = (t: SparseTile): number => (t.hasMetadata ? t.formats.length : 0)
