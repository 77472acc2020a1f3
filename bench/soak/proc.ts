/**
 * What /proc says about a process or the machine, for the soak bench: CPU, RSS and where the memory
 * is, per-thread scheduling, machine-wide CPU by kind.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Clock ticks per second of /proc times (USER_HZ). */
export const CLK_TCK = 100;

/** CPU seconds (all threads), peak and current RSS (MB) of a process. */
export function usage(pid: number): { cpuS: number; hwmMb: number; rssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuS = (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) / 1024;
  return { cpuS, hwmMb: kb('VmHWM'), rssMb: kb('VmRSS') };
}

/**
 * Resident MB of a process by kind of mapping, read from /proc/PID/smaps by the bench (the runner does
 * nothing for it): the node binary, V8's heap pages (256 KB anonymous maps, of every isolate), malloc's
 * main heap ([heap]; the service runs with MALLOC_ARENA_MAX=1, so every thread allocates there or in
 * mmaps of its own), other anonymous maps (large allocations: typed arrays, the reading thread's ring,
 * thread stacks), other files.
 */
export function residentOf(pid: number): Record<string, number> {
  const kinds: Record<string, number> = { node: 0, v8Pages: 0, mallocHeap: 0, otherAnon: 0, files: 0 };
  let kind = 'files';
  let exe = '';
  try {
    exe = readlinkSync(`/proc/${pid}/exe`);
    for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
      const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
      if (head) {
        const name = head[3]!;
        const size = parseInt(head[2]!, 16) - parseInt(head[1]!, 16);
        kind = name === exe ? 'node' : name === '[heap]' ? 'mallocHeap' : name === '' ? (size === 262144 ? 'v8Pages' : 'otherAnon') : 'files';
        continue;
      }
      const rss = /^Rss:\s+(\d+) kB/.exec(line);
      if (rss) kinds[kind]! += Number(rss[1]) / 1024;
    }
  } catch {
    /* ended */
  }
  for (const k of Object.keys(kinds)) kinds[k] = Math.round(kinds[k]!);
  return kinds;
}


/** Per thread of a process: name, CPU s and s waiting on a run queue (/proc/PID/task/TID/schedstat). */
export function threadSched(pid: number): Map<string, { name: string; cpuS: number; waitS: number }> {
  const out = new Map<string, { name: string; cpuS: number; waitS: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const [cpu, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ').map(Number);
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const nice = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16];
      out.set(tid, { name: `${readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim()}(nice ${nice})`, cpuS: cpu! / 1e9, waitS: wait! / 1e9 });
    } catch {
      /* ended */
    }
  }
  return out;
}

/** The threads that ran during the flood: CPU s / s waiting for a CPU (scheduling delay), busiest first. */
export function schedText(before: ReturnType<typeof threadSched>, after: ReturnType<typeof threadSched>): string {
  const rows = [...after].map(([tid, a]) => {
    const b = before.get(tid) ?? { cpuS: 0, waitS: 0 };
    return { name: a.name, cpu: a.cpuS - b.cpuS, wait: a.waitS - b.waitS };
  });
  return rows
    .filter((r) => r.cpu > 0.05)
    .sort((x, y) => y.cpu - x.cpu)
    .map((r) => `${r.name} ${r.cpu.toFixed(1)}/${r.wait.toFixed(2)}`)
    .join(', ');
}


/** Machine-wide CPU seconds by kind (/proc/stat's first line). */
export function cpuStat(): { system: number; softirq: number; steal: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { system: f[2]! / CLK_TCK, softirq: f[6]! / CLK_TCK, steal: f[7]! / CLK_TCK };
}
export const cpuStatText = (a: ReturnType<typeof cpuStat>, b: ReturnType<typeof cpuStat>) =>
  `machine over the flood: softirq ${(b.softirq - a.softirq).toFixed(1)} s, system ${(b.system - a.system).toFixed(1)} s, steal ${(b.steal - a.steal).toFixed(1)} s`;
