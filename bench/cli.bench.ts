import { spawnSync } from "node:child_process"
import * as path from "node:path"
import { projectRoot } from "../src/config/index.ts"

/**
 * CLI start: `spade --version` (bin/spade.js running the bundle `npm ci` compiled into dist/) against
 * `node -e 0`, the floor any Node command pays, measured in this run, alternating, with the median
 * of each. The budget is within 0.5 s of the floor. The old start, through tsx, is timed
 * too, for the ratio.
 */
const ROUNDS = 7

const wallMs = (args: ReadonlyArray<string>): number => {
  const t0 = performance.now()
  const r = spawnSync(process.execPath, [...args], { cwd: projectRoot, encoding: "utf8" })
  const ms = performance.now() - t0
  if (r.status !== 0) throw new Error(`node ${args.join(" ")} failed: ${r.stderr.trim()}`)
  return ms
}

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

export default function cliBench(): void {
  const line = (label: string, value: string) => process.stdout.write(`${label.padEnd(52)} ${value}\n`)
  const bin = path.join(projectRoot, "bin", "spade.js")
  // The first start may rebuild a stale bundle; it is not what a user pays on every command.
  wallMs([bin, "--version"])
  const floor: number[] = []
  const compiled: number[] = []
  const tsx: number[] = []
  for (let i = 0; i < ROUNDS; i++) {
    floor.push(wallMs(["-e", "0"]))
    compiled.push(wallMs([bin, "--version"]))
    if (i < 3) tsx.push(wallMs(["--import", "tsx", path.join(projectRoot, "src", "cli", "main.ts"), "--version"]))
  }
  const [f, c, t] = [median(floor), median(compiled), median(tsx)]
  line("node -e 0 (baseline)", `${f.toFixed(0)} ms wall (median of ${ROUNDS})`)
  line("spade --version, compiled (dist/)", `${c.toFixed(0)} ms: baseline + ${(c - f).toFixed(0)} ms (budget 500)`)
  line("spade --version through tsx (the old start)", `${t.toFixed(0)} ms: ${(t / c).toFixed(1)}x the compiled start`)
}
