/**
 * Axis titles from field names. Config files and result rows carry units in their names
 * (`energyPj`, `clockGhz`, `dramBytes`), so a chart can state units without being told twice.
 */

const UNITS: ReadonlyArray<readonly [suffix: string, unit: string]> = [
  ["Pj", "pJ"],
  ["Nj", "nJ"],
  ["Uj", "µJ"],
  ["Mj", "mJ"],
  ["Ghz", "GHz"],
  ["Mhz", "MHz"],
  ["Ns", "ns"],
  ["Us", "µs"],
  ["Ms", "ms"],
  ["Seconds", "s"],
  ["Mw", "mW"],
  ["Watts", "W"],
  ["Bytes", "bytes"],
  ["Bits", "bits"],
  ["Words", "words"],
  ["Cycles", "cycles"],
  ["Pct", "%"],
  ["Percent", "%"],
]

const ACRONYMS: Readonly<Record<string, string>> = {
  dram: "DRAM",
  sram: "SRAM",
  mac: "MAC",
  macs: "MACs",
  pe: "PE",
  pes: "PEs",
  gemm: "GEMM",
  rf: "RF",
  noc: "NoC",
  nm: "N:M",
  ipc: "IPC",
  gflops: "GFLOP/s",
  id: "ID",
}

const words = (camel: string): string[] =>
  camel
    .replace(/[_-]+/g, " ")
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .trim()
    .split(/\s+/)
    .filter((w) => w !== "")

const phrase = (camel: string): string => {
  const ws = words(camel).map((w) => ACRONYMS[w.toLowerCase()] ?? w.toLowerCase())
  const text = ws.join(" ")
  return text.charAt(0).toUpperCase() + text.slice(1)
}

/** `energyPj` -> "Energy (pJ)", `dramBytes` -> "DRAM (bytes)", `cycles` -> "Cycles". */
export const fieldTitle = (field: string): string => {
  for (const [suffix, unit] of UNITS) {
    if (field.length > suffix.length && field.endsWith(suffix)) {
      return `${phrase(field.slice(0, -suffix.length))} (${unit})`
    }
  }
  return phrase(field)
}
