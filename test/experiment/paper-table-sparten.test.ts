import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { sparTenNetworks } from "../../experiments/paper-table.ts"
import { loadConfig } from "../../src/config/index.ts"
import { Accelerator } from "../../src/hardware/index.ts"
import { clearMachineCaches, setExactElements } from "../../src/machine/index.ts"

const geomean = (xs: ReadonlyArray<number>): number => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length)

/**
 * paper-table's SparTen row in CI: pruned AlexNet and VGG-16 at Han et al.'s densities on
 * sparten-like, held to the ideal those densities allow (dense MACs over effectual MACs), within the
 * row's 5%. Drawn whole, as paper-table draws them: the machine model's sampled timing of large
 * operands once moved this row out of tolerance without any other test noticing.
 */
describe("paper-table: SparTen at Han et al.'s densities", () => {
  let previous = 0
  beforeAll(() => {
    previous = setExactElements(Number.POSITIVE_INFINITY)
    clearMachineCaches()
  })
  afterAll(() => {
    setExactElements(previous)
    clearMachineCaches()
  })

  it("reaches the ideal the densities allow within 5% (geomean over the two networks)", () => {
    const acc = Effect.runSync(loadConfig("accelerators", Accelerator)("sparten-like"))
    const nets = sparTenNetworks(acc)
    expect(nets.map((n) => n.network)).toEqual(["alexnet", "vgg16"])
    const speedup = geomean(nets.map((n) => n.speedup))
    const ideal = geomean(nets.map((n) => n.idealSpeedup))
    expect(Math.abs(speedup / ideal - 1)).toBeLessThanOrEqual(0.05)
  }, 300_000)
})
