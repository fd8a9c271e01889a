import { defineExperiment, runWhenMain } from "../src/experiment/index.ts"

/**
 * The SAT paper's question (Fang et al., "Efficient N:M Sparse DNN Training Using Algorithm,
 * Architecture, and Dataflow Co-Design"): which N:M training method keeps accuracy, and what does
 * each buy per training pass on an N:M training array? Dense against 2:4, 2:8 and 1:8, each pattern
 * trained four ways: forward-only N:M (masks on W along K), BDWP (a second mask on Wᵀ along Cout for
 * backward-data), SR-STE and progressive gradient flow. The arrays are compared like with like: the
 * SAT-like 2:4 and 2:8 arrays beside systolic-32x32-fp16, the dense array of their datatype (fp16),
 * clock (0.2 GHz) and MAC count (1024).
 */
const patterns = ["2:4", "2:8", "1:8"] as const
const methods = [
  "dense",
  ...patterns.map((p) => `nm:${p}`),
  ...patterns.map((p) => `nm:${p}:bdwp`),
  ...patterns.map((p) => `srste:${p}`),
  ...patterns.map((p) => `pgf:${p}`),
] as const

const spec = defineExperiment({
  name: "sat-nm-training",
  description:
    "Dense against 2:4, 2:8 and 1:8 N:M training, each pattern trained four ways (forward-only N:M by magnitude, " +
    "BDWP, SR-STE, progressive gradient flow), 13 runs of LeNet-5 (conv1 and the classifier dense, as the N:M " +
    "papers keep them) for 2 epochs (SGD, cosine learning rate) on the 8,000 training digits of mnist-digits " +
    "(2,000 held out): a small-scale " +
    "reproduction, minutes on two cores, not the paper's ImageNet runs, so accuracy differences of a few tenths of " +
    "a point are within seed noise. Every layer and pass of the last traced step is replayed on the SAT-like 2:4 " +
    "and 2:8 arrays and on systolic-32x32-fp16, the dense array of the same datatype (fp16), clock (0.2 GHz) and " +
    "MAC count (1024), all weight-stationary: cycles, time and energy compare like with like.",
  dataset: { name: "mnist-digits", testFraction: 0.2, seed: 1 },
  model: "lenet5",
  methods: [...methods],
  training: {
    epochs: 2,
    batchSize: 64,
    learningRate: 0.05,
    momentum: 0.9,
    weightDecay: 0.0005,
    lrSchedule: { kind: "cosine" },
    seed: 1,
    traceEverySteps: 50,
  },
  simulate: [
    { accelerator: "systolic-32x32-fp16", dataflows: ["ws"] },
    { accelerator: "sat-like-2x4", dataflows: ["ws"] },
    { accelerator: "sat-like-2x8", dataflows: ["ws"] },
  ],
  charts: [
    {
      title: "Test accuracy during training",
      mark: "line",
      table: "training",
      x: "epoch",
      y: "testAccuracy",
      color: "method",
      xTitle: "epoch",
      yTitle: "test accuracy (fraction)",
      text:
        "One line per method; the run table above gives each run's final accuracy. At 2 epochs on 8,000 digits, " +
        "differences under about half a point are within seed noise; what stands out is a method that trains " +
        "clearly worse at a pattern.",
    },
    {
      title: "Whole training step: speedup over the dense method on the same array",
      mark: "bar",
      table: "speedups",
      where: { pass: "all" },
      x: "method",
      y: "speedup",
      color: "accelerator",
      baseline: 1,
      yTitle: "speedup over dense (×)",
      text:
        "Every layer and pass of one training step, each method against the dense run on the same array. The dense " +
        "array cannot use N:M weights (1.0× for every method). The SAT-like arrays run a pass at N:M only when its " +
        "weight operand is N:M along the reduction dim and fits the array's pattern: 2:8 and 1:8 weights fit 2:4 " +
        "PEs (run at 2:4), 2:4 weights do not fit 2:8 PEs (run dense), and 1:8 runs as 2:8 on 2:8 PEs. LeNet-5's " +
        "dense conv1 and classifier and the dense weight-gradient pass cap the whole-step speedup well below M/N " +
        "(Amdahl's law).",
    },
    {
      title: "Speedup per pass over the dense method on the same array",
      mark: "bar",
      table: "speedups",
      x: "method",
      y: "speedup",
      color: "pass",
      column: "accelerator",
      baseline: 1,
      yTitle: "speedup over dense (×)",
      text:
        "Forward-only N:M (nm), SR-STE and PGF mask W along K, which the SAT-like arrays use in the forward pass " +
        "only: in backward-data the same mask lies along the other axis of Wᵀ. BDWP's second mask on Wᵀ along Cout " +
        "is what speeds up backward-data. No method sparsifies the weight-gradient pass, which SAT runs dense.",
    },
    {
      title: "Cycles per pass, all layers summed",
      mark: "bar",
      table: "results",
      x: "pass",
      y: "cycles",
      color: "method",
      column: "accelerator",
      aggregate: "sum",
      yTitle: "cycles",
      text: "The three arrays share datatype, clock and MAC count, so cycles compare across panels.",
    },
    {
      title: "Cycles per layer and pass, BDWP 2:8 on each array",
      mark: "bar",
      table: "results",
      where: { method: "nm:2:8:bdwp" },
      x: "layerPass",
      y: "cycles",
      color: "accelerator",
      xTitle: "layer and pass",
      yTitle: "cycles",
      text:
        "Where the time goes: conv1 (one input channel, K = 25 on a 32-row array) and the weight-gradient passes " +
        "run dense on every array and dominate the step; conv2's backward-data (K = 400) gains most from BDWP's " +
        "transposed mask.",
    },
    {
      title: "Time of one training step at the arrays' common 0.2 GHz clock",
      mark: "bar",
      table: "results",
      x: "accelerator",
      y: "timeUs",
      color: "method",
      aggregate: "sum",
      yTitle: "time per step",
    },
    {
      title: "Energy of one training step by component",
      mark: "bar",
      table: "energy",
      x: "method",
      y: "energyPj",
      color: "component",
      column: "accelerator",
      aggregate: "sum",
      stack: true,
      yTitle: "energy per step",
      text:
        "N:M PEs save MAC energy, SRAM reads and leakage (fewer cycles), but DRAM traffic, about four fifths of a " +
        "step's energy here (activations, gradients and the dense layers' weights move between DRAM and the 256 KB " +
        "buffers at this batch), barely moves, so a step's energy falls far less than its cycles.",
    },
    {
      title: "Weight density per layer (forward pass)",
      mark: "rect",
      table: "operands",
      where: { pass: "forward", role: "b" },
      x: "layer",
      y: "method",
      color: "density",
      text: "conv1 and fc3 stay dense by the model file; every other layer holds N/M of its weights.",
    },
  ],
})

export default spec
runWhenMain(import.meta.url, spec)
