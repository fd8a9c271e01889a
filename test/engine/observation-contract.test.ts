import { describe, expect, it } from "vitest"
import type { LayerPassObservation as EngineObservation } from "../../src/engine/index.ts"
import type { LayerPassObservation as TraceObservation } from "../../src/trace/observation.ts"

// The engine may not import the trace stage, so it mirrors the observation type. These assignments
// only compile while the two shapes agree in both directions (tsc checks this file).
const toTrace = (o: EngineObservation): TraceObservation => o
const toEngine = (o: TraceObservation): EngineObservation => o

describe("engine ↔ trace observation contract", () => {
  it("is checked by the type checker", () => {
    expect(typeof toTrace).toBe("function")
    expect(typeof toEngine).toBe("function")
  })
})
