/**
 * The service with the REAL engine, SQLite store, helper dispatcher and set backend; only `ipset`
 * is faked (an in-memory set that refuses timeouts over its maximum, as the kernel does) and the
 * helper's audit log is in memory. For tests of what reaches the firewall and the audit log.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dispatch, type ApiMethod, type ApiResult } from '../../electron/shared/api.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import { MAX_BAN_SEC } from '../../electron/shared/helper-protocol.ts';
import { SettingsSchema } from '../../electron/shared/settings.ts';
import { ScanEngine } from '../../electron/engine/engine.ts';
import { parseRecord } from '../../electron/engine/parse/index.ts';
import { SqliteStore } from '../../electron/engine/store/sqlite.ts';
import { serviceStoreOf, StoreSettingsRepo } from '../../electron/app/adapters.ts';
import { callViaDispatcher, firewallPortOf } from '../../electron/app/helper-adapter.ts';
import { PortcullisService } from '../../electron/app/service.ts';
import * as firewallModule from '../../electron/helper/firewall/index.ts';
import { createHelperDispatcher } from '../../electron/helper/ops.ts';
import { memoryAuditLog } from '../../electron/helper/audit.ts';
import type { Exec } from '../../electron/helper/exec.ts';
import { FakeHelper, PushSource } from './fakes.ts';

export const BOOT = 1_800_000_000_000;
export const HOST = '192.0.2.10';
export const DAY = 86_400_000;
let seq = 100;
export const kmsg = (src: string, dpt: number, ms: number) =>
  `4,${seq++},${ms * 1000},-;[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=${src} DST=${HOST} LEN=44 TOS=0x00 PREC=0x00 TTL=241 ID=1 PROTO=TCP SPT=40000 DPT=${dpt} WINDOW=1024 RES=0x00 SYN URGP=0`;

export type HostInfoFn = () => Promise<{ addresses: string[]; interfaces: string[]; gateways: string[] }>;
export const HOME: HostInfoFn = async () => ({ addresses: [HOST], interfaces: ['eth0'], gateways: ['192.0.2.1'] });

/** `ipset` as the kernel answers it: elements with a timeout (0 = none), timeouts over the maximum refused. */
export class FakeIpset {
  sets = new Map<string, Map<string, number>>();
  argv: string[][] = [];
  exec: Exec = async (bin, args, opts) => {
    if (bin === 'ipset' && args[0] === 'restore') {
      // One batch (`ipset restore -exist`, lines on stdin): each line runs as its own command would,
      // in order, and the first failure stops the rest, as ipset restore does.
      const lines = String(opts?.input ?? '').split('\n').filter((l) => l.trim() !== '');
      for (const [i, line] of lines.entries()) {
        const r = await this.exec('ipset', line.split(' '));
        if (r.code !== 0) return { code: 1, stdout: '', stderr: `${r.stderr}\nError in line ${i + 1}: ${r.stderr}` };
      }
      return { code: 0, stdout: '', stderr: '' };
    }
    this.argv.push([bin, ...args]);
    if (bin !== 'ipset') return { code: 0, stdout: '', stderr: '' };
    const [cmd, ...rest] = args;
    if (cmd === 'add') {
      const [, name, ip] = rest; // -exist NAME IP timeout N comment C
      const t = Number(rest[rest.indexOf('timeout') + 1]);
      if (t > MAX_BAN_SEC) return { code: 1, stdout: '', stderr: `ipset v7.19: Syntax error: '${t}' is out of range 0-${MAX_BAN_SEC}` };
      this.set(name!).set(ip!, t);
    } else if (cmd === 'del') this.set(rest[1]!).delete(rest[2]!);
    else if (cmd === 'save') {
      const name = rest[0]!;
      const lines = [...this.set(name)].map(([ip, t]) => `add ${name} ${ip} timeout ${t} comment "portcullis-ban"`);
      return { code: 0, stdout: lines.join('\n') + '\n', stderr: '' };
    }
    return { code: 0, stdout: '', stderr: '' };
  };
  private set(name: string): Map<string, number> {
    let s = this.sets.get(name);
    if (!s) this.sets.set(name, (s = new Map()));
    return s;
  }
  /** Timeout of `ip` in any set (0: none), undefined when absent. */
  timeoutOf(ip: string): number | undefined {
    for (const s of this.sets.values()) if (s.has(ip)) return s.get(ip);
    return undefined;
  }
}

const dirs: string[] = [];
/** Removes the databases tempDb() made (call from afterEach). */
export function removeTempDbs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export function build(db: string, clock: ManualClock, ipset: FakeIpset, settings: Record<string, unknown> = {}, hostInfo: HostInfoFn = HOME) {
  const raw = new SqliteStore({ path: db, clock });
  const store = serviceStoreOf(raw, clock);
  const repo = new StoreSettingsRepo(store, db);
  if (Object.keys(settings).length) repo.save(SettingsSchema.parse(settings));
  const audit = memoryAuditLog();
  const dispatcher = createHelperDispatcher({
    exec: ipset.exec,
    // No long-lived `ipset restore` coprocess: it would run the real ipset in this (the machine's own)
    // network namespace. Without it the set backend sends each batch through exec, i.e. this fake.
    firewall: { ...firewallModule, ipsetRestoreSession: undefined },
    audit,
    readConfig: async () => null,
    exists: async () => true,
    who: 'test',
  });
  const parseOpts = { framing: 'kmsg' as const, bootTimeMs: BOOT };
  const source = new PushSource();
  const logs: string[] = [];
  const service = new PortcullisService({
    log: (level, message) => void logs.push(`${level}: ${message}`),
    clock,
    settingsRepo: repo,
    createEngine: (o, sink) => new ScanEngine({ ...o, parse: parseOpts }, sink),
    parseLine: (l) => parseRecord(l, parseOpts),
    store,
    source,
    firewall: firewallPortOf(callViaDispatcher((r) => dispatcher.handle(r)), 'set', () => clock.now()),
    helper: new FakeHelper(),
    hostInfo,
    tickMs: 3_600_000,
  });
  const call = async <M extends ApiMethod>(m: M, p: unknown = {}): Promise<ApiResult<M>> => {
    const r = await dispatch(service.handlers(), m, p);
    if (!r.ok) throw new Error(`${m}: ${r.error.code} ${r.error.message}`);
    return r.result as ApiResult<M>;
  };
  return { service, source, call, audit, logs, store: raw, close: () => dispatcher.close() };
}

export function tempDb(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pc-long-'));
  dirs.push(dir);
  return path.join(dir, 'db.sqlite');
}
