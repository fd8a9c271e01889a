import { Either, Schema } from "effect"
import { type ConfigError, decodeValue } from "../../config/index.ts"
import type { ActionEnergies, ComputeLevel, Hierarchy, StorageLevel } from "../nest/hierarchy.ts"
import { TimeloopInputError } from "./errors.ts"

/**
 * A Timeloop v0.4 architecture: a top-down list of nodes in which a `!Container` scopes everything
 * after it (its `spatial` mesh multiplies the instances below, and Timeloop marks the fan-out with
 * an `inter_<name>_spatial` level), `!Parallel` lists sibling storage levels (the last listed is the
 * innermost), and the last `!Component` is the compute unit. Energies come from Accelergy's ERT.
 */
export interface NodeSpec {
  readonly "!"?: string | undefined
  readonly name?: string | undefined
  readonly class?: string | undefined
  readonly subclass?: string | undefined
  readonly attributes?: { readonly [k: string]: unknown } | undefined
  readonly spatial?: { readonly meshX?: number | undefined; readonly meshY?: number | undefined } | undefined
  readonly nodes?: ReadonlyArray<NodeSpec> | undefined
  readonly sparse_optimizations?: unknown
  readonly constraints?: unknown
}

const NodeSchema: Schema.Schema<NodeSpec> = Schema.Struct({
  "!": Schema.optional(Schema.String),
  name: Schema.optional(Schema.String),
  class: Schema.optional(Schema.String),
  subclass: Schema.optional(Schema.String),
  attributes: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  spatial: Schema.optional(
    Schema.Struct({
      meshX: Schema.optional(Schema.Int.pipe(Schema.positive())),
      meshY: Schema.optional(Schema.Int.pipe(Schema.positive())),
    }),
  ),
  nodes: Schema.optional(Schema.Array(Schema.suspend((): Schema.Schema<NodeSpec> => NodeSchema))),
  sparse_optimizations: Schema.optional(Schema.Unknown),
  constraints: Schema.optional(Schema.Unknown),
})

export const ArchitectureSchema = Schema.Struct({
  version: Schema.optional(Schema.Union(Schema.Number, Schema.String)),
  nodes: Schema.Array(NodeSchema).pipe(Schema.minItems(1)),
})
export type ArchitectureSpec = typeof ArchitectureSchema.Type

export const decodeArchitecture = (file: string, value: unknown): Either.Either<ArchitectureSpec, ConfigError> =>
  decodeValue(ArchitectureSchema, "ignore")(file, value)

const ActionSchema = Schema.Struct({ name: Schema.String, energy: Schema.Number })
export const ErtSchema = Schema.Struct({
  version: Schema.optional(Schema.Union(Schema.Number, Schema.String)),
  tables: Schema.Array(Schema.Struct({ name: Schema.String, actions: Schema.Array(ActionSchema) })),
})
export type ErtSpec = typeof ErtSchema.Type

export const decodeErt = (file: string, value: unknown): Either.Either<ErtSpec, ConfigError> =>
  decodeValue(ErtSchema, "ignore")(file, value)

/** A component as the flattening found it: its place, mesh, merged attributes, and sparse settings. */
export interface FlatComponent {
  readonly name: string
  readonly kind: "storage" | "compute" | "marker"
  readonly meshX: number
  readonly meshY: number
  readonly attributes: { readonly [k: string]: unknown }
  readonly sparse: unknown
  /** The node's mapping constraints (a marker carries its container's). */
  readonly constraints: unknown
  /** Where it sits in the architecture file. */
  readonly path: string
}

/** Components top-down, fan-out markers included. */
export const flatten = (file: string, a: ArchitectureSpec): Either.Either<FlatComponent[], TimeloopInputError> => {
  const out: FlatComponent[] = []
  let meshX = 1
  let meshY = 1
  let inherited: { readonly [k: string]: unknown } = {}
  const component = (n: NodeSpec, path: string): TimeloopInputError | undefined => {
    if (n.name === undefined) return new TimeloopInputError({ file, path, expected: "a component needs a name" })
    out.push({
      name: n.name,
      kind: "storage",
      meshX,
      meshY,
      attributes: { ...inherited, ...(n.attributes ?? {}) },
      sparse: n.sparse_optimizations,
      constraints: n.constraints,
      path,
    })
    return undefined
  }
  for (const [i, n] of a.nodes.entries()) {
    const path = `architecture.nodes[${i}]`
    const tag = n["!"] ?? "Component"
    if (tag === "Container") {
      inherited = { ...inherited, ...(n.attributes ?? {}) }
      if (n.spatial !== undefined) {
        out.push({
          name: `inter_${n.name ?? i}_spatial`,
          kind: "marker",
          meshX,
          meshY,
          attributes: {},
          sparse: undefined,
          constraints: n.constraints,
          path,
        })
        meshX *= n.spatial.meshX ?? 1
        meshY *= n.spatial.meshY ?? 1
      }
    } else if (tag === "Component") {
      const e = component(n, path)
      if (e !== undefined) return Either.left(e)
    } else if (tag === "Parallel") {
      for (const [j, c] of (n.nodes ?? []).entries()) {
        const cTag = c["!"] ?? "Component"
        if (cTag === "Nothing") continue
        if (cTag !== "Component")
          return Either.left(
            new TimeloopInputError({
              file,
              path: `${path}.nodes[${j}]`,
              expected: `a !Parallel holds !Component or !Nothing nodes, not !${cTag}`,
            }),
          )
        const e = component(c, `${path}.nodes[${j}]`)
        if (e !== undefined) return Either.left(e)
      }
    } else if (tag !== "Nothing")
      return Either.left(
        new TimeloopInputError({ file, path, expected: `a node tagged !Container, !Component, !Parallel or !Nothing` }),
      )
  }
  const last = out[out.length - 1]
  if (last === undefined || last.kind !== "storage")
    return Either.left(
      new TimeloopInputError({ file, path: "architecture.nodes", expected: "the last node is the compute component" }),
    )
  out[out.length - 1] = { ...last, kind: "compute" }
  return Either.right(out)
}

