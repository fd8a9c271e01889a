/**
 * Caches of work that repeats across the layers of a real network (ResNet-50 runs the same few
 * shapes dozens of times): each holds only what is a function of its key, so turning them off
 * (`setMachineCaches(false)`, what the test of them does) changes no result, only the time.
 */
let enabled = true
const clearers: Array<() => void> = []

/** Whether the machine model's caches are on (they are by default). */
export const machineCachesEnabled = (): boolean => enabled

/** Turn the caches on or off; either way they start empty. */
export const setMachineCaches = (on: boolean): void => {
  enabled = on
  clearMachineCaches()
}

/** Empty every cache (a bench timing a cold run does this first). */
export const clearMachineCaches = (): void => {
  for (const clear of clearers) clear()
}

/** Entries a cache holds before it starts over: bounds memory in long-running searches. */
const MAX_ENTRIES = 1 << 14

/** A string-keyed cache registered with the switch above. */
export const stringCache = <V>(): {
  readonly get: (key: string) => V | undefined
  readonly set: (key: string, v: V) => void
} => {
  const map = new Map<string, V>()
  clearers.push(() => map.clear())
  return {
    get: (key) => (enabled ? map.get(key) : undefined),
    set: (key, v) => {
      if (!enabled) return
      if (map.size >= MAX_ENTRIES) map.clear()
      map.set(key, v)
    },
  }
}

const fingerprints = new WeakMap<object, string>()

/** JSON of a plain-data object, computed once per object (objects the machine model never mutates). */
export const fingerprint = (x: object): string => {
  let s = fingerprints.get(x)
  if (s === undefined) fingerprints.set(x, (s = JSON.stringify(x)))
  return s
}
