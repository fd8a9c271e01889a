/**
 * Progress on a terminal. On a TTY one line redraws in place; elsewhere (CI logs, pipes) a line is
 * printed only when the integer percentage crosses a tenth, so logs stay short.
 */
export interface Progress {
  readonly update: (done: number, detail?: string) => void
  readonly finish: (detail?: string) => void
}

export const progress = (label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress => {
  const tty = stream.isTTY === true
  const started = Date.now()
  let lastTenth = -1
  const line = (done: number, detail: string | undefined): string => {
    const fraction = total > 0 ? Math.min(1, done / total) : 1
    const width = 24
    const filled = Math.round(fraction * width)
    const seconds = ((Date.now() - started) / 1000).toFixed(1)
    return `${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${seconds}s${detail ? `  ${detail}` : ""}`
  }
  return {
    update: (done, detail) => {
      if (tty) stream.write(`\r\x1b[2K${line(done, detail)}`)
      else {
        const tenth = total > 0 ? Math.floor(Math.min(1, done / total) * 10) : 10
        if (tenth > lastTenth) {
          lastTenth = tenth
          stream.write(`${line(done, detail)}\n`)
        }
      }
    },
    finish: (detail) => stream.write(`${tty ? "\r\x1b[2K" : ""}${line(total, detail)}\n`),
  }
}

/** A one-off status line. */
export const say = (text: string, stream: NodeJS.WriteStream = process.stderr): void => {
  stream.write(`${text}\n`)
}
