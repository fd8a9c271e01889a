import * as fc from "fast-check"

// Property tests are reproducible: one seed for the run, printed on failure by fast-check.
// Set FC_SEED to explore other inputs locally.
fc.configureGlobal({ seed: Number(process.env.FC_SEED ?? 20261128) })
