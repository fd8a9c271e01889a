#!/usr/bin/env node
// Mutation scores from the committed incremental results (reports/stryker-incremental-<stage>[-<part>].json),
// per stage and per file, as the README's table gives them: no mutation run needed to read them.
//   npm run mutate:scores [-- <folder holding the incremental files>]
// The score is Stryker's: killed and timed-out mutants over every mutant counted (killed, timed out,
// survived, uncovered); mutants Stryker ignored (static ones under --ignoreStatic) are not counted.
import * as fs from "node:fs"
import * as path from "node:path"

const folder = process.argv[2] ?? "reports"
const PREFIX = "stryker-incremental-"
const files = fs.existsSync(folder)
  ? fs
      .readdirSync(folder)
      .filter((f) => f.startsWith(PREFIX) && f.endsWith(".json"))
      .sort()
  : []
if (files.length === 0) {
  process.stderr.write(`spade: ${folder}: no ${PREFIX}*.json files (run npm run mutate first)\n`)
  process.exit(1)
}

const COUNTED = ["Killed", "Timeout", "Survived", "NoCoverage"]
/** stage → file → status → count; a file split over parts (mapspace.ts) sums its parts. */
const stages = new Map()
const parts = new Map()
for (const name of files) {
  const stage = name.slice(PREFIX.length, -".json".length).split("-")[0]
  let report
  try {
    report = JSON.parse(fs.readFileSync(path.join(folder, name), "utf8"))
  } catch (e) {
    process.stderr.write(`spade: ${path.join(folder, name)}: not a Stryker report (${e.message})\n`)
    process.exit(1)
  }
  if (typeof report?.files !== "object" || report.files === null) {
    process.stderr.write(`spade: ${path.join(folder, name)}: no "files" field (expected a Stryker report)\n`)
    process.exit(1)
  }
  parts.set(stage, [...(parts.get(stage) ?? []), name])
  const byFile = stages.get(stage) ?? new Map()
  stages.set(stage, byFile)
  for (const [file, { mutants }] of Object.entries(report.files)) {
    const counts = byFile.get(file) ?? {}
    for (const m of mutants) counts[m.status] = (counts[m.status] ?? 0) + 1
    byFile.set(file, counts)
  }
}

const sum = (rows) => {
  const total = {}
  for (const r of rows) for (const [k, v] of Object.entries(r)) total[k] = (total[k] ?? 0) + v
  return total
}
const score = (c) => {
  const counted = COUNTED.reduce((n, k) => n + (c[k] ?? 0), 0)
  return counted === 0 ? "–" : `${((100 * ((c.Killed ?? 0) + (c.Timeout ?? 0))) / counted).toFixed(1)}%`
}
const row = (label, c) =>
  `| ${label} | ${COUNTED.reduce((n, k) => n + (c[k] ?? 0), 0)} | ${c.Killed ?? 0} | ${c.Timeout ?? 0} | ` +
  `${c.Survived ?? 0} | ${c.NoCoverage ?? 0} | ${c.Ignored ?? 0} | ${score(c)} |`

const out = [
  "| stage / file | mutants | killed | timed out | survived | uncovered | ignored | score |",
  "| --- | --- | --- | --- | --- | --- | --- | --- |",
]
for (const [stage, byFile] of stages) {
  out.push(row(`**${stage}** (${parts.get(stage).join(", ")})`, sum(byFile.values())))
  for (const [file, c] of [...byFile].sort((a, b) => a[0].localeCompare(b[0]))) out.push(row(file, c))
}
process.stdout.write(`${out.join("\n")}\n`)
