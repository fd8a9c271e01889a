import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"

/**
 * `npm run bench`: runs every bench/*.bench.ts (or those whose name contains an argument).
 * Each prints ratios against a baseline measured in the same run, since absolute times drift on
 * shared machines.
 */
const dir = import.meta.dirname
const filters = process.argv.slice(2)
const files = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts") && (filters.length === 0 || filters.some((x) => f.includes(x))))
  .sort()
for (const f of files) {
  process.stdout.write(`\n== ${f.replace(/\.bench\.ts$/, "")}\n`)
  const mod = (await import(pathToFileURL(path.join(dir, f)).href)) as { default: () => Promise<void> | void }
  await mod.default()
}
