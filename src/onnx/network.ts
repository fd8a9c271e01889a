import { buildModel, type Network } from "../engine/index.ts"
import type { ImportedModel } from "./convert.ts"

/**
 * The engine network of an imported model with its weights loaded, in inference mode (batch norms
 * use the file's running statistics). A shapes-only import keeps the engine's seeded init.
 * Every parameter and buffer the network has must come from the file, and every imported tensor
 * must land somewhere: a mismatch is a bug in the conversion, so it throws.
 */
export const buildImportedNetwork = (imported: ImportedModel, seed = 0): Network => {
  const network = buildModel(imported.config, seed)
  const weights = imported.weights
  if (weights !== null) {
    const missing = [...network.tensors().keys()].filter((name) => !weights.has(name))
    if (missing.length > 0)
      throw new RangeError(`${imported.file}: the import left ${missing.join(", ")} without values`)
    for (const [name, values] of weights) network.setTensor(name, values)
  }
  network.setTraining(false)
  return network
}
