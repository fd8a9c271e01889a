/**
 * A bounds-checked walk over the flatbuffer metadata of an Arrow IPC file, run before flechette
 * decodes it. flechette trusts every length it reads: a vector length damaged into the millions
 * makes it allocate millions of entries (we measured seconds and hundreds of MB for a four-byte
 * corruption), and reads past the end silently return zeros. This walk visits the same structures
 * flechette will (footer, schema, fields, record and dictionary batch headers), checks every
 * offset and vector against the bytes actually there, and caps the total work, so damaged
 * metadata becomes a clear error instead of an out-of-memory crash. It does not look at data
 * buffers: those are views that flechette clamps, and the trace reader checks their contents.
 */

class Corrupt extends Error {}

const UNION_TYPE = 14

class Reader {
  private budget: number
  constructor(readonly buf: Uint8Array) {
    // Generous: a real file visits far fewer entries than it has bytes.
    this.budget = buf.length + 1024
  }

  spend(n: number): void {
    this.budget -= n
    if (this.budget < 0) throw new Corrupt("metadata refers to more entries than the file can hold")
  }

  need(at: number, size: number): void {
    if (!Number.isInteger(at) || at < 0 || at + size > this.buf.length)
      throw new Corrupt(`metadata points outside the file (offset ${at})`)
  }

  i32(at: number): number {
    this.need(at, 4)
    const b = this.buf
    return b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)
  }

  i16(at: number): number {
    this.need(at, 2)
    return ((this.buf[at]! | (this.buf[at + 1]! << 8)) << 16) >> 16
  }

  u8(at: number): number {
    this.need(at, 1)
    return this.buf[at]!
  }

  /** A table whose offset is stored at `at`; returns the field-position lookup flechette uses. */
  table(at: number): (field: number) => number {
    this.spend(1)
    const pos = at + this.i32(at)
    const vtable = pos - this.i32(pos)
    const size = this.i16(vtable)
    if (size < 4) throw new Corrupt("malformed flatbuffer table")
    this.need(vtable, size)
    return (field) => {
      if (field >= size) return 0
      const off = this.i16(vtable + field)
      if (off === 0) return 0
      this.need(pos + off, 1)
      return pos + off
    }
  }

  /** A vector whose offset is stored at `at`: checks it fits, returns the element positions. */
  vector(at: number, stride: number): ReadonlyArray<number> {
    const base = at + this.i32(at)
    const length = this.i32(base)
    if (length < 0) throw new Corrupt("negative vector length")
    this.need(base + 4, length * stride)
    this.spend(length)
    return Array.from({ length }, (_, i) => base + 4 + i * stride)
  }

  string(at: number): void {
    const base = at + this.i32(at)
    const length = this.i32(base)
    if (length < 0) throw new Corrupt("negative string length")
    this.need(base + 4, length)
  }
}

const keyValues = (r: Reader, at: number): void => {
  if (at === 0) return
  for (const kv of r.vector(at, 4)) {
    const get = r.table(kv)
    if (get(4) !== 0) r.string(get(4))
    if (get(6) !== 0) r.string(get(6))
  }
}

const fieldTable = (r: Reader, at: number, depth: number): void => {
  if (depth > 32) throw new Corrupt("fields nested implausibly deep")
  const get = r.table(at)
  if (get(4) !== 0) r.string(get(4))
  const typeId = get(8) === 0 ? 0 : r.u8(get(8))
  if (typeId === UNION_TYPE) throw new Corrupt("union columns do not occur in a trace")
  if (get(10) !== 0) {
    const type = r.table(get(10))
    // Timestamp (10) carries a timezone string at 6; other types hold only scalars.
    if (typeId === 10 && type(6) !== 0) r.string(type(6))
  }
  if (get(12) !== 0) {
    const dict = r.table(get(12))
    if (dict(6) !== 0) r.table(dict(6))
  }
  if (get(14) !== 0) for (const child of r.vector(get(14), 4)) fieldTable(r, child, depth + 1)
  keyValues(r, get(16))
}

const recordBatch = (r: Reader, at: number): void => {
  const get = r.table(at)
  if (get(6) !== 0) r.vector(get(6), 16)
  if (get(8) !== 0) r.vector(get(8), 16)
  if (get(10) !== 0) r.table(get(10))
  if (get(12) !== 0) r.vector(get(12), 8)
}

const RECORD_BATCH = 3
const DICTIONARY_BATCH = 2

const message = (file: Reader, offset: number): void => {
  let at = offset
  let length = file.i32(at)
  at += 4
  if (length === -1) {
    length = file.i32(at)
    at += 4
  }
  if (length <= 0) throw new Corrupt("empty message where a batch was expected")
  file.need(at, length)
  const head = new Reader(file.buf.subarray(at, at + length))
  const get = head.table(0)
  const type = get(6) === 0 ? 0 : head.u8(get(6))
  if (get(8) === 0) return
  if (type === RECORD_BATCH) recordBatch(head, get(8))
  else if (type === DICTIONARY_BATCH) {
    const dict = head.table(get(8))
    if (dict(6) !== 0) recordBatch(head, dict(6))
  }
  file.spend(length >>> 4)
}

/** Null when the metadata is sound enough to hand to flechette, else what is wrong. */
export const arrowFileProblem = (bytes: Uint8Array): string | null => {
  const r = new Reader(bytes)
  try {
    const footerLengthAt = bytes.length - 10
    const footerLength = r.i32(footerLengthAt)
    const footerStart = footerLengthAt - footerLength
    if (footerLength <= 0 || footerStart < 8) throw new Corrupt("the footer length is out of range")
    const footer = r.table(footerStart)
    if (footer(6) === 0) throw new Corrupt("the footer has no schema")
    const schema = r.table(footer(6))
    if (schema(6) !== 0) for (const f of r.vector(schema(6), 4)) fieldTable(r, f, 0)
    keyValues(r, schema(8))
    for (const slot of [8, 10]) {
      if (footer(slot) === 0) continue
      for (const block of r.vector(footer(slot), 24)) {
        // Block: offset int64 (we need only the low word; files here are < 2 GB), length, body.
        const hi = r.i32(block + 4)
        if (hi !== 0) throw new Corrupt("a batch offset is beyond 2 GB")
        message(r, r.i32(block))
      }
    }
    keyValues(r, footer(12))
    return null
  } catch (e) {
    if (e instanceof Corrupt) return e.message
    throw e
  }
}
