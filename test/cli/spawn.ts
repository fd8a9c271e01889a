import { execFile } from "node:child_process"
import * as path from "node:path"

/** The CLI as a user runs it: `node bin/spade.js …` from the checkout, spawned. */
export const root = path.resolve(import.meta.dirname, "..", "..")

export interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export const spade = (args: ReadonlyArray<string>): Promise<Ran> =>
  new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(root, "bin", "spade.js"), ...args],
      { cwd: root, timeout: 120_000, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, stdout, stderr }),
    )
  })

/** Spawns a few at a time: each start compiles nothing but still costs a core for a moment. */
export const inBatches = async <A, B>(items: ReadonlyArray<A>, size: number, f: (a: A) => Promise<B>): Promise<B[]> => {
  const out: B[] = []
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(f))))
  return out
}
