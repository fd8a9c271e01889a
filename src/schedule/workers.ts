import { Effect } from "effect"
import { createRequire } from "node:module"
import { pathToFileURL } from "node:url"
import { Worker } from "node:worker_threads"
import type { ChunkJob, ChunkResult } from "./search.ts"

// Workers load this stage's TypeScript through tsx, as the CLI does; the loader is found from here,
// so a worker starts the same wherever the command was run from.
const bootstrap = `
const { parentPort, workerData } = require("node:worker_threads");
import(workerData.tsxApi).then(async (api) => {
  api.register();
  const mod = await import(workerData.module);
  parentPort.on("message", (job) => parentPort.postMessage(mod.runChunk(job)));
  parentPort.postMessage("ready");
});
`

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
      const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm/api")).href.replace(/\.cjs$/, ".mjs")
      const module = new URL("./search.ts", import.meta.url).href
      return Array.from(
        { length: Math.max(1, Math.min(concurrency, jobs.length)) },
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
