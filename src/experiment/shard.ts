import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { FileError } from "../config/index.ts"
import { type Plan, shardRange } from "./sweep.ts"
import { UNIT_TABLES, type UnitOutput, type UnitTable } from "./units.ts"

/**
 * Shard files: JSON lines, a header naming the spec's content hash and the slice, then one line per
 * row (`unit`, `table`, `row`). Numbers round-trip exactly through JSON; the few it cannot hold
 * (NaN, ±Infinity, −0) are written as {"$number": "..."} so a merge gives the very numbers a
 * single-process run holds.
 */

type Row = Record<string, string | number | null>

export const SHARD_FORMAT = 1

export interface ShardHeader {
  readonly spadeShard: number
  readonly experiment: string
  readonly hash: string
  readonly shard: number
  readonly shards: number
  readonly units: ReadonlyArray<number>
  /** Every unit's training-run group (the merge keeps each group's training rows once). */
  readonly groups: ReadonlyArray<string>
  readonly traceFiles: ReadonlyArray<string | null>
  readonly rows: number
}

export interface ShardSpec {
  readonly index: number
  readonly count: number
}

/** "i/n" with 0 ≤ i < n, or why not. */
export const parseShard = (text: string): ShardSpec | string => {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim())
  const index = Number(m?.[1])
  const count = Number(m?.[2])
  if (m === null || !Number.isSafeInteger(count) || count < 1 || index >= count)
    return (
      "expected i/n with 0 <= i < n (a zero-based shard index, as SLURM_ARRAY_TASK_ID and " +
      `JOB_COMPLETION_INDEX count), got "${text}"`
    )
  return { index, count }
}

/** The units shard `index` of `count` runs: a balanced contiguous slice of the plan's units. */
export const shardUnits = (plan: Plan, shard: ShardSpec): ReadonlyArray<number> => {
  const [from, to] = shardRange(plan.units.length, shard.index, shard.count)
  return Array.from({ length: to - from }, (_, i) => from + i)
}

export const defaultShardFile = (outDir: string, plan: Plan, shard: ShardSpec): string =>
  path.join(outDir, plan.spec.name, "shards", `shard-${shard.index}-of-${shard.count}.jsonl`)

const replacer = (_k: string, v: unknown): unknown =>
  typeof v === "number" && (!Number.isFinite(v) || Object.is(v, -0))
    ? { $number: Object.is(v, -0) ? "-0" : String(v) }
    : v

const reviver = (_k: string, v: unknown): unknown =>
  v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 1 && "$number" in v
    ? Number((v as { $number: string }).$number)
    : v

/** Write a shard's rows atomically (temp file, rename): a killed shard leaves no half file to merge. */
export const writeShard = (
  file: string,
  plan: Plan,
  shard: ShardSpec,
  outputs: ReadonlyArray<UnitOutput>,
): Effect.Effect<string, FileError> =>
  Effect.try({
    try: () => {
      const lines: string[] = []
      for (const o of outputs)
        for (const table of UNIT_TABLES)
          for (const row of o.rows[table]) lines.push(JSON.stringify({ unit: o.unit, table, row }, replacer))
      const header: ShardHeader = {
        spadeShard: SHARD_FORMAT,
        experiment: plan.spec.name,
        hash: plan.hash,
        shard: shard.index,
        shards: shard.count,
        units: outputs.map((o) => o.unit),
        groups: outputs.map((o) => o.group),
        traceFiles: outputs.map((o) => o.traceFile),
        rows: lines.length,
      }
      fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true })
      const tmp = `${file}.${process.pid}.tmp`
      fs.writeFileSync(tmp, `${[JSON.stringify(header), ...lines].join("\n")}\n`)
      fs.renameSync(tmp, file)
      return file
    },
    catch: (e) =>
      new FileError({ file, reason: `cannot write the shard (${e instanceof Error ? e.message : String(e)})` }),
  })

interface ReadShard {
  readonly file: string
  readonly header: ShardHeader
  readonly outputs: ReadonlyArray<UnitOutput>
}

