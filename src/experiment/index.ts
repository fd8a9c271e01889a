export * from "./spec.ts"
export * from "./cache.ts"
export * from "./progress.ts"
export * from "./run.ts"
