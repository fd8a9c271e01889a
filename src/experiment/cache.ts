import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { projectRoot } from "../config/index.ts"
import { say } from "./progress.ts"

/**
 * Content-addressed cache: a run killed halfway resumes from what it finished, because every unit
 * of work is stored under the hash of everything that determines its result.
 */
export const cacheDir = (): string => process.env.SPADE_CACHE_DIR ?? path.join(projectRoot, ".spade-cache")

/** Stable JSON: object keys sorted, so equal inputs hash equally whatever their key order. */
export const stableStringify = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  )

export const contentHash = (value: unknown): string =>
  createHash("sha256").update(stableStringify(value)).digest("hex").slice(0, 20)

export interface CacheEntry {
  readonly dir: string
  /**
   * The file is there and is what was written: its SHA-256 matches the one `write` recorded. A file
   * that is missing from the record, truncated, emptied or changed by a single byte is not: the
   * whole entry is reported by its path on stderr and moved aside (`damaged/` in the cache), so the
   * caller recomputes it and the run goes on.
   */
  readonly has: (file: string) => boolean
  readonly path: (file: string) => string
  /** Write atomically (temp file + rename) so a kill mid-write never leaves a half file behind. */
  readonly write: (file: string, data: string | Uint8Array) => void
}

/** Per entry, the SHA-256 of every file written into it. */
export const CHECKSUMS_FILE = "checksums.json"

const sha256 = (data: string | Uint8Array): string => createHash("sha256").update(data).digest("hex")

/** Temp file + rename: a reader sees the old file or the new one, never part of one. */
export const writeAtomically = (target: string, data: string | Uint8Array): void => {
  fs.mkdirSync(path.dirname(target), { recursive: true })
  const tmp = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  try {
    fs.writeFileSync(tmp, data)
    fs.renameSync(tmp, target)
  } catch (e) {
    fs.rmSync(tmp, { force: true })
    throw e
  }
}

/** A copy that readers of `target` see whole or not at all (a concurrent run may be reading it). */
export const copyAtomically = (source: string, target: string): void => writeAtomically(target, fs.readFileSync(source))

const readChecksums = (dir: string): Record<string, string> | null => {
  try {
    const parsed: unknown = JSON.parse(fs.readFileSync(path.join(dir, CHECKSUMS_FILE), "utf8"))
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return null
    const entries = Object.entries(parsed)
    return entries.every(([, v]) => typeof v === "string" && /^[0-9a-f]{64}$/.test(v))
      ? (Object.fromEntries(entries) as Record<string, string>)
      : null
  } catch {
    return null
  }
}

/** Why `file` in `dir` is not what was written, or null when it is. */
const damageOf = (dir: string, file: string): string | null => {
  const sums = readChecksums(dir)
  if (sums === null) return `${CHECKSUMS_FILE} is missing or unreadable`
  const want = sums[file]
  if (want === undefined) return `${file} has no recorded checksum`
  let data: Buffer
  try {
    data = fs.readFileSync(path.join(dir, file))
  } catch {
    return `${file} is missing`
  }
  return sha256(data) === want ? null : `${file} does not match its recorded SHA-256 (${data.length} bytes)`
}

/** Moves a damaged entry out of the way, keeping it for inspection, and says where it went. */
const quarantine = (dir: string, why: string): void => {
  const dest = path.join(
    cacheDir(),
    "damaged",
    `${path.basename(path.dirname(dir))}-${path.basename(dir)}-${Date.now()}`,
  )
  try {
    fs.mkdirSync(path.dirname(dest), { recursive: true })
    fs.renameSync(dir, dest)
    say(`spade: cache entry ${dir} is damaged (${why}); moved to ${dest}, recomputing`)
  } catch {
    // Another run moved it first, or it cannot be moved: remove it so it is recomputed either way.
    fs.rmSync(dir, { recursive: true, force: true })
    say(`spade: cache entry ${dir} is damaged (${why}); removed, recomputing`)
  }
}

export const cacheEntry = (namespace: string, key: unknown): CacheEntry => {
  const dir = path.join(cacheDir(), namespace, contentHash(key))
  return {
    dir,
    has: (file) => {
      // A file never written is simply not there yet (a run killed before writing it).
      if (!fs.existsSync(path.join(dir, file))) return false
      const why = damageOf(dir, file)
      if (why === null) return true
      quarantine(dir, why)
      return false
    },
    path: (file) => path.join(dir, file),
    write: (file, data) => {
      writeAtomically(path.join(dir, file), data)
      writeAtomically(path.join(dir, CHECKSUMS_FILE), JSON.stringify({ ...readChecksums(dir), [file]: sha256(data) }))
    },
  }
}
