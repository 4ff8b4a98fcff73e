import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** The raw stream protocol the ceilings are measured on. */
export const RAW = '/hyperemitter-bench/raw/1.0.0'

export interface Figure {
  name: string
  value: number
  unit: string
  ceiling?: number
  ratio?: number
  goal?: string
  [extra: string]: unknown
}

/** Prints one figure as a JSON line; the ratio is value / ceiling. */
export function report (figure: Figure): void {
  if (figure.ceiling != null && figure.ratio == null) figure.ratio = round(figure.value / figure.ceiling, 3)
  console.log(JSON.stringify(figure))
}

export function round (n: number, digits = 0): number {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

/**
 * The peak RSS from now until the returned function is called, in MB (MiB).
 * On Linux the kernel's high-water mark is reset here and read there: exact,
 * and no timer runs in the process measured (20 ms samples took about 0.6 %
 * of B's main thread in a catch-up). Elsewhere RSS is sampled every 20 ms.
 */
export function rssSampler (): () => number {
  if (resetPeakRss()) return () => round(readPeakRssKiB() / 1024, 1)
  let peak = process.memoryUsage.rss()
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()) }, 20)
  return () => {
    clearInterval(timer)
    peak = Math.max(peak, process.memoryUsage.rss())
    return round(peak / 1024 / 1024, 1)
  }
}

// Writing 5 to clear_refs sets VmHWM to the current RSS (Linux 4.0 and later).
function resetPeakRss (): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5')
    return readPeakRssKiB() > 0
  } catch {
    return false
  }
}

function readPeakRssKiB (): number {
  return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0)
}

export async function tempDir (): Promise<{ path: string, cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'hyperemitter-bench-'))
  return { path, cleanup: async () => { await rm(path, { recursive: true, force: true }) } }
}

/** The bytes of the files in a folder (a level db's folder: no subfolders). */
export async function folderBytes (path: string): Promise<number> {
  let total = 0
  for (const name of await readdir(path)) total += (await stat(join(path, name))).size
  return total
}

export function percentile (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
}

/**
 * CPU time (user + system, all threads) of this process and of child `pid`
 * from now until the returned function is called, in ms. The child's is read
 * from /proc (Linux, in clock ticks of 10 ms); elsewhere it is undefined.
 */
export function cpuMeter (pid?: number): () => { self: number, child?: number } {
  const self0 = process.cpuUsage()
  const child0 = pid == null ? undefined : procCpuMs(pid)
  return () => {
    const self = process.cpuUsage(self0)
    const child1 = pid == null ? undefined : procCpuMs(pid)
    return {
      self: (self.user + self.system) / 1000,
      child: child0 == null || child1 == null ? undefined : child1 - child0
    }
  }
}

function procCpuMs (pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // fields after the command name, which may hold spaces: utime and stime are the 12th and 13th
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return undefined
  }
}
