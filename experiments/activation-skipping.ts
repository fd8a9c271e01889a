import { defineExperiment, runWhenMain } from "../src/experiment/index.ts"

/**
 * Activation sparsity on the designs that exploit it (Eyeriss v1's gating, Cnvlutin's one-sided
 * skipping, SparTen's two-sided skipping): what ReLU's own zeros and top-k's buy on each, and
 * whether the real masks' positions matter, against uniform masks of the same density. The designs
 * differ in datatype, clock and MAC count, so each is compared with itself: every method against
 * the ReLU-only (dense-weight) run on the same array, as speedups and energy savings; raw cycles
 * and energy are drawn only within one design or between the two Eyeriss variants, which differ in
 * nothing but gating and run-length coding.
 */
const spec = defineExperiment({
  name: "activation-skipping",
  description:
    "ReLU against top-k activation sparsity, and what gating (eyeriss-v1-like), one-sided skipping (cnvlutin-like) " +
    "and two-sided skipping (sparten-like) make of it. LeNet-5 trained for 2 epochs (SGD, cosine learning rate) on " +
    "the 8,000 training digits " +
    "of mnist-digits four ways: dense weights with ReLU's own zeros (the baseline, method dense), keeping the top " +
    "25% or 10% of hidden units per sample (topk:0.25, topk:0.1), and 80% GMP-pruned weights with top-10% " +
    "activations (gmp:0.8+topk:0.1, where two-sided skipping has both operands to skip). A small-scale run, " +
    "minutes on two cores. Every layer and pass of the last traced step is replayed on eyeriss-like (the same " +
    "row-stationary array without gating: the do-nothing baseline) and on the three exploiting designs, each on " +
    "the traced masks and on seeded uniform masks of every traced operand's own density. The designs have " +
    "different datatypes, clocks and MAC counts, so each is compared with itself (speedup and energy saving " +
    "against the dense-weight ReLU run on the same design); raw numbers are drawn only within a design, or between " +
    "the two Eyeriss variants, which are identical but for gating.",
  dataset: { name: "mnist-digits", testFraction: 0.2, seed: 1 },
  model: "lenet5",
  methods: ["dense", "topk:0.25", "topk:0.1", "gmp:0.8+topk:0.1"],
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
    { accelerator: "eyeriss-like" },
    { accelerator: "eyeriss-v1-like" },
    { accelerator: "cnvlutin-like" },
    { accelerator: "sparten-like" },
    { accelerator: "eyeriss-v1-like", operands: "uniform", seed: 1 },
    { accelerator: "cnvlutin-like", operands: "uniform", seed: 1 },
    { accelerator: "sparten-like", operands: "uniform", seed: 1 },
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
      text: "The run table above gives each run's final accuracy: what top-k costs against ReLU alone.",
    },
    {
      title: "Input-activation density per layer (forward pass)",
      mark: "rect",
      table: "operands",
      where: { pass: "forward", role: "a" },
      x: "layer",
      y: "method",
      color: "density",
      text:
        "conv1 reads the digits themselves (about a fifth of the pixels are nonzero, whatever the method); every " +
        "later layer reads ReLU outputs, thinned further by top-k. Max pooling after each conv raises the density " +
        "top-k leaves (a pooled unit is nonzero if any of its four is).",
    },
    {
      title: "Whole training step: speedup over ReLU alone (dense method) on the same design, traced masks",
      mark: "bar",
      table: "speedups",
      where: { pass: "all", masks: "trace" },
      x: "method",
      y: "speedup",
      color: "accelerator",
      baseline: 1,
      yTitle: "speedup over ReLU alone (×)",
      text:
        "Each design against itself with ReLU's zeros only. eyeriss-like exploits nothing (1.0×). Gating saves no " +
        "cycle by itself; eyeriss-v1-like's run-length-coded ifmaps cut DRAM-bound time a little. One-sided " +
        "skipping gains only where top-k thins the activations a layer reads: keeping 25% of units leaves the " +
        "conv layers denser than ReLU alone once max pooling has run (conv2 reads 42% nonzero inputs against " +
        "37%), so topk:0.25 is slower than ReLU alone; topk:0.1 gains. Two-sided skipping gains again where " +
        "weights are zero too (gmp:0.8+topk:0.1).",
    },
    {
      title: "Whole training step: energy saving over ReLU alone on the same design, traced masks",
      mark: "bar",
      table: "speedups",
      where: { pass: "all", masks: "trace" },
      x: "method",
      y: "energySaving",
      color: "accelerator",
      yTitle: "energy saving (fraction)",
    },
    {
      title: "Time per layer and pass on each design, traced masks (log scale)",
      mark: "bar",
      table: "results",
      where: { masks: "trace" },
      x: "layerPass",
      y: "timeUs",
      color: "method",
      column: "accelerator",
      yScale: "log",
      xTitle: "layer and pass",
      yTitle: "time per step",
      text:
        "Each panel is one design at its own clock (the designs differ by up to 100x in time per step, hence the " +
        "log scale). On LeNet-5 the first conv dominates the skipping designs: it reads the raw digits (one input " +
        "channel, nothing for top-k to remove), and one channel fills one of Cnvlutin's 16 neuron lanes per brick. " +
        "That caps what activation sparsity buys over the whole step.",
    },
    {
      title: "MACs performed per step on each design, against the dense MAC count (traced masks)",
      mark: "bar",
      table: "results",
      where: { masks: "trace" },
      x: "accelerator",
      y: "macs",
      color: "method",
      aggregate: "sum",
      yTitle: "MACs per training step",
      text:
        "Work, not time: comparable across designs. eyeriss-like performs every MAC. eyeriss-v1-like gates the " +
        "MACs of zero input activations (not counted here; each still takes its cycle, at a tenth of a MAC's " +
        "energy), one-sided skipping removes them, two-sided skipping removes those of zero weights too. Most of a " +
        "training step's MACs have a zero operand even with ReLU alone (pixels, ReLU outputs, and the gradients " +
        "ReLU's derivative zeroes).",
    },
    {
      title: "Traced masks against uniform masks of the same density: time per step (log scale)",
      mark: "bar",
      table: "results",
      x: "accelerator",
      y: "timeUs",
      color: "masks",
      column: "method",
      aggregate: "sum",
      yScale: "log",
      yTitle: "time per step",
      text:
        "Each pair of bars is one design running the same layers at the same operand densities, the zeros in their " +
        "traced places or spread uniformly at random (seeded); each design at its own clock. Digit pixels and ReLU " +
        "zeros cluster (the background, dead channels), so lanes and clusters that wait for their busiest member " +
        "see a different load on real masks, and a simulator fed uniform statistics misjudges them by the gap " +
        "between the bars. eyeriss-like runs traced masks only; gating's cycles do not depend on where the zeros " +
        "are.",
    },
    {
      title: "Gating against no gating: energy per step by component on the two Eyeriss variants",
      mark: "bar",
      table: "energy",
      where: { replay: "row-stationary", masks: "trace" },
      x: "method",
      y: "energyPj",
      color: "component",
      column: "accelerator",
      aggregate: "sum",
      stack: true,
      yTitle: "energy per step",
      text:
        "eyeriss-like and eyeriss-v1-like share datatype (int16), clock (0.2 GHz) and 168 PEs and differ only " +
        "in gating and run-length-coded ifmaps, so their energies compare directly: gating zero input " +
        "activations saves MAC and scratchpad energy, run-length coding saves DRAM traffic. 'other' holds " +
        "what is none of the named parts: the PEs' register files (scratchpads), gated MACs and metadata.",
    },
  ],
})

export default spec
runWhenMain(import.meta.url, spec)
