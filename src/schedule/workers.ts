import { Effect } from "effect"
import { createRequire } from "node:module"
import { pathToFileURL } from "node:url"
import { Worker } from "node:worker_threads"
import type { ChunkJob, ChunkResult } from "./search.ts"

// From source (tests, tsx), workers load this stage's TypeScript through tsx, whose loader is found
// from here, so a worker starts the same wherever the command was run from. Bundled (the compiled
// CLI in dist/), this module sits beside the build's compiled worker entry and needs no loader.
const bootstrap = `
const { parentPort, workerData } = require("node:worker_threads");
const loader = workerData.tsxApi === null ? Promise.resolve(null) : import(workerData.tsxApi);
loader.then(async (api) => {
  if (api !== null) api.register();
  const mod = await import(workerData.module);
  parentPort.on("message", (job) => parentPort.postMessage(mod.runChunk(job)));
  parentPort.postMessage("ready");
});
`

/** The build's name for this stage's compiled worker module (bin/build.js emits it beside its chunks). */
export const COMPILED_WORKER_ENTRY = "schedule-worker.js"

/** One worker per unit of concurrency, at most one per chunk, and at least one. */
export const workerCount = (concurrency: number, chunks: number): number => Math.max(1, Math.min(concurrency, chunks))

/**
 * Runs chunks on worker threads (one per unit of concurrency, at most one per chunk). Each worker
 * costs a few hundred milliseconds to start, so this pays only for budgets of tens of thousands of
 * evaluations or more; results are identical to the in-process runner because chunks are pure.
 */
export const workerRunner = (
  jobs: ReadonlyArray<ChunkJob>,
  concurrency: number,
): Effect.Effect<ReadonlyArray<ChunkResult>> =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const fromSource = import.meta.url.endsWith(".ts")
      const tsxApi = fromSource
        ? pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm/api")).href.replace(/\.cjs$/, ".mjs")
        : null
      const module = new URL(fromSource ? "./search.ts" : `./${COMPILED_WORKER_ENTRY}`, import.meta.url).href
      return Array.from(
        { length: workerCount(concurrency, jobs.length) },
        () => new Worker(bootstrap, { eval: true, workerData: { tsxApi, module } }),
      )
    }),
    (workers) =>
      Effect.async<ReadonlyArray<ChunkResult>>((resume) => {
        const results: ChunkResult[] = []
        let next = 0
        const feed = (w: Worker): void => {
          if (next < jobs.length) w.postMessage(jobs[next++])
        }
        for (const w of workers) {
          w.on("message", (msg: ChunkResult | "ready") => {
            if (msg !== "ready") {
              results.push(msg)
              if (results.length === jobs.length) return resume(Effect.succeed(results))
            }
            feed(w)
          })
          w.on("error", (e) => resume(Effect.die(e)))
        }
      }),
    (workers) => Effect.promise(() => Promise.all(workers.map((w) => w.terminate()))),
  )
