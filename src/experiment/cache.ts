import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { projectRoot } from "../config/index.ts"

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
  readonly has: (file: string) => boolean
  readonly path: (file: string) => string
  /** Write atomically (temp file + rename) so a kill mid-write never leaves a half file behind. */
  readonly write: (file: string, data: string | Uint8Array) => void
}

export const cacheEntry = (namespace: string, key: unknown): CacheEntry => {
  const dir = path.join(cacheDir(), namespace, contentHash(key))
  return {
    dir,
    has: (file) => fs.existsSync(path.join(dir, file)),
    path: (file) => path.join(dir, file),
    write: (file, data) => {
      fs.mkdirSync(dir, { recursive: true })
      const target = path.join(dir, file)
      const tmp = `${target}.${process.pid}.tmp`
      fs.writeFileSync(tmp, data)
      fs.renameSync(tmp, target)
    },
  }
}
