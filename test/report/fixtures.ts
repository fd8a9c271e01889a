import type { Row } from "../../src/report/index.ts"

export const LAYERS = ["conv1", "conv2", "fc1", "<script>alert(1)</script>"] as const
export const METHODS = ["dense", "nm:2:8", "rigl"] as const

/** One row per (layer, method, pass), shaped like the simulator's result rows. */
export const resultRows = (): Row[] =>
  LAYERS.flatMap((layer, i) =>
    METHODS.flatMap((method, j) =>
      ["forward", "backward-data"].map((pass) => ({
        layer,
        method,
        pass,
        cycles: 1000 * (i + 1) * (j === 0 ? 2 : 1) + (pass === "forward" ? 0 : 300),
        energyPj: (1.5e6 * (i + 1)) / (j + 1) + 0.25,
        utilization: 0.5 + 0.1 * j,
        note: j === 1 ? null : `m${j}`,
      })),
    ),
  )

export const count = (text: string, pattern: RegExp): number => (text.match(pattern) ?? []).length
