export * from "./errors.ts"
export * from "./decode.ts"
