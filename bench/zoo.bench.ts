import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { decodeJsonFile, projectRoot } from "../src/config/index.ts"
import { loadModel, modelGemms, type ModelConfig } from "../src/engine/index.ts"
import { Accelerator } from "../src/hardware/index.ts"
import {
  clearMachineCaches,
  loadDataflow,
  modelStepLayers,
  setMachineCaches,
  type Layer,
} from "../src/machine/index.ts"
import { importOnnx } from "../src/onnx/index.ts"
import { mapLayer, targetsFromModel } from "../src/schedule/index.ts"
import { simulate } from "../src/sim/index.ts"
import { BATCH, FAMILIES, METHOD } from "./zoo-cold.ts"

/**
 * Real networks (issue 14's figures): ResNet-50 imported from an ONNX file (PyTorch's export of
 * test/onnx/fixtures.py's torchvision-style ResNet-50, without weights, made here in a temp dir)
 * and one whole training step of it (batch 32, statistical operands) simulated on one accelerator
 * of every family, import and simulation timed together; and every layer and pass of ResNet-50
 * mapped. Each against a baseline measured in the same run: one ResNet-18 training step from the
 * zoo on the dense systolic array (about 3 ms when issue 14 was filed), and mapping that step's
 * layers. Without torch in /usr/bin/python3 the step runs on the zoo's ResNet-50 file instead, and
 * says so.
 */
const load = (name: string): Accelerator =>
  Effect.runSync(decodeJsonFile(Accelerator)(path.join(projectRoot, "accelerators", `${name}.json`)))
const zoo = (name: string): ModelConfig =>
  Effect.runSync(loadModel(path.join(projectRoot, "models", "zoo", `${name}.json`)))

const MAP_BUDGET = 3000

/** Debian's python3-torch lives in /usr/bin/python3 (as test/onnx/torch-fixtures.ts says). */
const PYTHON = "/usr/bin/python3"

/**
 * ResNet-50 exported by PyTorch without weights (about 26 KB) with the fixture script's model, in
 * a fresh temp dir; or why not.
 */
const exportResNet50 = (dir: string): { file: string } | { missing: string } => {
  const file = path.join(dir, "resnet50.onnx")
  const script = [
    "import sys",
    `sys.path.insert(0, ${JSON.stringify(path.join(projectRoot, "test", "onnx"))})`,
    "import torch, fixtures",
    "torch.manual_seed(14)",
    "model = fixtures.ResNet50().eval()",
    `torch.onnx.export(model, torch.randn(1, 3, 224, 224), ${JSON.stringify(file)}, opset_version=fixtures.OPSET, export_params=False)`,
  ].join("\n")
  const r = spawnSync(PYTHON, ["-c", script], { stdio: ["ignore", "ignore", "pipe"], timeout: 180_000 })
  if (r.status === 0 && fs.existsSync(file)) return { file }
  const why = r.error?.message ?? r.stderr?.toString().trim().split("\n").pop() ?? `exit ${r.status}`
  return { missing: `${PYTHON} could not export it (${why})` }
}

/** What bench/zoo-cold.ts prints: milliseconds from its fresh process. */
interface Cold {
  readonly source: string
  readonly modules: Timed
  readonly import: Timed
  readonly families: ReadonlyArray<Timed & { readonly name: string; readonly cycles: number }>
  /** The same import and step again in that process, its machine caches emptied: the JIT warm. */
  readonly warm: {
    readonly import: Timed
    readonly families: ReadonlyArray<Timed & { readonly name: string; readonly cycles: number }>
  }
}

/**
 * The cold figure: a fresh `node --import tsx bench/zoo-cold.ts` imports the model file and runs
 * one step on every family once, as `spade simulate --model` run once does (nothing warmed up);
 * or why it failed.
 */
