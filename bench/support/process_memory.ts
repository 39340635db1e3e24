/**
 * Peak resident memory of this process (Linux /proc): `resetPeakRss` starts a new measurement window
 * (writing 5 to /proc/self/clear_refs resets VmHWM), `peakRssMb` reads the high-water mark. Elsewhere both
 * degrade to the current RSS from Deno.memoryUsage().
 */
export function resetPeakRss(): void {
  try {
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
  } catch { /* not Linux or not permitted: the peak covers the whole process life */ }
}

export function peakRssMb(): number {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const match = /VmHWM:\s+(\d+) kB/.exec(status);
    if (match) return Number(match[1]) / 1024;
  } catch { /* fall through */ }
  return Deno.memoryUsage().rss / (1024 * 1024);
}
