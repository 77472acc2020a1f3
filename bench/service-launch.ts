/**
 * How the installed service starts, read from a checkout's own package files, so that the idle and
 * soak benches run `portcullis run`/`serve` exactly as the unit does: the node flags of the
 * wrapper's line for the service (build/server/portcullis: `run|serve)`, or its general line in a
 * checkout without one), and the environment the wrapper exports and the unit sets
 * (build/server/portcullis.service: Environment=). Reading them, not copying them, keeps a bench from
 * measuring flags the package no longer has — and lets a bench of an older checkout (IDLE_BASE,
 * SOAK_BASE) run that checkout as its own package ran it.
 *
 * BENCH_THIS_ENV / BENCH_THIS_FLAGS (`K=V,K=V` / `--a --b`): added to this checkout's launch only,
 * for a what-if against the same checkout as packaged.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface ServiceLaunch {
  /** Node's flags, before the entry. */
  flags: string[];
  env: Record<string, string>;
  /** The unit's CPUWeight= (null: it sets none); the soak bench gives the runner a cgroup of that weight. */
  cpuWeight: number | null;
  /**
   * The unit's CapabilityBoundingSet= (null: it sets none), in setpriv's spelling (`net_admin`): the
   * soak bench runs the runner under it, as the unit does. It decides, for one, whether the kmsg
   * reading thread may raise its own priority (CAP_SYS_NICE).
   */
  capabilities: string[] | null;
}

/** Node flags of the wrapper's exec line for the service, and the environment of wrapper and unit. */
export function serviceLaunch(root: string): ServiceLaunch {
  const wrapper = readFileSync(path.join(root, 'build/server/portcullis'), 'utf8').split('\n');
  const unit = readFileSync(path.join(root, 'build/server/portcullis.service'), 'utf8').split('\n');
  const env: Record<string, string> = {};
  const put = (kv: string) => {
    const at = kv.indexOf('=');
    if (at > 0) env[kv.slice(0, at)] = kv.slice(at + 1);
  };
  // Exports on lines of their own (top level, or in the service's branch); a conditional one, such
  // as the compile cache's, is not the service's.
  for (const l of wrapper) if (/^\s*export \w+=\S+$/.test(l)) put(l.trim().slice('export '.length));
  for (const l of unit) if (l.startsWith('Environment=')) for (const kv of l.slice('Environment='.length).split(' ')) if (kv) put(kv);
  const execs = wrapper.map((l) => l.trim()).filter((l) => l.startsWith('exec /usr/lib/portcullis/node ') && l.includes('bin/portcullis.js'));
  const caseAt = wrapper.findIndex((l) => /^\s*run\|serve\)/.test(l));
  const line = caseAt >= 0 ? wrapper.slice(caseAt).map((l) => l.trim()).find((l) => l.startsWith('exec '))! : execs.at(-1);
  if (!line) throw new Error(`${root}/build/server/portcullis: no exec line for the service`);
  const words = line.split(/\s+/);
  const flags = words.slice(2, words.findIndex((w) => w.endsWith('bin/portcullis.js')));
  const weight = unit.find((l) => l.startsWith('CPUWeight='))?.slice('CPUWeight='.length);
  const caps = unit.find((l) => l.startsWith('CapabilityBoundingSet='))?.slice('CapabilityBoundingSet='.length);
  return {
    flags,
    env,
    cpuWeight: weight ? Number(weight) : null,
    capabilities: caps === undefined ? null : caps.split(/\s+/).filter(Boolean).map((c) => c.replace(/^CAP_/, '').toLowerCase()),
  };
}

/** serviceLaunch(root) plus BENCH_THIS_ENV / BENCH_THIS_FLAGS. */
export function thisServiceLaunch(root: string): ServiceLaunch {
  const l = serviceLaunch(root);
  for (const kv of (process.env.BENCH_THIS_ENV ?? '').split(',')) {
    const at = kv.indexOf('=');
    if (at > 0) l.env[kv.slice(0, at)] = kv.slice(at + 1);
  }
  l.flags.push(...(process.env.BENCH_THIS_FLAGS ?? '').split(/\s+/).filter(Boolean));
  return l;
}

/** One line for a bench's header: what each checkout runs with. */
export function launchText(l: ServiceLaunch): string {
  return `node ${l.flags.join(' ')}; ${Object.entries(l.env)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}${l.cpuWeight !== null ? `; CPUWeight=${l.cpuWeight}` : ''}${l.capabilities !== null ? `; capabilities ${l.capabilities.join(',')}` : ''}`;
}