const coldRun = async (file: string): Promise<Cold | string> => {
  // Bundled as bin/build.js bundles the CLI, inside the checkout (the bundle finds the project's
  // folders by walking up), so the figure is what the installed `spade` pays, not tsx's transpile.
  const dir = fs.mkdtempSync(path.join(projectRoot, "dist.bench-"))
  try {
    const esbuild = await import("esbuild")
    const out = path.join(dir, "zoo-cold.mjs")
    await esbuild.build({
      absWorkingDir: projectRoot,
      entryPoints: [path.join(projectRoot, "bench", "zoo-cold.ts")],
      outfile: out,
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node20",
      logLevel: "warning",
      banner: { js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);" },
    })
    const r = spawnSync(process.execPath, [out, file], {
      cwd: projectRoot,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 300_000,
    })
    if (r.status !== 0) return r.error?.message ?? r.stderr?.toString().trim().split("\n").pop() ?? `exit ${r.status}`
    const parsed = JSON.parse(r.stdout.toString()) as Omit<Cold, "source">
    return {
      ...parsed,
      source: file.endsWith(".onnx") ? "the exported ONNX file imported" : "the zoo's JSON file loaded",
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** A model's training GEMMs at a batch, as a sorted list of shapes: two routes to one network compare equal. */
const gemmList = (model: ModelConfig): string =>
  modelGemms(model, BATCH)
    .map((g) => `${g.pass} ${g.gemm.m}x${g.gemm.n}x${g.gemm.k} g${g.groups}`)
    .sort()
    .join(";")

/**
 * Wall and CPU milliseconds of a call. On a shared machine whose other jobs run at a higher
 * priority, wall time counts the time this process waited for a core; CPU time (user + system)
 * does not, so both are printed.
 */
interface Timed {
  readonly wall: number
  readonly cpu: number
}
const timed = (f: () => void): Timed => {
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  f()
  const wall = performance.now() - t0
  const c = process.cpuUsage(c0)
  return { wall, cpu: (c.user + c.system) / 1000 }
}
const plus = (x: Timed, y: Timed): Timed => ({ wall: x.wall + y.wall, cpu: x.cpu + y.cpu })
const ZERO: Timed = { wall: 0, cpu: 0 }

/** Fresh layers each time: statistical operands cache their masks and families their preparation per object. */
const step = (acc: Accelerator, model: ModelConfig): number => {
  let cycles = 0
  for (const layer of modelStepLayers(model, BATCH, METHOD, 1)) cycles += simulate(acc, layer).row.cycles
  return cycles
}

const mapAll = async (acc: Accelerator, targets: ReadonlyArray<Layer>): Promise<number> => {
  const dataflows = await Effect.runPromise(Effect.forEach(acc.dataflows, loadDataflow))
  let evaluated = 0
  for (const t of targets) {
    const r = await Effect.runPromise(
      mapLayer(acc, {}, t, dataflows, "edp", {
        strategy: "auto",
        budget: MAP_BUDGET,
        seed: 1,
        chunks: 4,
        concurrency: 1,
      }),
    )
    evaluated += r.evaluated
  }
  return evaluated
}

export default async function zooBench(): Promise<void> {
  const r18 = zoo("resnet18")
  const r50 = zoo("resnet50")
  const accs = FAMILIES.map(load)
  const systolic = accs[0]!
  // Warm up every family's code paths once, on the small network.
  for (const acc of accs) step(acc, r18)
  // The baseline runs as the measured steps do, with the machine model's caches starting empty.
  const runs = [0, 1, 2].map(() => {
    clearMachineCaches()
    return timed(() => step(systolic, r18))
  })
  const base: Timed = { wall: Math.min(...runs.map((r) => r.wall)), cpu: Math.min(...runs.map((r) => r.cpu)) }
  /** A time and its ratios to the baseline, wall and CPU. */
  const show = (t: Timed): string =>
    `${t.wall.toFixed(1).padStart(7)} ms wall (${(t.wall / base.wall).toFixed(1).padStart(5)}x baseline), ${t.cpu.toFixed(1).padStart(7)} ms CPU (${(t.cpu / base.cpu).toFixed(1).padStart(5)}x)`
  process.stdout.write(
    `baseline: one ResNet-18 training step (${modelStepLayers(r18, BATCH, METHOD, 1).length} GEMMs, batch ${BATCH}, zoo shapes, ifmaps uniform 0.5, weights 2:8) on ${systolic.name}: ${base.wall.toFixed(1)} ms wall, ${base.cpu.toFixed(1)} ms CPU (best of 3)\n`,
  )

  // ResNet-50 from ONNX: exported by PyTorch now, imported and timed; the zoo's file where torch is missing.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spade-bench-onnx-"))
  let source: string
  let importTime = ZERO
  let model: ModelConfig
  let cold: Cold | string
  try {
    const exported = exportResNet50(dir)
    cold = await coldRun("file" in exported ? exported.file : path.join(projectRoot, "models", "zoo", "resnet50.json"))
    if ("file" in exported) {
      let imported: ModelConfig | null = null
      importTime = timed(() => {
        imported = Effect.runSync(importOnnx(exported.file)).config
      })
      model = imported!
      const kb = (fs.statSync(exported.file).size / 1024).toFixed(0)
      const same =
        gemmList(model) === gemmList(r50)
          ? "the same GEMMs as models/zoo/resnet50.json"
          : "GEMMS DIFFER FROM models/zoo/resnet50.json"
      source = `imported from ONNX (PyTorch's export of test/onnx/fixtures.py's ResNet-50, no weights, ${kb} KB; ${same}):\n  import ${show(importTime)}`
    } else {
      model = r50
      source = `FALLBACK, NOT an ONNX import: the zoo's models/zoo/resnet50.json (${exported.missing})`
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  const gemms = modelStepLayers(model, BATCH, METHOD, 1).length
  process.stdout.write(`ResNet-50 ${source}\n`)
  process.stdout.write(
    `one ResNet-50 training step (${gemms} GEMMs, batch ${BATCH}, the same operands), per family, the faster of two runs (target: import + every family < 1000 ms):\n`,
  )
  // Every family once on ResNet-50 (the JIT and the heap meet its sizes), then each step
  // timed twice with the machine model's caches on (emptied first) and twice with them off (the
  // unoptimized path, for the speedup in the same run), alternately; the faster of each pair counts.
  // The first pass is what the figure was first measured as (after the ResNet-18 warm-up only): it
  // pays for compiling the hot paths at these sizes, so it is printed, not counted.
  clearMachineCaches()
  const firstCycles: number[] = []
  const first = accs.reduce(
    (s, acc) =>
      plus(
        s,
        timed(() => firstCycles.push(step(acc, model))),
      ),
    ZERO,
  )
  process.stdout.write(`  first pass, every family:  ${show(first)}\n`)
  if (typeof cold === "string") process.stdout.write(`  cold (fresh process): FAILED (${cold})\n`)
  else {
    const all = [cold.import, ...cold.families].reduce(plus, ZERO)
    const cyclesSame = cold.families.every((f, i) => f.cycles === firstCycles[i])
    process.stdout.write(
      `  cold, a fresh process (bench/zoo-cold.ts: ${cold.source}, then every family once; the JIT starts cold, module loading not counted: ${cold.modules.cpu.toFixed(0)} ms CPU before the first timed call):\n`,
    )
    for (const f of cold.families) process.stdout.write(`    ${f.name.padEnd(16)} ${show(f)}\n`)
    const warm = [cold.warm.import, ...cold.warm.families].reduce(plus, ZERO)
    const warmSame = cold.warm.families.every((f, i) => f.cycles === firstCycles[i])
    process.stdout.write(
      `    import + every family: ${show(all)}  (${cyclesSame ? "the same cycles as this process" : "CYCLES DIFFER FROM THIS PROCESS"})\n`,
    )
    process.stdout.write(
      `    the same again in that process, caches emptied (JIT warm): ${show(warm)}  (target < 1000 ms CPU; cold/warm ${(all.cpu / warm.cpu).toFixed(1)}x is V8's warm-up${warmSame ? "" : "; CYCLES DIFFER"})\n`,
    )
  }
  const once = (on: boolean): ReadonlyArray<{ t: Timed; cycles: number }> => {
    setMachineCaches(on)
    return accs.map((acc) => {
      let cycles = 0
      const t = timed(() => {
        cycles = step(acc, model)
      })
      return { t, cycles }
    })
  }
  const best = (xs: ReadonlyArray<ReadonlyArray<{ t: Timed; cycles: number }>>) =>
    xs[0]!.map((_, i) => ({
      t: { wall: Math.min(...xs.map((x) => x[i]!.t.wall)), cpu: Math.min(...xs.map((x) => x[i]!.t.cpu)) },
      cycles: xs[0]![i]!.cycles,
    }))
  const [on1, off1, on2, off2] = [once(true), once(false), once(true), once(false)]
  setMachineCaches(true)
  const sum = (xs: ReadonlyArray<{ t: Timed }>): Timed => xs.reduce((s, x) => plus(s, x.t), ZERO)
  const report = (label: string, xs: ReadonlyArray<{ t: Timed; cycles: number }>): Timed => {
    for (const [i, x] of xs.entries())
      process.stdout.write(`  ${label.padEnd(10)} ${accs[i]!.name.padEnd(16)} ${show(x.t)}  ${x.cycles} cycles\n`)
    return sum(xs)
  }
  const total = report("caches on", best([on1!, on2!]))
  process.stdout.write(`  every family:              ${show(total)}\n`)
  process.stdout.write(`  import + every family:     ${show(plus(importTime, total))}\n`)
  const off = report("caches off", best([off1!, off2!]))
  const same = [on1!, off1!, on2!, off2!].every((xs) => xs.every((x, i) => x.cycles === on1![i]!.cycles))
  process.stdout.write(
    `  every family, caches off:  ${show(off)}  (the unoptimized path, ${same ? "the same cycles" : "CYCLES DIFFER"}; caches on is ${(off.wall / total.wall).toFixed(2)}x faster wall, ${(off.cpu / total.cpu).toFixed(2)}x CPU)\n`,
  )

  // Mapping: every layer and pass, dense operands (the mapper's default for --model), EDP, a fixed budget.
  const mapTimed = async (model: ModelConfig) => {
    const t0 = performance.now()
    const evaluated = await mapAll(systolic, targetsFromModel(model, BATCH))
    return { seconds: (performance.now() - t0) / 1000, evaluated }
  }
  const m18 = await mapTimed(r18)
  const m50 = await mapTimed(r50)
  process.stdout.write(
    `mapping every layer and pass (${MAP_BUDGET} evaluations per dataflow and layer, ${systolic.dataflows.length} dataflows, objective edp, one thread) on ${systolic.name}: ResNet-18 ${m18.seconds.toFixed(1)} s (${m18.evaluated} mappings evaluated, the baseline); ResNet-50 ${m50.seconds.toFixed(1)} s (${m50.evaluated} mappings, ${Math.round(m50.evaluated / m50.seconds)}/s, ${(m50.seconds / m18.seconds).toFixed(2)}x the baseline; target < 60 s)\n`,
  )
}
