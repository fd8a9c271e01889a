import { zipSync } from "fflate"
import { NPZ_FORMAT, NPZ_FORMAT_VERSION, type TraceMetaInput, type TraceRecord } from "../../src/trace/index.ts"

/**
 * A test-only writer of the recorder's .npz layout, independent of the Python recorder, so the
 * reader can be fed random records and precisely damaged files.
 */

/** One .npy member, version 1.0 header padded to 64 bytes as numpy pads it. */
export const npy = (descr: string, data: Uint8Array, length: number, fortran = false): Uint8Array => {
  const dict = `{'descr': '${descr}', 'fortran_order': ${fortran ? "True" : "False"}, 'shape': (${length},), }`
  const unpadded = 10 + dict.length + 1
  const header = `${dict}${" ".repeat((64 - (unpadded % 64)) % 64)}\n`
  const out = new Uint8Array(10 + header.length + data.length)
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0)
  out[8] = header.length & 0xff
  out[9] = header.length >>> 8
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i)
  out.set(data, 10 + header.length)
  return out
}

export const int32Bytes = (values: Int32Array): Uint8Array => {
  const out = new Uint8Array(values.length * 4)
  const view = new DataView(out.buffer)
  for (let i = 0; i < values.length; i++) view.setInt32(i * 4, values[i]!, true)
  return out
}

/** The JSON header and flat arrays, before they become members: tests edit them to build bad files. */
export interface NpzParts {
  header: { format: unknown; formatVersion: unknown; meta: Record<string, unknown>; records: Array<unknown> }
  masks: Uint8Array
  rowNnz: Int32Array
  tileNnz: Int32Array
}

export const npzParts = (meta: TraceMetaInput, records: ReadonlyArray<TraceRecord>): NpzParts => {
  const masks: Array<number> = []
  const rowNnz: Array<number> = []
  const tileNnz: Array<number> = []
  const json = records.map((r) => {
    const ops = Object.fromEntries(
      (["a", "b", "out"] as const).map((role) => {
        const op = r[role]
        const ref = (flat: Array<number>, values: ArrayLike<number>): [number, number] => {
          const at = flat.length
          for (let i = 0; i < values.length; i++) flat.push(values[i]!)
          return [at, values.length]
        }
        return [
          role,
          { ...op, mask: ref(masks, op.mask), rowNnz: ref(rowNnz, op.rowNnz), tileNnz: ref(tileNnz, op.tileNnz) },
        ]
      }),
    )
    const temporal =
      r.temporal == null
        ? r.temporal
        : { ...r.temporal, events: [...r.temporal.events], activationNnz: [...r.temporal.activationNnz] }
    // JSON drops undefined fields, as Python's writer leaves absent fields out.
    return JSON.parse(JSON.stringify({ ...r, ...ops, temporal })) as unknown
  })
  return {
    header: {
      format: NPZ_FORMAT,
      formatVersion: NPZ_FORMAT_VERSION,
      meta: { schemaVersion: 1, ...meta },
      records: json,
    },
    masks: Uint8Array.from(masks),
    rowNnz: Int32Array.from(rowNnz),
    tileNnz: Int32Array.from(tileNnz),
  }
}

export const npzMembers = (parts: NpzParts): Record<string, Uint8Array> => {
  const text = new TextEncoder().encode(JSON.stringify(parts.header))
  return {
    "spade.npy": npy("|u1", text, text.length),
    "masks.npy": npy("|u1", parts.masks, parts.masks.length),
    "row_nnz.npy": npy("<i4", int32Bytes(parts.rowNnz), parts.rowNnz.length),
    "tile_nnz.npy": npy("<i4", int32Bytes(parts.tileNnz), parts.tileNnz.length),
  }
}

/** STORED like np.savez, or DEFLATE like np.savez_compressed. */
export const zipMembers = (members: Record<string, Uint8Array>, compress = false): Uint8Array =>
  zipSync(Object.fromEntries(Object.entries(members).map(([k, v]) => [k, [v, { level: compress ? 6 : 0 }]])))

export const encodeNpz = (
  meta: TraceMetaInput,
  records: ReadonlyArray<TraceRecord>,
  options: { readonly compress?: boolean; readonly edit?: (parts: NpzParts) => void } = {},
): Uint8Array => {
  const parts = npzParts(meta, records)
  options.edit?.(parts)
  return zipMembers(npzMembers(parts), options.compress ?? false)
}
