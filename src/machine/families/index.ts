import type { AcceleratorFamily } from "../../hardware/index.ts"
import type { FamilyModel } from "../family.ts"
import { neuromorphic } from "./neuromorphic.ts"
import { oneSided } from "./one-sided.ts"
import { rowStationary } from "./row-stationary.ts"
import { denseSystolic, nmTraining } from "./systolic.ts"
import { twoSided } from "./two-sided.ts"

/** One record per accelerator family, one table: the only place a family is looked up. */
export const families: Readonly<Record<AcceleratorFamily, FamilyModel>> = {
  "dense-systolic": denseSystolic,
  "nm-training": nmTraining,
  "row-stationary": rowStationary,
  "one-sided-skipping": oneSided,
  "two-sided-skipping": twoSided,
  neuromorphic,
}
