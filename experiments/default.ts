import { defineExperiment, runWhenMain } from "../src/experiment/index.ts"

/**
 * The default experiment: what does 2:4 sparsity change, layer by layer and pass by pass, for a small
 * MLP on the bundled MNIST digits, and what does it buy on a SAT-like 2:4 training array, beside a
 * dense 32x32 systolic array that cannot use it?
 */
const spec = defineExperiment({
  name: "default",
  description:
    "A 784-128-10 MLP trained dense and with 2:4 N:M weight sparsity on the 10,000 bundled MNIST digits, every layer and training pass replayed on a dense 32x32 systolic array under three dataflows' canonical mappings and under the mapping the scheduler found for its best energy-delay product, and on a SAT-like 2:4 N:M training array.",
  dataset: { name: "mnist-digits", testFraction: 0.2, seed: 1 },
  model: "mlp-784-128-10",
  methods: ["dense", "nm:2:4"],
  training: {
    epochs: 3,
    batchSize: 64,
    learningRate: 0.05,
    momentum: 0.9,
    weightDecay: 0.0001,
    seed: 1,
    traceEverySteps: 25,
  },
  simulate: [
    { accelerator: "systolic-32x32", dataflows: ["os", "ws", "is"] },
    { accelerator: "systolic-32x32", mapping: "mapper" },
    { accelerator: "sat-like-2x4", dataflows: ["ws"] },
  ],
  map: [{ accelerator: "systolic-32x32", objective: "edp", budget: 3000, seed: 1 }],
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
    },
    {
      title: "Training loss",
      mark: "line",
      table: "training",
      x: "epoch",
      y: "trainLoss",
      color: "method",
      xTitle: "epoch",
      yTitle: "cross-entropy loss",
    },
    {
      title: "Cycles per layer and pass (weight-stationary), dense array vs SAT-like 2:4",
      mark: "bar",
      table: "results",
      // `replay`, not `dataflow`: the mapper's replays may be weight-stationary too, two rows per bar.
      where: { replay: "weight-stationary" },
      x: "layerPass",
      y: "cycles",
      color: "method",
      column: "accelerator",
      xTitle: "layer and pass",
      yTitle: "cycles",
    },
    {
      title: "Energy per layer and pass (weight-stationary), dense array vs SAT-like 2:4",
      mark: "bar",
      table: "results",
      // `replay`, not `dataflow`: the mapper's replays may be weight-stationary too, two rows per bar.
      where: { replay: "weight-stationary" },
      x: "layerPass",
      y: "energyPj",
      color: "method",
      column: "accelerator",
      xTitle: "layer and pass",
      yTitle: "energy (pJ)",
    },
    {
      title: "Energy of one training step, every layer and pass (weight-stationary)",
      mark: "bar",
      table: "results",
      where: { replay: "weight-stationary" },
      x: "accelerator",
      y: "energyPj",
      color: "method",
      aggregate: "sum",
      yTitle: "energy per step",
      text: "Each bar sums the forward, backward-data and backward-weight passes of every layer at the last traced step.",
    },
    {
      title: "Effectual MACs per layer and pass (both operands nonzero)",
      mark: "bar",
      table: "results",
      where: { replay: "weight-stationary", accelerator: "systolic-32x32" },
      x: "layer",
      y: "effectualMacs",
      color: "method",
      column: "pass",
      yTitle: "MACs",
    },
    {
      title: "Cycles on the dense array: each dataflow's canonical mapping vs the mapper's (EDP objective), real masks",
      mark: "bar",
      table: "results",
      where: { accelerator: "systolic-32x32" },
      x: "layerPass",
      y: "cycles",
      color: "replay",
      column: "method",
      xTitle: "layer and pass",
      yTitle: "cycles",
    },
    {
      title: "Energy per layer and pass under the best mapping (EDP objective)",
      mark: "bar",
      table: "mappings",
      x: "layer",
      y: "energyPj",
      color: "method",
      column: "pass",
      yTitle: "energy (pJ)",
    },
    {
      title: "Operand density per layer and pass",
      mark: "bar",
      table: "operands",
      x: "operand",
      y: "density",
      color: "method",
      column: "pass",
      yTitle: "density (nonzero fraction)",
    },
  ],
})

export default spec
runWhenMain(import.meta.url, spec)
