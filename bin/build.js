// Compiles the CLI once, at install (`npm ci` runs this as the `prepare` script): esbuild bundles
// src/cli/main.ts and the mapper's worker module, with their dependencies, into dist/. Starting
// from one bundle is what makes `spade --version` fast: through tsx every start transpiled the
// source and resolved some thousand module files. bin/spade.js rebuilds first when src/ is newer,
// so a checkout that edits the source never runs a stale CLI.
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
export const distDir = path.join(root, "dist")
/** The bundle `spade` runs. */
export const entry = path.join(distDir, "spade.js")

/** What the bundle is built from: a file here newer than the bundle makes it stale. */
const inputs = [path.join(root, "src"), path.join(root, "package.json"), path.join(root, "package-lock.json")]

const newestMtimeMs = (p) => {
  const st = fs.statSync(p, { throwIfNoEntry: false })
  if (st === undefined) return 0
  if (!st.isDirectory()) return st.mtimeMs
  let newest = st.mtimeMs
  for (const name of fs.readdirSync(p)) newest = Math.max(newest, newestMtimeMs(path.join(p, name)))
  return newest
}

/** True when dist/spade.js is missing or older than anything it is built from. */
export const isStale = (out = distDir) => {
  const built = fs.statSync(path.join(out, "spade.js"), { throwIfNoEntry: false })
  return built === undefined || inputs.some((p) => newestMtimeMs(p) > built.mtimeMs)
}

/**
 * Bundles into `out` (dist/ by default). Built in a folder of its own and renamed into place, so a
 * CLI started meanwhile (tests start many at once) sees the old bundle or the new one, never half.
 */
export const build = async (out = distDir) => {
  const esbuild = await import("esbuild")
  const tmp = `${out}.tmp-${process.pid}-${Date.now()}`
  await esbuild.build({
    absWorkingDir: root,
    // The worker's name is the one src/schedule/workers.ts imports (COMPILED_WORKER_ENTRY).
    entryPoints: { spade: "src/cli/main.ts", "schedule-worker": "src/schedule/search.ts" },
    outdir: tmp,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    legalComments: "none",
    logLevel: "warning",
    // Bundled CommonJS packages call require(); an ES module has none of its own.
    banner: {
      js: "import { createRequire as __spadeRequire } from 'node:module'; const require = __spadeRequire(import.meta.url);",
    },
  })
  const old = `${out}.old-${process.pid}-${Date.now()}`
  try {
    if (fs.existsSync(out)) fs.renameSync(out, old)
    fs.renameSync(tmp, out)
  } catch {
    // Another process put its build (of the same sources) in place first: use that one.
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  fs.rmSync(old, { recursive: true, force: true })
}

/** Builds dist/ when it is stale; says so on a terminal only (scripts read stderr for errors). */
export const ensureBuilt = async () => {
  if (!isStale()) return
  if (process.stderr.isTTY) process.stderr.write("spade: compiling the CLI (src/ changed since the last build)…\n")
  await build()
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t0 = performance.now()
  await build(process.argv[2] === undefined ? distDir : path.resolve(process.argv[2]))
  process.stderr.write(`spade: compiled the CLI into dist/ (${Math.round(performance.now() - t0)} ms)\n`)
}