const readShard = (file: string): Effect.Effect<ReadShard, FileError> =>
  Effect.try({
    try: () => fs.readFileSync(file, "utf8"),
    catch: (e) => new FileError({ file, reason: `cannot read (${e instanceof Error ? e.message : String(e)})` }),
  }).pipe(
    Effect.flatMap((text) => {
      const bad = (reason: string) => Effect.fail(new FileError({ file, reason }))
      const lines = text.split("\n").filter((l) => l !== "")
      let header: ShardHeader
      try {
        header = JSON.parse(lines[0] ?? "") as ShardHeader
      } catch {
        return bad("expected a spade shard file (JSON lines with a header); the first line is not JSON")
      }
      if (header?.spadeShard !== SHARD_FORMAT)
        return bad(`expected a spade shard file of format ${SHARD_FORMAT} (written by spade run --shard)`)
      if (lines.length - 1 !== header.rows)
        return bad(`expected ${header.rows} rows as its header says, found ${lines.length - 1} (a truncated copy?)`)
      const rows = new Map<number, Record<UnitTable, Row[]>>(
        header.units.map((u) => [
          u,
          Object.fromEntries(UNIT_TABLES.map((t) => [t, [] as Row[]])) as Record<UnitTable, Row[]>,
        ]),
      )
      for (const [i, line] of lines.slice(1).entries()) {
        let parsed: { unit: number; table: UnitTable; row: Row }
        try {
          parsed = JSON.parse(line, reviver) as typeof parsed
        } catch {
          return bad(`line ${i + 2} is not JSON`)
        }
        const unit = rows.get(parsed.unit)
        if (unit === undefined || !UNIT_TABLES.includes(parsed.table))
          return bad(`line ${i + 2}: expected a row of one of the header's units and tables`)
        unit[parsed.table].push(parsed.row)
      }
      const outputs = header.units.map((unit, i) => ({
        unit,
        group: header.groups[i] ?? "",
        rows: rows.get(unit)!,
        traceFile: header.traceFiles[i] ?? null,
      }))
      return Effect.succeed({ file, header, outputs })
    }),
  )

/** The shard files of a list of files and directories (a directory contributes its *.jsonl files). */
const shardFiles = (inputs: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<string>, FileError> =>
  Effect.try({
    try: () =>
      inputs.flatMap((input) =>
        fs.statSync(input).isDirectory()
          ? fs
              .readdirSync(input)
              .filter((f) => f.endsWith(".jsonl"))
              .sort()
              .map((f) => path.join(input, f))
          : [input],
      ),
    catch: (e) =>
      new FileError({
        file: inputs.join(", "),
        reason: `cannot read (${e instanceof Error && "code" in e ? String(e.code) : String(e)})`,
      }),
  })

/**
 * Read shard files and check they are exactly shards 0..n−1 of this plan, each once and each
 * holding its slice: a missing, duplicated or foreign shard is one line naming the files.
 */
export const readShards = (
  plan: Plan,
  inputs: ReadonlyArray<string>,
): Effect.Effect<ReadonlyArray<UnitOutput>, FileError> =>
  Effect.gen(function* () {
    const files = yield* shardFiles(inputs)
    const where = inputs.join(", ")
    if (files.length === 0)
      return yield* Effect.fail(new FileError({ file: where, reason: "expected shard files (*.jsonl), found none" }))
    const shards = yield* Effect.forEach(files, readShard)
    for (const s of shards) {
      if (s.header.experiment !== plan.spec.name || s.header.hash !== plan.hash)
        return yield* Effect.fail(
          new FileError({
            file: s.file,
            reason:
              `expected a shard of ${plan.spec.name} with spec hash ${plan.hash}, got ${s.header.experiment} ` +
              `with ${s.header.hash} (the spec, a model or an accelerator file changed since it ran)`,
          }),
        )
    }
    const count = shards[0]!.header.shards
    const odd = shards.find((s) => s.header.shards !== count)
    if (odd !== undefined)
      return yield* Effect.fail(
        new FileError({
          file: odd.file,
          reason: `expected a shard of ${count} (as ${shards[0]!.file}), got ${odd.header.shard}/${odd.header.shards}`,
        }),
      )
    const byIndex = new Map<number, string[]>()
    for (const s of shards) byIndex.set(s.header.shard, [...(byIndex.get(s.header.shard) ?? []), s.file])
    const duplicated = [...byIndex.entries()].filter(([, fs]) => fs.length > 1)
    if (duplicated.length > 0)
      return yield* Effect.fail(
        new FileError({
          file: where,
          reason: `duplicated shards: ${duplicated.map(([i, f]) => `${i}/${count} in ${f.join(" and ")}`).join("; ")}`,
        }),
      )
    const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !byIndex.has(i))
    if (missing.length > 0)
      return yield* Effect.fail(
        new FileError({
          file: where,
          reason: `missing shards ${missing.map((i) => `${i}/${count}`).join(", ")} (found ${[...byIndex.keys()]
            .sort((a, b) => a - b)
            .map((i) => `${i}/${count}`)
            .join(", ")})`,
        }),
      )
    for (const s of shards) {
      const expected = shardUnits(plan, { index: s.header.shard, count })
      if (JSON.stringify(expected) !== JSON.stringify(s.header.units))
        return yield* Effect.fail(
          new FileError({
            file: s.file,
            reason: `expected units ${expected.join(",")} of shard ${s.header.shard}/${count}`,
          }),
        )
    }
    return shards.flatMap((s) => s.outputs)
  })
