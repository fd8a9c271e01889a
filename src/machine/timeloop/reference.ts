/**
 * Timeloop's and Sparseloop's own report (`timeloop-mapper.stats.txt`), read back so Spade's
 * numbers can be held against it: per level its fields, per data space its counts, and the summary
 * (cycles, energy, energy per compute by level).
 */
export interface ReferenceLevel {
  readonly name: string
  readonly fields: ReadonlyMap<string, string>
  readonly spaces: ReadonlyMap<string, ReadonlyMap<string, string>>
}

export interface ReferenceStats {
  readonly levels: ReadonlyArray<ReferenceLevel>
  readonly cycles: number
  readonly energyUj: number
  /** fJ per (actual) compute for each level and "Total", as the summary lists them. */
  readonly femtojoulesPerCompute: ReadonlyMap<string, number>
  readonly computes: number
}

/** A level's energy (or "Total"), pJ, from the summary's per-compute table: more digits than "Energy: x uJ". */
export const referenceEnergyPj = (ref: ReferenceStats, level = "Total"): number =>
  ((ref.femtojoulesPerCompute.get(level) ?? Number.NaN) * ref.computes) / 1000

/**
 * Per-rank format counts Sparseloop prints under `key` (index 0 the innermost rank, [metadata,
 * payload] units); empty where it prints "0" (no rank touched) or nothing.
 */
export const formatCountsOf = (fields: ReadonlyMap<string, string>, key: string): Array<[number, number]> => {
  const out: Array<[number, number]> = []
  for (let r = 0; ; r++) {
    const v = fields.get(`${key} rank ${r}`)
    if (v === undefined) return out
    const [md, pl] = v.split(" ").map(Number) as [number, number]
    out.push([md, pl])
  }
}

/** The number a field starts with ("0.25 pJ" → 0.25), NaN where there is none. */
export const numberOf = (s: string | undefined): number => (s === undefined ? Number.NaN : Number.parseFloat(s))

export const parseReferenceStats = (text: string): ReferenceStats => {
  const lines = text.split("\n")
  const levels: ReferenceLevel[] = []
  let level: { name: string; fields: Map<string, string>; spaces: Map<string, Map<string, string>> } | undefined
  let space: Map<string, string> | undefined
  let fieldHeader: string | undefined
  let inStats = false
  let summary = false
  const perCompute = new Map<string, number>()
  let cycles = Number.NaN
  let energyUj = Number.NaN
  let computes = Number.NaN
  // Sparseloop prints an energy table per algorithmic compute and one per actual compute; the
  // latter (Timeloop's only table) is the one read.
  let table: "none" | "algorithmic" | "actual" = "none"
  for (const line of lines) {
    const header = /^=== (.+) ===$/.exec(line)
    if (header !== null && !summary) {
      level = { name: header[1]!, fields: new Map(), spaces: new Map() }
      levels.push(level)
      space = undefined
      inStats = false
      continue
    }
    if (/^(Summary Stats|Operational Intensity Stats)/.test(line)) {
      summary = true
      level = undefined
    }
    if (summary) {
      const c = /^Cycles: (\d+)/.exec(line)
      if (c !== null) cycles = Number(c[1])
      const e = /^Energy: ([\d.]+) uJ/.exec(line)
      if (e !== null) energyUj = Number(e[1])
      const n = /^(Algorithmic |Actual )?Computes = (\d+)/.exec(line)
      if (n !== null && n[1] !== "Algorithmic ") computes = Number(n[2])
      if (/^fJ\/Algorithmic-Compute/.test(line)) table = "algorithmic"
      else if (/^fJ\/Compute/.test(line)) table = "actual"
      const f = /^ {4}(\S+)\s+= ([\d.]+)$/.exec(line)
      if (f !== null && table === "actual") perCompute.set(f[1]!, Number(f[2]))
      continue
    }
    if (level === undefined) continue
    if (/^ {4}STATS/.test(line)) {
      inStats = true
      continue
    }
    const sp = /^ {4}(\S[^:]*):\s*$/.exec(line)
    if (inStats && sp !== null) {
      space = new Map()
      level.spaces.set(sp[1]!, space)
      continue
    }
    // Sparseloop prints per-rank format counts under a header line without a value:
    // "Actual scalar format reads (per-instance)" then "Rank 1 (metadata, payload): (0,  18)".
    const rank = /^ {12}Rank (\d+) \(metadata, payload\): \((\d+),\s*(\d+)\)/.exec(line)
    if (inStats && space !== undefined && rank !== null && fieldHeader !== undefined) {
      space.set(`${fieldHeader} rank ${rank[1]}`, `${rank[2]} ${rank[3]}`)
      continue
    }
    const bare = /^ {8}(\S[^:]*?)\s*$/.exec(line)
    if (inStats && space !== undefined && bare !== null) {
      fieldHeader = bare[1]!
      continue
    }
    const kv = /^\s+(\S[^:]*?)\s*: (.*)$/.exec(line)
    if (kv === null) continue
    const [, key, value] = kv as unknown as [string, string, string]
    if (inStats && space !== undefined && /^ {8}\S/.test(line)) space.set(key, value.trim())
    else level.fields.set(inStats ? `stats.${key}` : key, value.trim())
  }
  return { levels, cycles, energyUj, femtojoulesPerCompute: perCompute, computes }
}
