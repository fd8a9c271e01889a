import * as fs from "node:fs"
import * as path from "node:path"
import { projectRoot } from "../../config/index.ts"

/**
 * The example designs and Sparseloop tutorial exercises published with Timeloop and Accelergy, as
 * reference cases: the inputs Spade reads (architecture, problem, the reference run's own mapping,
 * Accelergy's energy table) and the report Timeloop wrote. They live outside the repository, in
 * the reference folder kept beside the clone (SPADE_REFERENCE_DIR overrides where).
 */
export interface ReferenceCase {
  readonly id: string
  readonly kind: "design" | "exercise"
  readonly inputs: ReadonlyArray<string>
  readonly stats: string
}

export const referenceRoot = (): string =>
  process.env["SPADE_REFERENCE_DIR"] ?? path.resolve(projectRoot, "..", "shared", "reference")

export const DESIGNS = [
  "simple_weight_stationary",
  "simple_output_stationary",
  "eyeriss_like",
  "simba_like",
  "sparse_tensor_core_like",
] as const

export const EXERCISES = [
  "01.2.1-DUDU-dot-product",
  "01.2.2-SUDU-dot-product",
  "01.2.3-SCDU-dot-product",
  "02.2.1-spMspM",
  "02.2.2-spMspM-tiled",
  "03.2.1-conv1d",
  "03.2.2-conv1d+oc",
  "03.2.3-conv1d+oc-spatial",
  "04.2.1-eyeriss-like-gating",
  "04.2.2-eyeriss-like-gating-mapspace-search",
  "04.2.3-eyeriss-like-onchip-compression",
] as const

const OUTPUTS = path.join("ref_outputs", "default_problem")

export const referenceCase = (id: string, root = referenceRoot()): ReferenceCase => {
  const base = path.join(root, "timeloop-accelergy-exercises")
  const exercise = (EXERCISES as ReadonlyArray<string>).includes(id)
  const dir = exercise ? path.join(base, "sparseloop", id) : path.join(base, id)
  const out = path.join(dir, OUTPUTS)
  const own = path.join(dir, "problem.yaml")
  const problem = fs.existsSync(own) ? own : path.join(base, "_include", "default_problem.yaml")
  // The reference runs were mapper runs: the mapping they report (and were evaluated with) is the
  // mapper's, which for several exercises differs from the exercise's own mapping.yaml.
  const mapping = path.join(out, "timeloop-mapper.map.yaml")
  return {
    id,
    kind: exercise ? "exercise" : "design",
    inputs: [path.join(dir, "arch.yaml"), problem, mapping, path.join(out, "timeloop-mapper.ERT.yaml")],
    stats: path.join(out, "timeloop-mapper.stats.txt"),
  }
}
