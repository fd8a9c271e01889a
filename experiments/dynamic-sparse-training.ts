import { defineExperiment, runWhenMain } from "../src/experiment/index.ts"

/**
 * Unstructured sparse training (SET, RigL, GMP, random ERK) at 90% and 95% sparsity: the accuracy
 * each keeps, and what its unstructured weights buy on each accelerator family. Every family is
 * compared with itself (each method against the dense run on the same design), since the designs
 * differ in datatype, clock and MAC count.
 */
const levels = [0.9, 0.95] as const
const sparse = levels.flatMap((s) => ["set", "rigl", "gmp", "erk"].map((m) => `${m}:${s}`))

const spec = defineExperiment({
  name: "dynamic-sparse-training",
  description:
    "SET, RigL, gradual magnitude pruning (GMP) and random pruning at Erdős–Rényi-kernel densities (ERK) at 90% " +
    "and 95% weight sparsity against dense: LeNet-300-100 (mlp-784-300-100-10) trained for 6 epochs (SGD, cosine " +
    "learning rate) on the 8,000 " +
    "training digits of mnist-digits (2,000 held out), 9 runs, a few minutes on two cores: a small-scale run, so " +
    "RigL updates its topology only a few times (every 12,800 samples, until 75% of training), SET once per epoch, " +
    "and GMP prunes over 10–70% of training. Every layer and pass of the last traced step is replayed on one " +
    "accelerator of each family: a dense systolic array (systolic-32x32-fp16), the SAT-like 2:4 N:M array " +
    "(sat-like-2x4), row-stationary with zero gating (eyeriss-v1-like), one-sided activation skipping " +
    "(cnvlutin-like), two-sided skipping (sparten-like) and a neuromorphic mesh (loihi-like). The designs differ " +
    "in datatype, clock and MAC count, so each is compared with itself: every method's speedup and energy saving " +
    "against the dense run on the same design.",
  dataset: { name: "mnist-digits", testFraction: 0.2, seed: 1 },
  model: "mlp-784-300-100-10",
  methods: ["dense", ...sparse],
  training: {
    epochs: 6,
    batchSize: 64,
    learningRate: 0.05,
    momentum: 0.9,
    weightDecay: 0.0001,
    lrSchedule: { kind: "cosine" },
    seed: 1,
    traceEverySteps: 250,
  },
  simulate: [
    { accelerator: "systolic-32x32-fp16", dataflows: ["ws"] },
    { accelerator: "sat-like-2x4" },
    { accelerator: "eyeriss-v1-like" },
    { accelerator: "cnvlutin-like" },
    { accelerator: "sparten-like" },
    { accelerator: "loihi-like" },
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
        "The run table above gives each run's final accuracy, and its weightDensity: the unweighted mean of its " +
        "layers' densities, so ERK's dense 10-way classifier puts a 90% run at about 0.44 (the next chart has " +
        "each layer's).",
    },
    {
      title: "Weight density per layer (forward pass, last traced step)",
      mark: "rect",
      table: "operands",
      where: { pass: "forward", role: "b" },
      x: "layer",
      y: "method",
      color: "density",
      text:
        "SET, RigL and ERK share ERK's per-layer densities (the 784-input layer sparsest, the 10-way classifier " +
        "densest); GMP prunes every layer to the same fraction.",
    },
    {
      title: "Input-activation density per layer (forward pass, last traced step)",
      mark: "rect",
      table: "operands",
      where: { pass: "forward", role: "a" },
      x: "layer",
      y: "method",
      color: "density",
      text:
        "Sparse weights come with denser activations in these runs: the hidden layers' inputs go from 39% and " +
        "51% nonzero (dense) to between 58% and 72% (SET, RigL, ERK); GMP, which keeps the largest weights, " +
        "stays nearer dense in fc2. A design that skips only activations loses what the dense network gave it.",
    },
    {
      title: "Whole training step: speedup over the dense method on the same design",
      mark: "bar",
      table: "speedups",
      where: { pass: "all" },
      x: "method",
      y: "speedup",
      color: "accelerator",
      baseline: 1,
      yTitle: "speedup over dense (×)",
      text:
        "Each design against itself with dense weights. The dense array and the SAT-like array gain nothing: SAT's " +
        "PEs take N:M weights only, and an unstructured 90%-sparse weight is not 2:4 in every group, so the " +
        'SAT-like array runs it dense (mechanism "dense" in its rows; pruning to 2:4 would be the way to use ' +
        "it). Designs that exploit activations only (gating, one-sided skipping) lose under SET, RigL and ERK " +
        "(about 0.75-0.8x on cnvlutin-like), because those networks' activations are denser, and about break " +
        "even under GMP. Two-sided skipping (about 1.4-1.7x) and the neuromorphic mesh's synaptic events " +
        "(1.6-3.3x) skip zero weights and gain, GMP most: it also keeps the activations sparser.",
    },
    {
      title: "Whole training step: energy saving over the dense method on the same design",
      mark: "bar",
      table: "speedups",
      where: { pass: "all" },
      x: "method",
      y: "energySaving",
      color: "accelerator",
      yTitle: "energy saving (fraction)",
    },
    {
      title: "MACs performed per training step on each design",
      mark: "bar",
      table: "results",
      x: "accelerator",
      y: "macs",
      color: "method",
      aggregate: "sum",
      yTitle: "MACs per training step",
      text:
        "Work, not time: comparable across designs. The dense and SAT-like arrays perform every MAC of an " +
        "unstructured layer; gating and one-sided skipping drop (or gate) the MACs of zero activations, two-sided " +
        "skipping also those of zero weights. The neuromorphic mesh's MACs are its synaptic operations, one per " +
        "nonzero input event and nonzero weight. With 90% of the weights gone, the effectual MACs of a step fall " +
        "by far less than 90%: denser activations, and a weight-gradient pass whose operands (activations, output " +
        "gradients) are not pruned.",
    },
  ],
})

export default spec
runWhenMain(import.meta.url, spec)
