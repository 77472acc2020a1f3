/**
 * Bans longer than the kernel can count down (ipset's largest timeout, ~24.8 days) are enforced
 * (issue 9.2): the service, the real engine and SQLite store, the REAL helper dispatcher and set
 * backend, with only `ipset` faked (an in-memory set that refuses timeouts over its maximum, as the
 * kernel does). Such a ban goes into the set without a timeout and Portcullis removes it at its end
 * — while running, and after a restart (reconcile).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dispatch, type ApiMethod, type ApiResult } from '../../electron/shared/api.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import { MAX_BAN_SEC } from '../../electron/shared/helper-protocol.ts';
import { SettingsSchema, validateSettings } from '../../electron/shared/settings.ts';
import { ScanEngine } from '../../electron/engine/engine.ts';
import { parseRecord } from '../../electron/engine/parse/index.ts';
import { SqliteStore } from '../../electron/engine/store/sqlite.ts';
import { serviceStoreOf, StoreSettingsRepo } from '../../electron/headless/adapters.ts';
import { callViaDispatcher, firewallPortOf, firewallTimeoutSec } from '../../electron/headless/helper-adapter.ts';
import { PortcullisService } from '../../electron/headless/service.ts';
import * as firewallModule from '../../electron/helper/firewall/index.ts';
import { createHelperDispatcher } from '../../electron/helper/ops.ts';
import { memoryAuditLog } from '../../electron/helper/audit.ts';
import type { Exec } from '../../electron/helper/exec.ts';
import { FakeHelper, PushSource } from './fakes.ts';

const BOOT = 1_800_000_000_000;
const HOST = '192.0.2.10';
const DAY = 86_400_000;
let seq = 100;
const kmsg = (src: string, dpt: number, ms: number) =>
  `4,${seq++},${ms * 1000},-;[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=${src} DST=${HOST} LEN=44 TOS=0x00 PREC=0x00 TTL=241 ID=1 PROTO=TCP SPT=40000 DPT=${dpt} WINDOW=1024 RES=0x00 SYN URGP=0`;

/** `ipset` as the kernel answers it: elements with a timeout (0 = none), timeouts over the maximum refused. */
class FakeIpset {
  sets = new Map<string, Map<string, number>>();
  argv: string[][] = [];
  exec: Exec = async (bin, args) => {
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
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function build(db: string, clock: ManualClock, ipset: FakeIpset, settings: Record<string, unknown> = {}) {
  const raw = new SqliteStore({ path: db, clock });
  const store = serviceStoreOf(raw, clock);
  const repo = new StoreSettingsRepo(store, db);
  if (Object.keys(settings).length) repo.save(SettingsSchema.parse(settings));
  const dispatcher = createHelperDispatcher({
    exec: ipset.exec,
    firewall: firewallModule,
    audit: memoryAuditLog(),
    readConfig: async () => null,
    exists: async () => true,
    who: 'test',
  });
  const parseOpts = { framing: 'kmsg' as const, bootTimeMs: BOOT };
  const source = new PushSource();
  const service = new PortcullisService({
    clock,
    settingsRepo: repo,
    createEngine: (o, sink) => new ScanEngine({ ...o, parse: parseOpts }, sink),
    parseLine: (l) => parseRecord(l, parseOpts),
    store,
    source,
    firewall: firewallPortOf(callViaDispatcher((r) => dispatcher.handle(r)), 'set', () => clock.now()),
    helper: new FakeHelper(),
    hostInfo: async () => ({ addresses: [HOST], interfaces: ['eth0'], gateways: ['192.0.2.1'] }),
    tickMs: 3_600_000,
  });
  const call = async <M extends ApiMethod>(m: M, p: unknown = {}): Promise<ApiResult<M>> => {
    const r = await dispatch(service.handlers(), m, p);
    if (!r.ok) throw new Error(`${m}: ${r.error.code} ${r.error.message}`);
    return r.result as ApiResult<M>;
  };
  return { service, source, call, close: () => dispatcher.close() };
}

function tempDb(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pc-long-'));
  dirs.push(dir);
  return path.join(dir, 'db.sqlite');
}

describe('bans longer than the kernel timeout', () => {
  it('a timeout over ipset maximum becomes "no timeout"; shorter ones are kept, rounded up', () => {
    expect(firewallTimeoutSec(BOOT + 30 * DAY, BOOT)).toBeNull();
    expect(firewallTimeoutSec(BOOT + MAX_BAN_SEC * 1000, BOOT)).toBe(MAX_BAN_SEC);
    expect(firewallTimeoutSec(BOOT + 1500, BOOT)).toBe(2);
    expect(firewallTimeoutSec(null, BOOT)).toBeNull();
  });

  it('`portcullis ban --duration 30d` puts the host in the kernel set without a timeout, and Portcullis lifts it after 30 days', async () => {
    const clock = new ManualClock(BOOT + 10_000);
    const ipset = new FakeIpset();
    const t = build(tempDb(), clock, ipset);
    await t.service.start();
    try {
      const ban = await t.call('ban', { ip: '203.0.113.50', durationSec: 30 * 86400 });
      expect(ban.until).toBe(BOOT + 10_000 + 30 * DAY);
      expect(ipset.timeoutOf('203.0.113.50'), 'in the kernel set, without a timeout').toBe(0);
      clock.advance(30 * DAY - 1000);
      await t.service.tick();
      await t.service.idle();
      expect(ipset.timeoutOf('203.0.113.50'), 'still banned a second before its end').toBe(0);
      clock.advance(2000);
      await t.service.tick();
      await t.service.idle();
      expect(ipset.timeoutOf('203.0.113.50'), 'lifted at its end').toBeUndefined();
      const { active, history } = await t.call('getBans');
      expect(active).toEqual([]);
      expect(history[0]).toMatchObject({ ip: '203.0.113.50', ended: { why: 'expired' } });
    } finally {
      await t.service.stop();
      t.close();
    }
  });

  it('an escalated scan ban (bantime 40 days) reaches the kernel set without a timeout', async () => {
    const clock = new ManualClock(BOOT + 10_000);
    const ipset = new FakeIpset();
    const t = build(tempDb(), clock, ipset, { ban: { bantimeSec: 40 * 86400, maxbantimeSec: 80 * 86400 } });
    await t.service.start();
    try {
      t.source.push(...[21, 23, 25, 80, 110].map((p, i) => kmsg('198.51.100.7', p, 10_000 + i)));
      await t.service.idle();
      expect((await t.call('getBans')).active.map((b) => b.ip)).toEqual(['198.51.100.7']);
      expect(ipset.timeoutOf('198.51.100.7')).toBe(0);
    } finally {
      await t.service.stop();
      t.close();
    }
  });

  it('after a restart, reconcile keeps a long ban that is in the set without a timeout, and it is lifted at its end', async () => {
    const db = tempDb();
    const clock = new ManualClock(BOOT + 10_000);
    const ipset = new FakeIpset();
    const a = build(db, clock, ipset);
    await a.service.start();
    await a.call('ban', { ip: '203.0.113.51', durationSec: 30 * 86400 });
    await a.service.stop();
    a.close();

    clock.advance(10 * DAY);
    const argvBefore = ipset.argv.length;
    const b = build(db, clock, ipset);
    await b.service.start();
    try {
      expect(ipset.timeoutOf('203.0.113.51')).toBe(0);
      expect(ipset.argv.slice(argvBefore).filter((a) => a[1] === 'add' || a[1] === 'del'), 'reconcile leaves it alone').toEqual([]);
      clock.advance(20 * DAY + 1000);
      await b.service.tick();
      await b.service.idle();
      expect(ipset.timeoutOf('203.0.113.51')).toBeUndefined();
    } finally {
      await b.service.stop();
      b.close();
    }
    // Stopped past its end: the next start's reconcile removes it from the set.
    const c0 = build(db, clock, ipset);
    await c0.service.start();
    await c0.call('ban', { ip: '203.0.113.52', durationSec: 30 * 86400 });
    await c0.service.stop();
    c0.close();
    clock.advance(31 * DAY);
    const c = build(db, clock, ipset);
    await c.service.start();
    try {
      expect(ipset.timeoutOf('203.0.113.52')).toBeUndefined();
    } finally {
      await c.service.stop();
      c.close();
    }
  });

  it('settings refuse bantime and maxbantime over 365 days, with the field and the reason', () => {
    const r = validateSettings({ ban: { bantimeSec: 400 * 86400, maxbantimeSec: 400 * 86400 } });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toContain('ban.bantimeSec: bantime is at most 365 days');
    expect(r.error).toContain('ban.maxbantimeSec: maxbantime is at most 365 days');
    expect(validateSettings({ ban: { bantimeSec: 40 * 86400, maxbantimeSec: 365 * 86400 } }).ok).toBe(true);
  });
});
