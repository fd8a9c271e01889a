#!/usr/bin/env node
// The README's picture of a report, taken the way a reader sees it: the HTML opened in Debian's
// chromium (which `npm test` installs), its charts drawn by the report's own bundled Vega.
//   npm run screenshot -- [reports/default.html] [reports/screenshot-default.png] [heading to start at]
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { chromium } from "playwright-core"

const [input = "reports/default.html", output = "reports/screenshot-default.png", heading] = process.argv.slice(2)
const CHROMIUM = "/usr/bin/chromium"
const fail = (message) => {
  process.stderr.write(`spade: ${message}\n`)
  process.exit(1)
}
if (!fs.existsSync(input)) fail(`${input}: no such report (run the experiment first, e.g. npm start)`)
if (!fs.existsSync(CHROMIUM)) fail(`${CHROMIUM}: not installed (apt-get install chromium, or run npm test once)`)

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
})
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1500 }, deviceScaleFactor: 1 })
  const requests = []
  page.on("request", (r) => requests.push(r.url()))
  await page.goto(pathToFileURL(path.resolve(input)).href, { waitUntil: "load" })
  // Vega draws after load; wait for the first chart's marks rather than for a fixed time.
  await page.waitForSelector("svg .mark-rect path, svg .mark-line path, svg .mark-symbol path", { timeout: 30_000 })
  const foreign = requests.filter((u) => !u.startsWith("file:"))
  if (foreign.length > 0) fail(`${input}: the report asked the network for ${foreign[0]}`)
  let top = 0
  if (heading !== undefined) {
    const at = page.locator("h2", { hasText: heading }).first()
    if ((await at.count()) === 0) fail(`${input}: no section headed "${heading}"`)
    top = (await at.boundingBox()).y - 16
  }
  const height = await page.evaluate(() => document.documentElement.scrollHeight)
  fs.mkdirSync(path.dirname(output), { recursive: true })
  await page.screenshot({
    path: output,
    fullPage: true,
    clip: { x: 0, y: top, width: 1280, height: Math.min(1500, height - top) },
  })
  process.stdout.write(`${output}\n`)
} finally {
  await browser.close()
}
