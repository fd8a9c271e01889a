import { Effect } from "effect"
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { projectRoot } from "../../src/config/index.ts"
import {
  assembleTables,
  type ExperimentSpec,
  loadExperiment,
  planExperiment,
  readShards,
  runUnits,
  unitContext,
} from "../../src/experiment/index.ts"

/**
 * A sweep on a real Slurm: a single-node cluster on localhost (test/experiment/slurm/cluster.sh
 * starts munged, slurmctld and slurmd from a generated slurm.conf), the sweep submitted with the
 * repository's own job files (experiments/cluster/slurm-submit.sh: a job array of shards, then a
 * merge queued afterok), and the merged tables held to a single-process run file for file. Without
 * Slurm this test fails: `npm test` installs slurm-wlm and munge (test/system-packages.sh).
 */

const cluster = path.join(projectRoot, "test", "experiment", "slurm", "cluster.sh")
const submit = path.join(projectRoot, "experiments", "cluster", "slurm-submit.sh")
const spade = `${process.execPath} ${path.join(projectRoot, "bin", "spade.js")}`
const SHARDS = 4

const SPEC = {
  name: "slurm-sweep",
  description: "A statistical sweep small enough for a test, submitted as a Slurm job array.",
  model: "mlp-784-128-10",
  methods: ["dense", "nm:2:4"],
  operands: { batch: 4, seed: 1 },
  sweep: [
    { path: "accelerator.peArray.rows", values: [8, 16, 32] },
    { path: "accelerator.memory.dram.bandwidthWordsPerCycle", values: [4, 64] },
  ],
  simulate: [{ accelerator: "systolic-32x32", dataflows: ["ws", "os"] }, { accelerator: "sat-like-2x4" }],
  charts: [],
}

let tmp: string
let slurmConf: string
let env: NodeJS.ProcessEnv
let started = false
let unavailable: string | undefined

beforeAll(() => {
  const missing = ["/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/sbatch"].filter(
    (f) => !fs.existsSync(f),
  )
  // Recorded, not thrown: a throwing beforeAll reports the test as skipped, and a missing Slurm is a failure.
  if (missing.length > 0)
    unavailable =
      `Slurm is not installed (missing ${missing.join(", ")}): ` +
      "run test/system-packages.sh as root, or apt-get install slurm-wlm munge"
  else if (process.getuid?.() !== 0)
    unavailable = "the Slurm test starts slurmctld and slurmd as SlurmUser root: run it as root"
  if (unavailable !== undefined) return
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spade-slurm-"))
  execFileSync(cluster, ["start", path.join(tmp, "cluster")], { stdio: ["ignore", "inherit", "inherit"] })
  started = true
  slurmConf = path.join(tmp, "cluster", "slurm.conf")
  fs.writeFileSync(path.join(tmp, `${SPEC.name}.ts`), `export default ${JSON.stringify(SPEC, null, 2)}\n`)
  env = {
    ...process.env,
    SLURM_CONF: slurmConf,
    SPADE: spade,
    SPADE_CACHE_DIR: path.join(tmp, "cache"),
  }
}, 30_000)

afterAll(() => {
  if (started) execFileSync(cluster, ["stop", path.join(tmp, "cluster")], { stdio: "inherit" })
  if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true })
})

const job = (id: string): { state: string; reason: string } => {
  const line = execFileSync("/usr/bin/scontrol", ["show", "job", id, "-o"], { env, encoding: "utf8" })
  return { state: /JobState=(\S+)/.exec(line)?.[1] ?? "UNKNOWN", reason: /Reason=(\S+)/.exec(line)?.[1] ?? "" }
}
const jobState = (id: string): string => job(id).state

