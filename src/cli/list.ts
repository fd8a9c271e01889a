import { Command } from "@effect/cli"
import { Console, Effect, Either, type Schema } from "effect"
import * as path from "node:path"
import { configDir, decodeValue, listConfigNames, readJson, type ConfigKind } from "../config/index.ts"
import { ModelConfig } from "../engine/index.ts"
import { loadExperiment } from "../experiment/index.ts"
import { Accelerator, Dataflow } from "../hardware/index.ts"

const firstSentence = (s: string): string => {
  // A sentence ends at a stop followed by a capital, so "et al." and "e.g." stay inside it.
  const m = /^(.*?[.!?])(\s+(?=[A-Z])|$)/.exec(s)
  return (m?.[1] ?? s).trim()
}

/** One line per config: its name and first sentence, or the error that keeps it from loading. */
const describeJson = <A extends { description: string }, I>(kind: ConfigKind, schema: Schema.Schema<A, I>) =>
  Effect.forEach(listConfigNames(kind), (name) => {
    const file = path.join(configDir(kind), `${name}.json`)
    return readJson(file).pipe(
      Effect.map((v) =>
        Either.match(decodeValue(schema)(file, v), {
          onLeft: (e) => `  ${name.padEnd(28)} INVALID: ${e.message}`,
          onRight: (c) => `  ${name.padEnd(28)} ${firstSentence(c.description)}`,
        }),
      ),
      Effect.catchAll((e) => Effect.succeed(`  ${name.padEnd(28)} INVALID: ${e.message}`)),
    )
  })

// Through loadExperiment: the compiled CLI cannot import() a .ts file itself, and a broken experiment
// is listed with the same one-line reason `spade run` would give.
const describeExperiments = Effect.forEach(listConfigNames("experiments"), (name) =>
  loadExperiment(name).pipe(
    Effect.map((e) => `  ${name.padEnd(28)} ${firstSentence(e.description)}`),
    Effect.catchAll((e) => Effect.succeed(`  ${name.padEnd(28)} INVALID: ${e.message}`)),
  ),
)

export const listCommand = Command.make("list", {}, () =>
  Effect.gen(function* () {
    const sections: Array<[string, ReadonlyArray<string>]> = [
      ["models", yield* describeJson("models", ModelConfig)],
      ["accelerators", yield* describeJson("accelerators", Accelerator)],
      ["dataflows", yield* describeJson("dataflows", Dataflow)],
      ["experiments", yield* describeExperiments],
    ]
    for (const [heading, lines] of sections) yield* Console.log(`${heading}:\n${lines.join("\n") || "  (none)"}`)
  }),
).pipe(Command.withDescription("List the models, accelerators, dataflows and experiments, one line each."))
