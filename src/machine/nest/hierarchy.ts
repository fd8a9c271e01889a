/**
 * A storage hierarchy of any depth: storage levels innermost first, each with its instances, how a
 * word-wide block is accessed, its bandwidths and the energy of each action per block, above an
 * array of compute units. Levels that only mark a fan-out (Timeloop's `inter_*_spatial`) keep
 * nothing and cost nothing.
 */
export interface ActionEnergies {
  /** pJ per block access. */
  readonly read: number
  readonly write: number
  readonly update: number
  /** pJ per instance per cycle. */
  readonly leak: number
  /** Reads and writes an optimization gated (cheaper, not free) and metadata accesses, where given. */
  readonly gatedRead?: number | undefined
  readonly gatedWrite?: number | undefined
  readonly gatedUpdate?: number | undefined
  readonly metadataRead?: number | undefined
  readonly metadataWrite?: number | undefined
  readonly metadataUpdate?: number | undefined
  readonly gatedMetadataRead?: number | undefined
  /** Every action of the level's energy table by name (pJ), where the sparse actions look theirs up. */
  readonly table?: ReadonlyMap<string, number> | undefined
}

export interface StorageLevel {
  readonly name: string
  readonly meshX: number
  readonly meshY: number
  /** Words per block: one access moves a block. */
  readonly blockSize: number
  readonly wordBits: number
  /** Words per instance; undefined for an unbounded backing store. */
  readonly sizeWords?: number | undefined
  /** Instances that share one access port (their energy is amortized over the cluster). */
  readonly clusterSize: number
  /** Words per cycle per instance, where the level limits them. */
  readonly readBandwidth?: number | undefined
  readonly writeBandwidth?: number | undefined
  readonly multipleBuffering: number
  readonly energy: ActionEnergies
  /** A fan-out marker: keeps nothing. */
  readonly marker: boolean
  /** Metadata storage, bits per access, where the level stores compressed formats. */
  readonly metadataWidthBits?: number | undefined
  /** Bits of one metadata word (a format rank's default word width). */
  readonly metadataWordBits?: number | undefined
  /** Whether the level can decompress what a compressed parent sends, and compress what it sends back. */
  readonly decompressionSupported?: boolean | undefined
  readonly compressionSupported?: boolean | undefined
}

export interface ComputeLevel {
  readonly name: string
  readonly meshX: number
  readonly meshY: number
  /** pJ per operation. */
  readonly energy: number
  readonly gatedEnergy?: number | undefined
  readonly skippedEnergy?: number | undefined
  /** Every action of the unit's energy table by name (pJ). */
  readonly table?: ReadonlyMap<string, number> | undefined
}

export interface Hierarchy {
  readonly name: string
  /** Innermost first. */
  readonly storage: ReadonlyArray<StorageLevel>
  readonly compute: ComputeLevel
}

export const instancesOf = (l: { readonly meshX: number; readonly meshY: number }): number => l.meshX * l.meshY

/** Fan-out below each storage level (innermost first): the child's mesh over the level's. */
export const fanouts = (h: Hierarchy): ReadonlyArray<{ readonly x: number; readonly y: number }> =>
  h.storage.map((s, i) => {
    const child = i === 0 ? h.compute : h.storage[i - 1]!
    return { x: child.meshX / s.meshX, y: child.meshY / s.meshY }
  })
