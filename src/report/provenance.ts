import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

/**
 * What a shared report needs so a reader can reproduce it or judge whether two reports compare:
 * the exact config, its seeds, the code (package versions, git commit) and the machine and time
 * it ran on. Collecting it never fails a run: a missing piece is stated as missing.
 */
export interface Provenance {
  /** The experiment's config as run, JSON-serializable. */
  readonly config: unknown
  readonly seeds: Readonly<Record<string, number>>
  /** Package name -> installed version; the project itself first. */
  readonly packages: Readonly<Record<string, string>>
  /** "<commit>", "<commit> with uncommitted changes", or why there is none. */
  readonly git: string
  readonly machine: {
    readonly os: string
    readonly cpus: string
    readonly memoryBytes: number
    readonly node: string
  }
  /** ISO 8601, UTC. */
  readonly startedAt: string
  readonly durationSeconds: number
  /** How the report was produced, e.g. "spade run default". */
  readonly command?: string | undefined
}

export interface ProvenanceOptions {
  readonly config: unknown
  /** Every field named like "seed" in the config (`seedsIn`) when left out. */
  readonly seeds?: Readonly<Record<string, number>> | undefined
  /** `performance.timeOrigin + performance.now()` or `Date.now()` when the run began. */
  readonly startedAtMs: number
  /** The project root holding package.json and node_modules. */
  readonly root: string
  readonly command?: string | undefined
  /** For tests; defaults to now. */
  readonly endedAtMs?: number | undefined
}

const readJson = (file: string): unknown => {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"))
  } catch {
    return undefined
  }
}

const stringField = (o: unknown, key: string): string | undefined => {
  if (typeof o !== "object" || o === null || !(key in o)) return undefined
  const v: unknown = (o as Record<string, unknown>)[key]
  return typeof v === "string" ? v : undefined
}

const recordField = (o: unknown, key: string): Readonly<Record<string, unknown>> => {
  if (typeof o !== "object" || o === null || !(key in o)) return {}
  const v: unknown = (o as Record<string, unknown>)[key]
  return typeof v === "object" && v !== null ? (v as Record<string, unknown>) : {}
}

/**
 * Installed versions, read from each package's own package.json: a range in the project's
 * package.json says what was allowed, not what ran.
 */
export const packageVersions = (root: string): Record<string, string> => {
  const manifest = readJson(path.join(root, "package.json"))
  const out: Record<string, string> = {}
  const self = stringField(manifest, "name")
  if (self !== undefined) out[self] = stringField(manifest, "version") ?? "unversioned"
  const deps = { ...recordField(manifest, "dependencies"), ...recordField(manifest, "devDependencies") }
  for (const name of Object.keys(deps).sort()) {
    const installed = stringField(readJson(path.join(root, "node_modules", name, "package.json")), "version")
    const declared = deps[name]
    out[name] = installed ?? `not installed (declared ${typeof declared === "string" ? declared : "?"})`
  }
  return out
}

const git = (root: string, args: ReadonlyArray<string>): string =>
  execFileSync("git", [...args], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 10_000 })

/** The commit the tree is at, and whether tracked files differ from it. */
export const gitState = (root: string): string => {
  let commit: string
  try {
    commit = git(root, ["rev-parse", "HEAD"]).trim()
  } catch (cause) {
    const missing = typeof cause === "object" && cause !== null && "code" in cause && cause.code === "ENOENT"
    return missing ? "not a git checkout (git is not installed)" : "not a git checkout"
  }
  try {
    const dirty = git(root, ["status", "--porcelain", "--untracked-files=no"]).trim() !== ""
    return dirty ? `${commit} with uncommitted changes` : commit
  } catch {
    return `${commit} (working tree state unknown)`
  }
}

export const machineOf = (): Provenance["machine"] => {
  const cpus = os.cpus()
  const model = cpus[0]?.model.trim().replace(/\s+/g, " ")
  return {
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpus: `${cpus.length}${model === undefined || model === "" ? "" : ` × ${model}`}`,
    memoryBytes: os.totalmem(),
    node: process.version,
  }
}

/**
 * Every seed a config sets, by field path (`training.seed`, `map[0].seed`): found by walking it,
 * so a seed added anywhere is reported without listing it here.
 */
export const seedsIn = (config: unknown): Record<string, number> => {
  const out: Record<string, number> = {}
  const walk = (v: unknown, at: string): void => {
    if (Array.isArray(v)) {
      for (const [i, x] of v.entries()) walk(x, `${at}[${i}]`)
    } else if (typeof v === "object" && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        const here = at === "" ? k : `${at}.${k}`
        if (/seed$/i.test(k) && typeof x === "number") out[here] = x
        else walk(x, here)
      }
    }
  }
  walk(config, "")
  return out
}

export const collectProvenance = (o: ProvenanceOptions): Provenance => {
  const ended = o.endedAtMs ?? Date.now()
  return {
    config: o.config,
    seeds: o.seeds ?? seedsIn(o.config),
    packages: packageVersions(o.root),
    git: gitState(o.root),
    machine: machineOf(),
    startedAt: new Date(o.startedAtMs).toISOString(),
    durationSeconds: Math.max(0, (ended - o.startedAtMs) / 1000),
    ...(o.command === undefined ? {} : { command: o.command }),
  }
}
