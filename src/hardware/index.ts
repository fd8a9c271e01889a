export * from "./accelerator.ts"
export * from "./dataflow.ts"
