import { Effect } from "effect"
import { isMap, isScalar, isSeq, parseDocument } from "yaml"
import { FileError, readText } from "../../config/index.ts"

/**
 * Timeloop's YAML, as plain values. Its architecture files tag nodes (`!Component`, `!Container`,
 * `!Parallel`, `!Nothing`); a tagged map keeps its tag under the key "!" so schemas can tell them apart.
 */
const toPlain = (node: unknown): unknown => {
  if (isMap(node)) {
    const out: Record<string, unknown> = {}
    if (node.tag !== undefined && node.tag.startsWith("!") && !node.tag.startsWith("!!")) out["!"] = node.tag.slice(1)
    for (const item of node.items) {
      const key = isScalar(item.key) ? String(item.key.value) : String(item.key)
      out[key] = toPlain(item.value)
    }
    return out
  }
  if (isSeq(node)) return node.items.map(toPlain)
  if (isScalar(node)) {
    if (node.tag !== undefined && node.tag.startsWith("!") && !node.tag.startsWith("!!"))
      return { "!": node.tag.slice(1), value: node.value }
    return node.value
  }
  return node ?? null
}

export const readYaml = (file: string): Effect.Effect<unknown, FileError> =>
  readText(file).pipe(
    Effect.flatMap((text) => {
      const doc = parseDocument(text)
      const error = doc.errors[0]
      return error === undefined
        ? Effect.succeed(toPlain(doc.contents))
        : Effect.fail(new FileError({ file, reason: `not valid YAML (${error.message.split("\n")[0]})` }))
    }),
  )
