import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
// @ts-expect-error: bin/build.js is plain JavaScript with no declarations.
import { build, isStale } from "../../bin/build.js"

const root = path.resolve(import.meta.dirname, "..", "..")
// Inside the checkout, as dist/ is: the bundle finds the project's folders by walking up.
const out = path.join(root, `dist.test-${process.pid}`)

const node = (...args: string[]) => {
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: "utf8", timeout: 120_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe("the compiled CLI (bin/build.js)", () => {
  beforeAll(async () => {
    await (build as (out: string) => Promise<void>)(out)
  }, 120_000)
  afterAll(() => fs.rmSync(out, { recursive: true, force: true }))

  it("prints package.json's version", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { version: string }
    const r = node(path.join(out, "spade.js"), "--version")
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.trim()).toBe(pkg.version)
  })

  it("gives the rows the source gives, through tsx", () => {
    const args = ["layer", "--accelerator", "sat-like-2x4", "--gemm", "96,40,64", "--nm", "2:4", "--json"]
    const compiled = node(path.join(out, "spade.js"), ...args)
    const source = node("--import", "tsx", path.join(root, "src", "cli", "main.ts"), ...args)
    expect(compiled.code, compiled.stderr).toBe(0)
    expect(compiled.stdout).toBe(source.stdout)
    expect(compiled.stdout.length).toBeGreaterThan(0)
  }, 120_000)

  it("is stale once its bundle is older than the source", () => {
    expect((isStale as (out: string) => boolean)(out)).toBe(false)
    fs.utimesSync(path.join(out, "spade.js"), new Date(0), new Date(0))
    expect((isStale as (out: string) => boolean)(out)).toBe(true)
  })
})
