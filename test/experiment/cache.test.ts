import { fc, test } from "@fast-check/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest"
import { CHECKSUMS_FILE, cacheEntry, copyAtomically } from "../../src/experiment/index.ts"

/**
 * The cache verifies what it hands back: every file an entry holds is checked against the SHA-256
 * recorded when it was written. Any damage (a flipped byte, a truncation, an emptied or deleted file,
 * a lost checksum record) is detected, the entry is moved aside and reported by its path, and the
 * caller recomputes; an intact entry is reused.
 */
let root: string
const saved = process.env.SPADE_CACHE_DIR
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "spade-cache-"))
  process.env.SPADE_CACHE_DIR = root
})
afterAll(() => {
  if (saved === undefined) delete process.env.SPADE_CACHE_DIR
  else process.env.SPADE_CACHE_DIR = saved
  fs.rmSync(root, { recursive: true, force: true })
})

const damage = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("empty" as const) }),
  fc.record({ kind: fc.constant("delete" as const) }),
  fc.record({ kind: fc.constant("append" as const), byte: fc.integer({ min: 0, max: 255 }) }),
)

describe("cache entries (src/experiment/cache.ts)", () => {
  let n = 0
  test.prop(
    [
      fc.uint8Array({ minLength: 1, maxLength: 300 }),
      fc.string({ minLength: 1, maxLength: 200 }),
      fc.constantFrom("trace.arrow", "result.json", CHECKSUMS_FILE),
      damage,
    ],
    { numRuns: 120, seed: 16 },
  )("detects any damage to any file, moves the entry aside and says where", (bytes, json, target, d) => {
    const key = { test: "cache", n: n++ }
    const entry = cacheEntry("t", key)
    entry.write("trace.arrow", bytes)
    entry.write("result.json", json)
    expect(entry.has("trace.arrow") && entry.has("result.json")).toBe(true)
    const file = entry.path(target)
    const data = fs.readFileSync(file)
    switch (d.kind) {
      case "flip":
        if (data.length === 0) return
        data[d.at % data.length]! ^= 1 << d.bit
        fs.writeFileSync(file, data)
        break
      case "truncate":
        fs.writeFileSync(file, data.subarray(0, d.at % data.length))
        break
      case "empty":
        fs.writeFileSync(file, "")
        break
      case "delete":
        fs.rmSync(file)
        break
      case "append":
        fs.writeFileSync(file, Buffer.concat([data, Buffer.from([d.byte])]))
        break
    }
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true)
    try {
      // A deleted data file is simply absent (as after a kill before writing it): not reused either.
      const reused = entry.has("trace.arrow") && entry.has("result.json")
      expect(reused).toBe(false)
      if (!(d.kind === "delete" && target !== CHECKSUMS_FILE)) {
        const said = stderr.mock.calls.map((c) => String(c[0])).join("")
        expect(said).toContain(entry.dir)
        expect(said).toMatch(/damaged/)
        expect(fs.existsSync(entry.dir)).toBe(false)
      }
    } finally {
      stderr.mockRestore()
    }
    // Healed: written again, the entry is whole and reused.
    entry.write("trace.arrow", bytes)
    entry.write("result.json", json)
    expect(entry.has("trace.arrow") && entry.has("result.json")).toBe(true)
  })

  it("keeps a damaged entry for inspection under damaged/", () => {
    const entry = cacheEntry("t", { test: "kept" })
    entry.write("result.json", '{"testAccuracy":0.9}')
    fs.writeFileSync(entry.path("result.json"), '{"testAccuracy":0.99}')
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true)
    expect(entry.has("result.json")).toBe(false)
    stderr.mockRestore()
    const kept = fs.readdirSync(path.join(root, "damaged"))
    expect(kept.some((d) => d.startsWith(`t-${path.basename(entry.dir)}`))).toBe(true)
  })

  it("copies whole or not at all", () => {
    const src = path.join(root, "src.bin")
    fs.writeFileSync(src, Buffer.alloc(1 << 16, 7))
    const dest = path.join(root, "out", "copy.bin")
    copyAtomically(src, dest)
    expect(fs.readFileSync(dest).equals(fs.readFileSync(src))).toBe(true)
    expect(fs.readdirSync(path.dirname(dest))).toEqual(["copy.bin"])
  })
})
