import { spawnSync } from "node:child_process"
import * as path from "node:path"

/**
 * PyTorch recorder overhead (python/spade_recorder): CPU time per training step of a small
 * residual CNN recorded every 25 steps over the same model unrecorded, both measured in this run
 * by bench/recorder_bench.py (interleaved rounds, process CPU time, one torch thread). The issue's
 * budget is ≤ 1.2x. Needs /usr/bin/python3 with torch and numpy (Debian's python3-torch).
 */
interface Figures {
  readonly plainStepSeconds: number
  readonly recordedEvery25StepSeconds: number
  readonly ratios: ReadonlyArray<number>
  readonly wallRatio: number
  readonly oneRecordedStepSeconds: number
  readonly records: number
  readonly saveSeconds: number
  readonly rounds: number
  readonly steps: number
  readonly torch: string
}

export default function recorderBench(): void {
  const line = (label: string, value: string) => process.stdout.write(`${label.padEnd(52)} ${value}\n`)
  const r = spawnSync("/usr/bin/python3", [path.join(import.meta.dirname, "recorder_bench.py")], {
    encoding: "utf8",
    timeout: 600_000,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
  })
  if (r.status !== 0) {
    line(
      "recorder overhead",
      `skipped: /usr/bin/python3 bench/recorder_bench.py failed (${r.stderr.trim().split("\n").pop()})`,
    )
    return
  }
  const f = JSON.parse(r.stdout) as Figures
  const ms = (s: number) => `${(s * 1000).toFixed(1)} ms`
  line(`PyTorch step, unrecorded (baseline, torch ${f.torch})`, `${ms(f.plainStepSeconds)} CPU`)
  line("one recorded step / unrecorded step", `${(f.oneRecordedStepSeconds / f.plainStepSeconds).toFixed(2)}x`)
  line(
    "step recorded every 25 steps / unrecorded",
    `${(f.recordedEvery25StepSeconds / f.plainStepSeconds).toFixed(3)}x  (budget 1.20x; per round ${f.ratios.map((x) => x.toFixed(2)).join(" ")}; wall ${f.wallRatio.toFixed(2)}x)`,
  )
  line(`saving the trace (${f.records} records)`, `${f.saveSeconds.toFixed(2)} s`)
}
