// Small helpers of the fleet benchmark: bounded waits, percentiles, the progress line.
import { readdirSync, readFileSync } from 'node:fs';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until `cond()` is truthy, checking every `everyMs`; returns its value, or null after `timeoutMs`.
 * Timings are taken where frames arrive, not here, so the check interval adds no error to them.
 */
export async function waitUntil(cond, timeoutMs, everyMs = 2) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = cond();
    if (v) return v;
    if (performance.now() >= deadline) return null;
    await sleep(everyMs);
  }
}

/** Runs `fn(item, index)` over `items` with at most `limit` in flight. */
export async function pool(items, limit, fn) {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  });
  await Promise.all(workers);
}

/** The p-th percentile (nearest rank) of `list`, or null when empty. */
export function pct(list, p) {
  if (!list.length) return null;
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export const round1 = (n) => (n == null ? null : Math.round(n * 10) / 10);

/** One progress line on stderr, rewritten in place on a terminal, throttled to a line every 5 s otherwise. */
let lastPlain = 0;
export function progress(msg) {
  if (process.stderr.isTTY) {
    process.stderr.write(`\r\x1b[K${msg.slice(0, (process.stderr.columns || 120) - 1)}`);
  } else if (Date.now() - lastPlain > 5000) {
    lastPlain = Date.now();
    process.stderr.write(`${msg}\n`);
  }
}
export function progressDone(msg) {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  if (msg) process.stderr.write(`${msg}\n`);
  lastPlain = 0;
}

/**
 * CPU accounting (Linux /proc; null elsewhere): the machine's busy CPU time and the CPU time of this
 * process and its children (workerd), in seconds. cpuOthers(a, b) is how many cores everything else
 * on the machine kept busy between two snapshots: other work there makes the figures noisy.
 */
export function cpuSnapshot() {
  try {
    const hz = 100; // USER_HZ: 100 on every Linux the benchmark runs on
    const [, ...cols] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = cols.map(Number);
    const busy = (user + nice + system + irq + softirq + steal) / hz;
    const procs = new Map(); // pid -> {ppid, cpu}
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        // f[1] is the parent pid, f[11]/f[12] utime/stime (fields 4, 14, 15 of proc(5))
        procs.set(Number(pid), { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / hz });
      } catch {
        // gone meanwhile
      }
    }
    // This process and its descendants (workerd; under --wrangler-dev, wrangler and its workerd).
    const mine = (pid) => {
      for (let p = pid, hops = 0; p > 1 && hops < 10; p = procs.get(p)?.ppid ?? 0, hops++) if (p === process.pid) return true;
      return false;
    };
    let ours = 0;
    for (const [pid, { cpu }] of procs) if (mine(pid)) ours += cpu;
    return { at: performance.now(), busy, ours, idle: (idle + iowait) / hz };
  } catch {
    return null;
  }
}
export function cpuOthers(a, b) {
  if (!a || !b || b.at <= a.at) return null;
  const seconds = (b.at - a.at) / 1000;
  return {
    cores_busy: round1((b.busy - a.busy) / seconds),
    ours_cores: round1((b.ours - a.ours) / seconds),
    others_cores: round1(Math.max(0, (b.busy - a.busy) - (b.ours - a.ours)) / seconds),
  };
}
