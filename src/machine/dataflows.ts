import { Effect } from "effect"
import { listConfigNames, loadConfig, NotFoundError, type UserError } from "../config/index.ts"
import { Dataflow, SystolicDataflow, type Accelerator } from "../hardware/index.ts"

const load = loadConfig("dataflows", Dataflow)

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
