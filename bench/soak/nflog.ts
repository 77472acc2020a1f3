/**
 * The soak bench's NFLOG experiment (SOAK_NFLOG, issue 16 item 1; see soak.bench.ts's header): NFLOG
 * twins of the LOG rules, the readers of the group (nflog-count.c, a pipe to Node, ulogd2), and the
 * latency join against kmsg-count.c's samples.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Lab } from '../../tests/support/netns.ts';
import { usage } from './proc.ts';

export const NFLOG_GROUP = Number(process.env.SOAK_NFLOG ?? 0);
export const NFLOG_BUF = Number(process.env.SOAK_NFLOG_BUF ?? 8 << 20);
export const NFLOG_ONLY = NFLOG_GROUP > 0 && process.env.SOAK_NFLOG_ONLY === '1';
export const NFLOG_LOGONLY = NFLOG_GROUP > 0 && process.env.SOAK_NFLOG_LOGONLY === '1';
export const NFLOG_PLAIN = NFLOG_GROUP > 0 && (process.env.SOAK_NFLOG_PLAIN === '1' || NFLOG_ONLY || NFLOG_LOGONLY);
export const NFLOG_STALL_MS = Number(process.env.SOAK_NFLOG_STALL_MS ?? 0);
export const NFLOG_ULOGD = NFLOG_PLAIN && process.env.SOAK_NFLOG_READER === 'ulogd';
export const NFLOG_NODE = NFLOG_PLAIN && process.env.SOAK_NFLOG_READER === 'node';
/** SOAK_SOURCE=nflog: the runner reads its own NFLOG group (logs.source "nflog") instead of /dev/kmsg. */
export const SOURCE_NFLOG = process.env.SOAK_SOURCE === 'nflog';

/**
 * SOAK_SOURCE=nflog: each LOG rule of the filter table (v4; the flood is v4) replaced by its NFLOG
 * twin in the runner's group, as the logging block's nflog variant logs (same match and prefix,
 * 128 bytes, threshold 1): no kernel records, the runner's reader gets them all. Again after each
 * runner start (its set backend reloads ufw, which rewrites the rules). Returns the rules replaced.
 */
export async function nflogSourceRules(lab: Lab, group: number): Promise<number> {
  const out = await lab.run(lab.fwNs, ['iptables-save', '-t', 'filter']);
  let replaced = 0;
  const lines = out.split('\n').map((line) => {
    const m = /^(-A \S+.*?) -j LOG --log-prefix "([^"]*)"(.*)$/.exec(line);
    if (!m) return line;
    replaced++;
    return `${m[1]} -j NFLOG --nflog-prefix "${m[2]!.trim()}" --nflog-group ${group} --nflog-size 128 --nflog-threshold 1`;
  });
  if (replaced) await lab.run(lab.fwNs, ['iptables-restore'], { input: lines.join('\n') });
  return replaced;
}

