import { Effect, Either, ParseResult, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { ConfigError, FileError, NotFoundError } from "./errors.ts"

/** Render a field path the way a user would write it: `layers[2].out`. */
export const formatPath = (p: ReadonlyArray<PropertyKey>): string =>
  p.map((k, i) => (typeof k === "number" ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join("")

/**
 * Turn a ParseError into the single most useful ConfigError: the first failing path, with every
 * alternative expected at that path merged (a union of literals reads "expected one of ...").
 */
export const toConfigError = (file: string, error: ParseResult.ParseError): ConfigError => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const first = issues[0]
  if (first === undefined) return new ConfigError({ file, path: "", expected: "a valid value" })
  const samePath = issues.filter((i) => formatPath(i.path) === formatPath(first.path))
  const literals = samePath
    .map((i) => /^Expected (.+), actual (.+)$/s.exec(i.message))
    .filter((m): m is RegExpExecArray => m !== null)
  const expected =
    literals.length > 1 && literals.length === samePath.length
      ? `expected one of ${literals.map((m) => m[1]).join(", ")}, got ${literals[0]![2]}`
      : first._tag === "Missing"
        ? "is missing (required field)"
        : first._tag === "Unexpected"
          ? `unknown field (${first.message.replace(/^is unexpected, /, "")})`
          : lowerFirst(first.message)
  return new ConfigError({ file, path: formatPath(first.path), expected })
}

const lowerFirst = (s: string): string => (s.length === 0 ? s : s[0]!.toLowerCase() + s.slice(1))

/**
 * Decode an already-parsed value. Unknown fields are errors: a typo must not be silently ignored.
 * `excess: "ignore"` is for files another command wrote with more than this one reads.
 */
export const decodeValue =
  <A, I>(schema: Schema.Schema<A, I>, excess: "error" | "ignore" = "error") =>
  (file: string, value: unknown): Either.Either<A, ConfigError> =>
    Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: excess })(value).pipe(
      Either.mapLeft((e) => toConfigError(file, e)),
    )

/** A file's text, or a FileError naming why it cannot be read. */
export const readText = (file: string): Effect.Effect<string, FileError> =>
  Effect.try({
    try: () => fs.readFileSync(file, "utf8"),
    catch: (e) => new FileError({ file, reason: `cannot read (${errnoMessage(e)})` }),
  })

/** Deeper than any config Spade reads: past it, a file is refused before anything recurses into it. */
export const MAX_JSON_DEPTH = 64

/**
 * Where a parsed JSON value holds something no config may: nesting past `MAX_JSON_DEPTH`, or a number
 * that overflowed to ±Infinity (`1e400` parses as Infinity, which would flow into energies as null).
 * Walked with an explicit stack, so a file nested a million deep is an error, not a stack overflow.
 */
export const jsonValueIssue = (value: unknown): { path: string; expected: string } | null => {
  const stack: Array<{ v: unknown; path: ReadonlyArray<PropertyKey> }> = [{ v: value, path: [] }]
  while (stack.length > 0) {
    const { v, path: at } = stack.pop()!
    if (typeof v === "number" && !Number.isFinite(v))
      return { path: formatPath(at), expected: `expected a finite number, got a value beyond ±1.8e308 (${v})` }
    if (typeof v !== "object" || v === null) continue
    if (at.length >= MAX_JSON_DEPTH)
      return { path: formatPath(at), expected: `nested more than ${MAX_JSON_DEPTH} levels deep; no Spade file is` }
    const entries: Array<[PropertyKey, unknown]> = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v)
    for (let i = entries.length - 1; i >= 0; i--) stack.push({ v: entries[i]![1], path: [...at, entries[i]![0]] })
  }
  return null
}

/**
 * A JSON file's value. A leading byte-order mark (some editors write one) is skipped; a file that is
 * not JSON is a FileError, one with a non-finite number or absurd nesting a ConfigError at its path.
 */
export const readJson = (file: string): Effect.Effect<unknown, FileError | ConfigError> =>
  Effect.try({
    try: () => fs.readFileSync(file, "utf8"),
    catch: (e) => new FileError({ file, reason: `cannot read (${errnoMessage(e)})` }),
  }).pipe(
    Effect.flatMap((text) =>
      Effect.try({
        try: (): unknown => JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text),
        catch: (e) =>
          new FileError({
            file,
            reason: `not valid JSON (${e instanceof Error ? e.message.split("\n")[0] : String(e).split("\n")[0]})`,
          }),
      }),
    ),
    Effect.flatMap((v) => {
      const issue = jsonValueIssue(v)
      return issue === null ? Effect.succeed(v) : Effect.fail(new ConfigError({ file, ...issue }))
    }),
  )

export const decodeJsonFile =
  <A, I>(schema: Schema.Schema<A, I>) =>
  (file: string): Effect.Effect<A, ConfigError | FileError> =>
    readJson(file).pipe(
      Effect.flatMap((v) =>
        Either.match(decodeValue(schema)(file, v), {
          onLeft: (e) => Effect.fail(e),
          onRight: (a) => Effect.succeed(a),
        }),
      ),
    )

const errnoMessage = (e: unknown): string =>
  typeof e === "object" && e !== null && "code" in e ? String(e.code) : e instanceof Error ? e.message : String(e)

/**
 * The repository root: config folders are found relative to it, wherever the command runs from. It
 * is the nearest folder above this module with Spade's package.json, found by walking up rather than
 * by a fixed depth, because the module runs both from src/ (tsx, tests) and bundled in dist/ (the CLI).
 */
export const projectRoot: string = (() => {
  const here = path.dirname(new URL(import.meta.url).pathname)
  for (let dir = here; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, "package.json")
    if (fs.existsSync(manifest) && /"name":\s*"spade"/.test(fs.readFileSync(manifest, "utf8"))) return dir
    if (path.dirname(dir) === dir) return path.resolve(here, "..", "..")
  }
})()

export type ConfigKind = "models" | "accelerators" | "dataflows" | "experiments"

export const configDir = (kind: ConfigKind): string => path.join(projectRoot, kind)

/** Names (file stems) of the configs of one kind, sorted. */
export const listConfigNames = (kind: ConfigKind): ReadonlyArray<string> => {
  const ext = kind === "experiments" ? ".ts" : ".json"
  try {
    return fs
      .readdirSync(configDir(kind))
      .filter((f) => f.endsWith(ext))
      .map((f) => f.slice(0, -ext.length))
      .sort()
  } catch {
    return []
  }
}

/**
 * A config named on the command line: either a path to a file, or the stem of a file in its folder.
 */
export const resolveConfigFile = (kind: ConfigKind, nameOrFile: string): Effect.Effect<string, NotFoundError> => {
  const ext = kind === "experiments" ? ".ts" : ".json"
  if (nameOrFile.includes("/") || nameOrFile.endsWith(ext)) return Effect.succeed(path.resolve(nameOrFile))
  const file = path.join(configDir(kind), nameOrFile + ext)
  return fs.existsSync(file)
    ? Effect.succeed(file)
    : Effect.fail(
        new NotFoundError({ kind: kind.replace(/s$/, ""), name: nameOrFile, available: listConfigNames(kind) }),
      )
}

export const loadConfig =
  <A, I>(kind: ConfigKind, schema: Schema.Schema<A, I>) =>
  (nameOrFile: string): Effect.Effect<A, ConfigError | FileError | NotFoundError> =>
    resolveConfigFile(kind, nameOrFile).pipe(Effect.flatMap(decodeJsonFile(schema)))
