import { Effect } from "effect"
import { loadMnist, loadModel, selectRows, train, type Split, type TrainOptions } from "../src/engine/index.ts"
import { gemmNaive } from "../src/tensor/index.ts"
import { observe, type TraceRecord } from "../src/trace/index.ts"

/**
 * Engine speed, as ratios against baselines measured in the same run (absolute times drift on
 * shared machines):
 *  - tracing overhead: step time with every step traced (and at the default sampling of one step
 *    in 25) over step time without tracing; the budget is ≤ 1.10 at the sampling used;
 *  - kernels: training samples/s against the same three GEMMs per layer done by the naive
 *    triple loop (the obviously-correct twin the fast kernels are tested against).
 */
export default async function engineBench(): Promise<void> {
  const model = await Effect.runPromise(loadModel("mlp-784-300-100-10"))
  const all = loadMnist({ seed: 1 })
  const data: Split = {
    train: selectRows(
      all.train,
      Uint32Array.from({ length: 3200 }, (_, i) => i),
    ),
    test: selectRows(
      all.test,
      Uint32Array.from({ length: 10 }, (_, i) => i),
    ),
  }
  const base: TrainOptions = {
    model,
    data,
    sparsity: { kind: "dense" },
    epochs: 1,
    batchSize: 64,
    learningRate: 0.05,
    momentum: 0.9,
    weightDecay: 1e-4,
    seed: 1,
    traceEverySteps: 0,
  }
  const stepsPerRun = Math.ceil(3200 / 64)

  /** Training seconds per step of one run (evaluation excluded via samplesPerSecond). */
  const secondsPerStep = (traceEvery: number): number => {
    const records: TraceRecord[] = []
    const result = train({
      ...base,
      traceEverySteps: traceEvery,
      onObservation: traceEvery > 0 ? (o) => records.push(observe(o)) : undefined,
    })
    return 3200 / result.samplesPerSecond / stepsPerRun
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

  secondsPerStep(0) // warm up the JIT
  // Interleave the modes round by round, so load from other processes hits all of them alike.
  const modes = [0, 1, 25] as const
  const samples: Record<number, number[]> = { 0: [], 1: [], 25: [] }
  for (let round = 0; round < 7; round++) for (const m of modes) samples[m]!.push(secondsPerStep(m))
  const plain = median(samples[0]!)
  const every = median(samples[1]!)
  const sampled = median(samples[25]!)
  const line = (label: string, value: string) => process.stdout.write(`${label.padEnd(52)} ${value}\n`)
  line("step time, untraced (baseline)", `${(plain * 1000).toFixed(2)} ms`)
  line("step time traced every step / untraced", `${(every / plain).toFixed(3)}x`)
  line("step time traced every 25 steps / untraced", `${(sampled / plain).toFixed(3)}x  (budget 1.10x)`)

  // The naive twin: the forward, backward-data and backward-weight GEMMs of every layer for one batch.
  const dims = [
    [784, 300],
    [300, 100],
    [100, 10],
  ] as const
  const batch = 64
  const t0 = performance.now()
  const repeats = 2
  for (let r = 0; r < repeats; r++)
    for (const [cin, cout] of dims) {
      const x = new Float32Array(batch * cin).fill(0.5)
      const w = new Float32Array(cin * cout).fill(0.01)
      const dy = new Float32Array(batch * cout).fill(0.1)
      gemmNaive(batch, cout, cin, x, w, new Float32Array(batch * cout))
      gemmNaive(batch, cin, cout, dy, w, new Float32Array(batch * cin), false, true)
      gemmNaive(cout, cin, batch, dy, x, new Float32Array(cout * cin), true, false)
    }
  const naiveStep = (performance.now() - t0) / 1000 / repeats
  line("training samples/s, engine", `${(batch / plain).toFixed(0)}`)
  line("samples/s, naive GEMMs only (no autograd)", `${(batch / naiveStep).toFixed(0)}`)
  line("engine speedup over the naive GEMMs", `${(naiveStep / plain).toFixed(2)}x`)
}
