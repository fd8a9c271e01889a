/**
 * Report stage: tidy result rows -> Vega-Lite charts -> one self-contained HTML file.
 * Nothing here fetches anything; a report opens offline and carries its own data.
 */
export { ReportError } from "./errors.ts"
export type { Aggregate, Cell, Row, Rows, SummarizeOptions } from "./rows.ts"
export type { CrowdedGroup } from "./rows.ts"
export { crowdedGroup, isNumericField, joinOn, paretoFront, summarize, where } from "./rows.ts"
export { fieldTitle } from "./fields.ts"
export type {
  BarChartOptions,
  HeatmapChartOptions,
  LineChartOptions,
  RooflineChartOptions,
  ScaleType,
  ScatterChartOptions,
} from "./charts.ts"
export {
  barChart,
  heatmapChart,
  lineChart,
  PARETO_FIELD,
  ROOF_FIELD,
  rooflineChart,
  scatterChart,
  spadeTheme,
} from "./charts.ts"
export { renderSvg } from "./svg.ts"
export type { CellFormat } from "./format.ts"
export { formatCell, formatNumber, snapNoise } from "./format.ts"
export type { FieldUnit } from "./units.ts"
export { fieldUnit, rescale, titleInUnit, unitFor } from "./units.ts"
export type { Provenance, ProvenanceOptions } from "./provenance.ts"
export { collectProvenance, gitState, machineOf, packageVersions, seedsIn } from "./provenance.ts"
export type { WrittenTable } from "./tables.ts"
export { columnsOfRows, rowsToArrow, rowsToCsv, writeFileAtomic, writeTables } from "./tables.ts"
export type { Report, ReportChart, ReportColumn, ReportData, ReportSection, ReportTable } from "./html.ts"
export { escapeHtml, readReportData, renderReport, REPORT_DATA_ID } from "./html.ts"
export { reportTables, saveReport, writeReport } from "./write.ts"
