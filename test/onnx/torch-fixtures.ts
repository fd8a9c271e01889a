import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

/**
 * PyTorch-made ONNX fixtures (test/onnx/fixtures.py) in a fresh temp dir. Debian's python3-torch
 * lives in /usr/bin/python3 (the python3 on PATH may be another interpreter). `npm test` installs it
 * (test/system-packages.sh); where it is still missing, the tests that need it fail rather than skip.
 */
export const PYTHON = "/usr/bin/python3"
export const hasTorch = spawnSync(PYTHON, ["-c", "import torch"], { stdio: "ignore" }).status === 0
export const TORCH_MISSING = `${PYTHON} cannot import torch: install Debian's python3-torch (test/system-packages.sh does)`

export interface Fixtures {
  readonly dir: string
  readonly file: (name: string) => string
  /** Per numeric fixture: the input's and the logits' shapes (PyTorch layout). */
  readonly shapes: (name: string) => { readonly input: ReadonlyArray<number>; readonly logits: ReadonlyArray<number> }
  readonly remove: () => void
}

export const makeFixtures = (): Fixtures => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spade-onnx-"))
  execFileSync(PYTHON, [path.join(import.meta.dirname, "fixtures.py"), dir], { stdio: "pipe", timeout: 120_000 })
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8")) as Record<
    string,
    { input: number[]; logits: number[] }
  >
  return {
    dir,
    file: (name) => path.join(dir, name),
    shapes: (name) => {
      const entry = manifest[name]
      if (entry === undefined) throw new Error(`no numeric fixture ${name}`)
      return entry
    },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  }
}

/** Little-endian float32 values, as numpy's `astype("<f4").tofile` writes them. */
export const readF32 = (file: string): Float32Array => {
  const bytes = fs.readFileSync(file)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return Float32Array.from({ length: bytes.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true))
}