/** The runner's NFLOG reader (its child portcullis-nflog): pid, or null. */
export function readerPidOf(runnerPid: number): number | null {
  try {
    for (const tid of readdirSync(`/proc/${runnerPid}/task`)) {
      for (const child of readFileSync(`/proc/${runnerPid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) {
        if (readFileSync(`/proc/${child}/comm`, 'utf8').trim() === 'portcullis-nflo') return Number(child);
      }
    }
  } catch {
    // the runner is gone
  }
  return null;
}

/** Resolves when the child has exited — at once when it already has (a listener added then would wait for good). */
export function exitOf(child: ChildProcess): Promise<unknown> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', r));
}

/** Sum of the packet counters of every NFLOG rule (filter table, v4) in the firewall namespace. */
export async function nflogPackets(lab: Lab): Promise<number> {
  const out = await lab.run(lab.fwNs, ['iptables-save', '-c', '-t', 'filter']);
  let sum = 0;
  for (const line of out.split('\n')) {
    const m = / -j NFLOG\b/.test(line) && /^\[(\d+):\d+\]/.exec(line);
    if (m) sum += Number(m[1]);
  }
  return sum;
}

/**
 * SOAK_NFLOG: an NFLOG twin before each LOG rule of the filter table (v4; the flood is v4), same
 * match and prefix; with SOAK_NFLOG_ONLY the LOG rule itself goes. Again after each runner start
 * (its set backend reloads ufw, which rewrites the rules); twins already there are kept as they are.
 */
export async function addNflogRules(lab: Lab): Promise<number> {
  if (NFLOG_LOGONLY) return 0;
  const out = await lab.run(lab.fwNs, ['iptables-save', '-t', 'filter']);
  if (/ -j NFLOG /.test(out)) return (out.match(/ -j NFLOG /g) ?? []).length;
  let twins = 0;
  const lines = out.split('\n').flatMap((line) => {
    const m = /^(-A \S+.*?) -j LOG --log-prefix "([^"]*)"(.*)$/.exec(line);
    if (!m) return [line];
    twins++;
    const twin = `${m[1]} -j NFLOG --nflog-prefix "${m[2]}" --nflog-group ${NFLOG_GROUP} --nflog-size 128 --nflog-threshold 1`;
    return NFLOG_ONLY ? [twin] : [twin, line];
  });
  await lab.run(lab.fwNs, ['iptables-restore'], { input: lines.join('\n') });
  return twins;
}


export interface NflogReader {
  /** SIGTERM, then its summary line parsed. */
  stop(): Promise<{ msgs: number; lost: number; enobufs: number; text: string }>;
  samples: string;
  pid: number;
}

/** nflog-count inside the firewall namespace, started and bound before it resolves. */
export async function startNflog(lab: Lab, counter: string, dir: string): Promise<NflogReader> {
  const samples = path.join(dir, `nflog-${Date.now()}.txt`);
  const child = spawn('/usr/sbin/ip', ['netns', 'exec', lab.fwNs, counter, String(NFLOG_GROUP), String(NFLOG_BUF), samples], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += String(d)));
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on('line', (l) => (l.startsWith('nflog-count: group') ? resolve() : process.stderr.write(`${l}\n`)));
    child.on('exit', (code) => reject(new Error(`nflog-count exited (${code})`)));
  });
  await ready;
  return {
    samples,
    pid: child.pid!,
    stop: async () => {
      const exited = exitOf(child);
      child.kill('SIGTERM');
      await exited;
      const m = /NFLOG msgs (\d+) lost (\d+) enobufs (\d+) seqgaps (\d+) prefixes (\S*) lat_us p50 (\S+) p99 (\S+) max (\S+) cpu_us (\d+) (\d+) rcvbuf (\d+)/.exec(out);
      if (!m) return { msgs: NaN, lost: NaN, enobufs: NaN, text: `nflog-count said: ${out.trim()}` };
      const [msgs, lost, enobufs, gaps] = [m[1], m[2], m[3], m[4]].map(Number) as [number, number, number, number];
      const cpuS = (Number(m[9]) + Number(m[10])) / 1e6;
      return {
        msgs,
        lost,
        enobufs,
        text:
          `NFLOG (rcvbuf ${Number(m[11]) >= 1048576 ? `${(Number(m[11]) / 1048576).toFixed(0)} MiB` : `${(Number(m[11]) / 1024).toFixed(0)} KiB`}): received ${msgs} (${m[5]}), lost ${lost} in ${gaps} gaps, ENOBUFS ${enobufs}` +
          ` | latency send→NFLOG reader p50 ${m[6]} µs, p99 ${m[7]} µs, max ${m[8]} µs | reader CPU ${cpuS.toFixed(2)} s (user ${(Number(m[9]) / 1e6).toFixed(2)}, sys ${(Number(m[10]) / 1e6).toFixed(2)}) = ${((cpuS / Math.max(1, msgs)) * 1e6).toFixed(2)} CPU-s/M`,
      };
    },
  };
}

/** SOAK_NFLOG_READER=node: nflog-count piping the messages to bench/soak/nflog-node.mjs. */
export async function startNodePipe(lab: Lab, counter: string): Promise<NflogReader> {
  const reader = spawn('/usr/sbin/ip', ['netns', 'exec', lab.fwNs, counter, String(NFLOG_GROUP), String(NFLOG_BUF), '-', 'pipe'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const consumer = spawn(process.execPath, [path.join(import.meta.dirname, 'nflog-node.mjs')], { stdio: [reader.stdout!, 'pipe', 'inherit'] });
  let readerOut = '';
  let consumerOut = '';
  consumer.stdout!.on('data', (d: Buffer) => (consumerOut += String(d)));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: reader.stderr! }).on('line', (l) => {
      if (l.startsWith('nflog-count: group')) resolve();
      else readerOut += `${l}\n`;
    });
    reader.on('exit', (code) => reject(new Error(`nflog-count exited (${code})`)));
  });
  return {
    samples: '',
    pid: reader.pid!,
    stop: async () => {
      const done = Promise.all([exitOf(reader), exitOf(consumer)]);
      reader.kill('SIGTERM');
      await done;
      const r = /NFLOG msgs (\d+) lost (\d+) enobufs (\d+) .* cpu_us (\d+) (\d+) rcvbuf (\d+)/.exec(readerOut);
      const c = /NODE msgs (\d+) lost (\d+) prefixes (\S*) lat_us p50 (\S+) p99 (\S+) max (\S+) cpu_us (\d+) (\d+)/.exec(consumerOut);
      if (!r || !c) return { msgs: NaN, lost: NaN, enobufs: NaN, text: `reader said: ${readerOut.trim()}; node said: ${consumerOut.trim()}` };
      const msgs = Number(c[1]);
      const readerS = (Number(r[4]) + Number(r[5])) / 1e6;
      const nodeS = (Number(c[7]) + Number(c[8])) / 1e6;
      const perM = (s: number) => ((s / Math.max(1, msgs)) * 1e6).toFixed(2);
      return {
        msgs,
        lost: Number(c[2]),
        enobufs: Number(r[3]),
        text:
          `NFLOG through a pipe to Node (rcvbuf ${(Number(r[6]) / 1048576).toFixed(0)} MiB): reader received ${r[1]}, Node decoded ${msgs} (${c[3]}), lost ${c[2]}, ENOBUFS ${r[3]}` +
          ` | latency send→Node p50 ${c[4]} µs, p99 ${c[5]} µs, max ${c[6]} µs | CPU: reader ${readerS.toFixed(2)} s = ${perM(readerS)} CPU-s/M, Node ${nodeS.toFixed(2)} s (user ${(Number(c[7]) / 1e6).toFixed(2)}, sys ${(Number(c[8]) / 1e6).toFixed(2)}) = ${perM(nodeS)} CPU-s/M`,
      };
    },
  };
}

/** SOAK_NFLOG_READER=ulogd: ulogd2 on the group inside the firewall namespace, JSON lines to a file. */
export async function startUlogd(lab: Lab, dir: string): Promise<NflogReader> {
  const so = '/usr/lib/x86_64-linux-gnu/ulogd';
  const json = path.join(dir, `ulogd-${Date.now()}.json`);
  const conf = path.join(dir, 'ulogd.conf');
  writeFileSync(
    conf,
    `[global]\nlogfile="${dir}/ulogd.log"\nloglevel=3\n` +
      ['inppkt_NFLOG', 'raw2packet_BASE', 'filter_IFINDEX', 'filter_IP2STR', 'filter_HWHDR', 'output_JSON'].map((p) => `plugin="${so}/ulogd_${p}.so"\n`).join('') +
      'stack=log1:NFLOG,base1:BASE,ifi1:IFINDEX,ip2str1:IP2STR,mac2str1:HWHDR,json1:JSON\n' +
      `[log1]\ngroup=${NFLOG_GROUP}\nnetlink_socket_buffer_size=${NFLOG_BUF}\nnetlink_socket_buffer_maxsize=${NFLOG_BUF}\nnetlink_qthreshold=1\n` +
      `[json1]\nsync=0\nfile="${json}"\n`,
  );
  const child = spawn('/usr/sbin/ip', ['netns', 'exec', lab.fwNs, '/usr/sbin/ulogd', '-c', conf], { stdio: 'ignore' });
  await sleep(1000);
  if (child.exitCode !== null) throw new Error(`ulogd exited: ${readFileSync(`${dir}/ulogd.log`, 'utf8').slice(-500)}`);
  return {
    samples: '',
    pid: child.pid!,
    stop: async () => {
      const { cpuS } = usage(child.pid!);
      const exited = exitOf(child);
      child.kill('SIGTERM');
      await exited;
      const lines = Number(execFileSync('wc', ['-l', json], { encoding: 'utf8' }).split(' ')[0]);
      const nobufs = (readFileSync(`${dir}/ulogd.log`, 'utf8').match(/losing events|Maximum buffer size/gi) ?? []).length;
      return {
        msgs: lines,
        lost: NaN,
        enobufs: nobufs,
        text: `ulogd2 (NFLOG→BASE→IFINDEX→IP2STR→HWHDR→JSON file, buffer ${NFLOG_BUF} bytes): wrote ${lines} JSON lines (those it had flushed at SIGTERM), "losing events" in its log ${nobufs} | ulogd CPU ${cpuS.toFixed(2)} s = ${((cpuS / Math.max(1, lines)) * 1e6).toFixed(2)} CPU-s/M`,
      };
    },
  };
}

/**
 * Latency from the generator's send to a kmsg-count read, per sampled "[UFW BLOCK]" record: the send
 * time of the same packet (SRC and DPT) from nflog-count's sample (the generator's stamp).
 */
export function kmsgLatency(nflogSamples: string, kmsgSamples: string): string {
  const sent = new Map<string, number>();
  for (const l of readFileSync(nflogSamples, 'utf8').split('\n')) {
    const [src, dpt, id, s] = l.split(' ');
    if (src && dpt && id && s) sent.set(`${src} ${dpt} ${id}`, Number(s));
  }
  const lat: number[] = [];
  for (const l of readFileSync(kmsgSamples, 'utf8').split('\n')) {
    const [src, dpt, id, r] = l.split(' ');
    const s = sent.get(`${src} ${dpt} ${id}`);
    if (s === undefined || !r) continue;
    lat.push(Number((BigInt(r) - BigInt(s)) & 0xffffffffn));
  }
  lat.sort((x, y) => x - y);
  if (lat.length === 0) return 'latency send→kmsg reader: no sample matched';
  return `latency send→kmsg reader p50 ${lat[lat.length >> 1]} µs, p99 ${lat[Math.floor(lat.length * 0.99)]} µs, max ${lat.at(-1)} µs (${lat.length} samples)`;
}

