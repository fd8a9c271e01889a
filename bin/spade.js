#!/usr/bin/env node
// Runs the CLI compiled into dist/ (`npm ci` builds it; see build.js), rebuilding it first when the
// source is newer, so `npx spade` from a clone that edits src/ never runs a stale bundle.
import { distDir, ensureBuilt } from "./build.js"

await ensureBuilt()
const bundle = new URL(`file://${distDir}/spade.js`).href
try {
  await import(bundle)
} catch (e) {
  // A concurrent rebuild swaps dist/ by renaming it: the bundle is missing for an instant.
  if (e?.code !== "ERR_MODULE_NOT_FOUND") throw e
  await new Promise((resolve) => setTimeout(resolve, 200))
  await import(bundle)
}
