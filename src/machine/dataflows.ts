import { Effect } from "effect"
import * as path from "node:path"
import { listConfigNames, loadConfig, NotFoundError, type UserError } from "../config/index.ts"
import { Dataflow, SystolicDataflow, type Accelerator } from "../hardware/index.ts"

/**
 * The file each dataflow given as a path came from. A copied file keeps the `name` of the one it was
 * copied from, so errors about a user's file name the path, which the name would not find.
 */
const sources = new WeakMap<Dataflow, string>()

const isPath = (nameOrFile: string): boolean => nameOrFile.includes("/") || nameOrFile.endsWith(".json")

const decode = loadConfig("dataflows", Dataflow)

// A path as resolveConfigFile tells one from a name.
const load = (nameOrFile: string): Effect.Effect<Dataflow, UserError> =>
  decode(nameOrFile).pipe(
    Effect.tap((df) => {
      if (isPath(nameOrFile)) sources.set(df, path.resolve(nameOrFile))
    }),
  )

/** The file a dataflow was read from, when the user gave a path (a name is a file of dataflows/). */
export const dataflowFile = (df: Dataflow): string | undefined => sources.get(df)

/** How messages name a dataflow: the file given, else "dataflow <name>". */
export const dataflowLabel = (df: Dataflow): string => sources.get(df) ?? `dataflow ${df.name}`

/**
 * A dataflow by file name (or path), or by its SCALE-Sim name (os, ws, is) through the `systolic`
 * field of the file that declares it.
 */
export const loadDataflow = (nameOrAlias: string): Effect.Effect<Dataflow, UserError> =>
  (SystolicDataflow.literals as ReadonlyArray<string>).includes(nameOrAlias)
    ? Effect.flatMap(Effect.forEach(listConfigNames("dataflows"), load), (all) => {
        const hit = all.find((d) => d.systolic === nameOrAlias)
        return hit === undefined
          ? Effect.fail(
              new NotFoundError({ kind: "dataflow", name: nameOrAlias, available: listConfigNames("dataflows") }),
            )
          : Effect.succeed(hit)
      })
    : load(nameOrAlias)

/** The dataflows an accelerator declares, its default first. */
export const dataflowsOf = (acc: Accelerator): Effect.Effect<ReadonlyArray<Dataflow>, UserError> =>
  Effect.forEach(acc.dataflows, loadDataflow)