const num = (v: unknown): number | undefined =>
  typeof v === "number"
    ? v
    : typeof v === "string" && v.trim() !== "" && !Number.isNaN(Number(v))
      ? Number(v)
      : undefined

const flag = (v: unknown): boolean | undefined =>
  typeof v === "boolean" ? v : v === "true" || v === "True" ? true : v === "false" || v === "False" ? false : undefined

/** ERT table name "system_top_level.DRAM[1..1]" → "DRAM". */
const ertComponent = (name: string): string => name.replace(/\[[^\]]*\]$/, "").replace(/^.*\./, "")

export const hierarchyOf = (
  files: { readonly architecture: string; readonly ert: string },
  flat: ReadonlyArray<FlatComponent>,
  ert: ErtSpec,
): Either.Either<Hierarchy, TimeloopInputError> => {
  const tables = new Map(
    ert.tables.map((t) => [ertComponent(t.name), new Map(t.actions.map((x) => [x.name, x.energy]))]),
  )
  const storage: StorageLevel[] = []
  for (const c of flat.slice(0, -1)) {
    if (c.kind === "marker") {
      storage.push({
        name: c.name,
        meshX: c.meshX,
        meshY: c.meshY,
        blockSize: 1,
        wordBits: 1,
        clusterSize: 1,
        multipleBuffering: 1,
        energy: { read: 0, write: 0, update: 0, leak: 0 },
        marker: true,
      })
      continue
    }
    const at = c.attributes
    const wordBits = num(at["datawidth"]) ?? num(at["word_bits"]) ?? 16
    const width =
      num(at["width"]) ?? num(at["block_size"] === undefined ? undefined : Number(at["block_size"]) * wordBits)
    const clusterSize = num(at["cluster_size"]) ?? 1
    // A block is one instance's share of the port width; a cluster of instances shares one port.
    const blockSize = width === undefined ? 1 : Math.max(1, Math.floor(width / wordBits / clusterSize))
    const depth = num(at["depth"])
    const actions = tables.get(c.name)
    if (actions === undefined)
      return Either.left(
        new TimeloopInputError({
          file: files.ert,
          path: "ERT.tables",
          expected: `an energy table for ${c.name} (from ${files.architecture} at ${c.path})`,
        }),
      )
    const energy: ActionEnergies = {
      read: actions.get("read") ?? 0,
      write: actions.get("write") ?? 0,
      update: actions.get("update") ?? actions.get("write") ?? 0,
      leak: actions.get("leak") ?? 0,
      metadataRead: actions.get("metadata_read"),
      metadataWrite: actions.get("metadata_write"),
      metadataUpdate: actions.get("metadata_update"),
      table: actions,
    }
    storage.push({
      name: c.name,
      meshX: c.meshX,
      meshY: c.meshY,
      blockSize,
      wordBits,
      sizeWords: depth === undefined ? undefined : depth * blockSize,
      clusterSize,
      readBandwidth: num(at["read_bandwidth"]),
      writeBandwidth: num(at["write_bandwidth"]),
      multipleBuffering: num(at["multiple_buffering"]) ?? 1,
      energy,
      marker: false,
      metadataWidthBits: num(at["metadata_storage_width"]),
      metadataWordBits: num(at["metadata_datawidth"]) ?? num(at["metadata_word_bits"]),
      decompressionSupported: flag(at["decompression_supported"]),
      compressionSupported: flag(at["compression_supported"]),
    })
  }
  const cu = flat[flat.length - 1]!
  const actions = tables.get(cu.name)
  if (actions === undefined)
    return Either.left(
      new TimeloopInputError({ file: files.ert, path: "ERT.tables", expected: `an energy table for ${cu.name}` }),
    )
  const compute: ComputeLevel = {
    name: cu.name,
    meshX: cu.meshX,
    meshY: cu.meshY,
    energy: actions.get("compute") ?? 0,
    gatedEnergy: actions.get("gated_compute"),
    skippedEnergy: actions.get("skipped_compute"),
    table: actions,
  }
  return Either.right({ name: flat[0]?.name ?? "architecture", storage: storage.reverse(), compute })
}
