/**
 * The service's CPU weight as its unit gives it (CPUWeight=), for a process the bench started by
 * hand: a cgroup of its own, made and removed here. Without systemd as PID 1 nothing else would put
 * the runner in one, and under contention the bench would measure a runner at the default weight —
 * what no installed host runs (issue 16 item 1: "as the package runs the service").
 *
 * cgroup v2 (a unified hierarchy at /sys/fs/cgroup): cpu.weight = CPUWeight. cgroup v1 (the cpu
 * controller at /sys/fs/cgroup/cpu): cpu.shares = CPUWeight × 1024 / 100, as systemd maps it there
 * (CPUWeight=1000 → 10240 against the default 1024). The group is made under the root of the
 * hierarchy, where the busy loops' sessions (autogroups) and the generator compete with it.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface CpuGroup {
  /** For a bench row: what the group is. */
  text: string;
  /** Moves the process and every descendant it has now into the group (later children inherit it). */
  add(pid: number): void;
  /** Moves whatever is left back to the root group and removes the group. */
  remove(): void;
}

const V2 = '/sys/fs/cgroup';
const V1 = '/sys/fs/cgroup/cpu';

/** The group, or why there is none (a row says so). */
export function cpuGroup(name: string, cpuWeight: number): CpuGroup | string {
  let root: string;
  let file: string;
  let value: number;
  if (existsSync(path.join(V2, 'cgroup.controllers'))) {
    if (!readFileSync(path.join(V2, 'cgroup.subtree_control'), 'utf8').split(/\s+/).includes('cpu')) return 'no cgroup: the cpu controller is not enabled under /sys/fs/cgroup';
    [root, file, value] = [V2, 'cpu.weight', cpuWeight];
  } else if (existsSync(path.join(V1, 'cpu.shares'))) {
    [root, file, value] = [V1, 'cpu.shares', Math.round((cpuWeight * 1024) / 100)];
  } else return 'no cgroup: no cpu controller mounted at /sys/fs/cgroup or /sys/fs/cgroup/cpu';
  const dir = path.join(root, name);
  try {
    mkdirSync(dir);
    writeFileSync(path.join(dir, file), String(value));
  } catch (e) {
    try {
      rmdirSync(dir);
    } catch {
      /* not made */
    }
    return `no cgroup: ${(e as Error).message}`;
  }
  return {
    text: `in a cgroup of its own at ${file} ${value} (the unit's CPUWeight=${cpuWeight})`,
    add(pid) {
      for (const p of [pid, ...descendants(pid)]) {
        try {
          writeFileSync(path.join(dir, 'cgroup.procs'), String(p));
        } catch {
          /* ended meanwhile */
        }
      }
    },
    remove() {
      for (let i = 0; i < 3; i++) {
        for (const p of readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
          try {
            writeFileSync(path.join(root, 'cgroup.procs'), p);
          } catch {
            /* ended meanwhile */
          }
        }
        try {
          rmdirSync(dir);
          return;
        } catch {
          /* a child was still moving */
        }
      }
      console.log(`soak: could not remove ${dir}`);
    },
  };
}

/** Every descendant of pid alive now (/proc/PID/stat's ppid). */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      parentOf.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* ended */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, parent] of parentOf) if (parent === p) {
      out.push(child);
      walk(child);
    }
  };
  walk(pid);
  return out;
}
