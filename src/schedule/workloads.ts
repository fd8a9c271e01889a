import type { ModelConfig } from "../engine/index.ts"
import {
  layerFromTrace,
  modelStepLayers,
  operandSpecOf,
  statisticalLayer,
  type Layer,
  type TrainingMethod,
} from "../machine/index.ts"
import type { TraceRecord } from "../trace/index.ts"

/**
 * One (layer, pass) to map: a layer with statistical operands. `name` and `pass` are the simulators'
 * row keys, so results join; the family decides how it runs (a conv as its 7-dim nest on a
 * row-stationary array, as its im2col GEMM on a systolic one).
 */
export type MapTarget = Layer

/**
 * Every (layer, pass) of a trace's last step, with statistical operands of each traced operand's
 * density and N:M structure (its axis kept: a forward-only mask stays along the rows in
 * backward-data, where an N:M array cannot use it).
 */
export const targetsFromTrace = (records: ReadonlyArray<TraceRecord>, seed: number): MapTarget[] => {
  // No records: the last step is -Infinity and nothing is kept.
  const last = Math.max(...records.map((r) => r.step))
  return records
    .filter((r) => r.step === last)
    .map((r) => {
      const real = layerFromTrace(r)
      return statisticalLayer(real, operandSpecOf(real.a, "row"), operandSpecOf(real.b, "col"), seed)
    })
}

/**
 * Every GEMM layer of a model file at a batch size, for all three training passes: the GEMMs a
 * training step of the engine runs and traces (attention's two products of activations and grouped
 * convs included), with dense operands or a method's statistical ones (`modelStepLayers`).
 */
export const targetsFromModel = (
  model: ModelConfig,
  batch: number,
  method: TrainingMethod = { kind: "dense" },
  seed = 1,
): MapTarget[] => [...modelStepLayers(model, batch, method, seed)]