const waitFor = async (id: string, seconds: number): Promise<string> => {
  const deadline = Date.now() + seconds * 1000
  for (;;) {
    const { state, reason } = job(id)
    // A failed shard leaves the afterok merge pending for ever: say so now rather than at the deadline.
    if (reason === "DependencyNeverSatisfied") return `${state} (${reason}: a shard failed)`
    if (!["PENDING", "RUNNING", "CONFIGURING", "COMPLETING"].includes(state)) return state
    if (Date.now() > deadline) return `still ${state} after ${seconds} s`
    await new Promise((r) => setTimeout(r, 250))
  }
}

const filesOf = (dir: string): Record<string, Buffer> =>
  Object.fromEntries(
    fs
      .readdirSync(dir)
      .sort()
      .map((f) => [f, fs.readFileSync(path.join(dir, f))]),
  )

describe("a sweep on a real single-node Slurm", () => {
  it("runs as a job array of shards and a dependent merge, giving the single-process run's tables", async () => {
    if (unavailable !== undefined) throw new Error(unavailable)
    const file = path.join(tmp, `${SPEC.name}.ts`)
    // The single-process run first: it also compiles the CLI, so the array tasks do not each compile it.
    const single = spawnSync(
      process.execPath,
      [path.join(projectRoot, "bin", "spade.js"), "run", file, "--out-dir", path.join(tmp, "single")],
      { cwd: tmp, env, encoding: "utf8" },
    )
    expect(single.stderr).not.toMatch(/^spade: /m)
    expect(single.status).toBe(0)

    const submitted = spawnSync(submit, [file, String(SHARDS)], {
      cwd: tmp,
      env: { ...env, SPADE_OUT_DIR: path.join(tmp, "sharded") },
      encoding: "utf8",
    })
    expect(submitted.stderr).toBe("")
    const [array, merge] = submitted.stdout.trim().split(" ")
    expect(array).toMatch(/^\d+$/)
    expect(merge).toMatch(/^\d+$/)
    const mergeState = await waitFor(merge!, 45)
    const logs = fs
      .readdirSync(tmp)
      .filter((f) => f.endsWith(".out"))
      .sort()
    const explain = logs.map((f) => `${f}:\n${fs.readFileSync(path.join(tmp, f), "utf8").slice(-800)}`).join("\n")
    expect(mergeState, explain).toBe("COMPLETED")
    for (let i = 0; i < SHARDS; i++) expect(jobState(`${array}_${i}`), explain).toBe("COMPLETED")
    // One log per array task and one for the merge: the array really was cut into SHARDS tasks.
    expect(logs.filter((f) => f.startsWith("spade-shard-"))).toHaveLength(SHARDS)

    // The merged report beside the single run's: every table, CSV and Arrow, byte for byte.
    const tables = (dir: string) => filesOf(path.join(tmp, dir, SPEC.name, "tables"))
    const merged = tables("sharded")
    expect(Object.keys(merged)).toEqual(Object.keys(tables("single")))
    expect(Object.keys(merged)).toContain("results.csv")
    for (const [name, bytes] of Object.entries(tables("single"))) expect(merged[name]!.equals(bytes), name).toBe(true)
    expect(fs.existsSync(path.join(tmp, "sharded", `${SPEC.name}.html`))).toBe(true)

    // And row for row against the units run here, in this process.
    const spec = (await Effect.runPromise(loadExperiment(file))) as ExperimentSpec
    const plan = await Effect.runPromise(planExperiment(spec))
    expect(plan.units).toHaveLength(2 * 3 * 2)
    const here = assembleTables(
      await Effect.runPromise(
        runUnits(
          plan,
          plan.units.map((u) => u.index),
          unitContext(path.join(tmp, "here")),
        ),
      ),
    )
    const shards = await Effect.runPromise(readShards(plan, [path.join(tmp, "sharded", SPEC.name, "shards")]))
    expect(assembleTables(shards).tables).toEqual(here.tables)
    expect(new Set(here.tables.results.map((r) => r.peArrayRows))).toEqual(new Set([8, 16, 32]))
  }, 60_000)
})
