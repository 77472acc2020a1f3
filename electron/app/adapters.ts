/**
 * Adapters between the real pieces and the service's contracts: the SQLite store as a
 * ServiceStore, settings in a JSON file or in the store, established inbound sessions from
 * /proc/net/tcp (for rule-change warnings).
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ApiError } from '../shared/api.ts';
import type { Clock } from '../shared/domain.ts';
import { canonicalIp } from '../shared/domain.ts';
import type { Settings } from '../shared/settings.ts';
import type { SqliteStore } from '../engine/store/sqlite.ts';
import type { ServiceStore, SettingsRepo } from './contracts.ts';
import { errorText } from '../shared/errors.ts';
import { storeUnavailable } from '../engine/store/unavailable.ts';

/** The store's retention runs at most this often: a DELETE over a big table every second would cost. */
const PRUNE_EVERY_MS = 60_000;
/**
 * ...or sooner (but not more often than this) once a table has outgrown its cap by a tenth: a flood
 * of 20k records/s adds 1.2M packet rows (and as many spoofed offenders) in a minute, so a
 * minute-only prune would let the database grow far past what the caps promise.
 */
const PRUNE_OVER_CAP_EVERY_MS = 5_000;
const OVER_CAP = 1.1;

export function serviceStoreOf(store: SqliteStore, clock: Clock): ServiceStore & { raw: SqliteStore } {
  let lastPrune = -Infinity;
  /** Offender rows written since the last prune: an upper bound of the rows added. */
  let offendersWritten = 0;
  return {
    raw: store,
    path: store.path,
    pendingPackets: () => store.pendingPackets(),
    writeError: () => store.writeError,
    setBusyTimeout: (ms) => store.setBusyTimeout(ms),
    holdOwnFlushes: (held) => store.holdOwnFlushes(held),
    addPackets: (p) => store.addPackets(p),
    upsertOffenders: (o) => {
      offendersWritten += o.length;
      store.upsertOffenders(o);
    },
    recordBan: (b) => store.recordBan(b),
    recordBans: (b) => store.recordBans(b),
    recordUnban: (ip, at, why) => store.recordUnban(ip, at, why),
    activeBans: (now) => store.activeBans(now),
    openBans: () => store.openBans(),
    strikes: () => store.strikes(),
    getSetting: (k) => store.getSetting(k),
    setSetting: (k, v) => store.setSetting(k, v),
    flush: () => store.flush(),
    close: () => store.close(),
    packetsPage: (offset, limit, filter) => store.getPackets(offset, limit, filter),
    dashboard: (minutes, now) => store.dashboard(now, minutes),
    packetsSince: (now, minutes, limit) => store.packetsSince(now, minutes, limit),
    storedOffenders: (limit) => store.offenders(undefined, limit),
    offenderPackets: (ip, limit) => store.offenderDetail(ip, limit)?.timeline ?? [],
    banHistory: (limit, ip) => {
      if (ip) return store.offenderDetail(ip, 1)?.bans ?? [];
      return store.bans(clock.now(), limit).history;
    },
    packetCount: () => store.packetCountTotal() + store.pendingPackets(),
    countNotStored: (byMinute) => store.countNotStored(byMinute),
    packetsNotStored: () => store.packetsNotStored(),
    packetsNotStoredSince: (now, minutes) => store.packetsNotStoredSince(now, minutes),
    prune: (now, retentionDays, maxRows) => {
      const since = now - lastPrune;
      const overCap = store.packetCountTotal() + store.pendingPackets() > maxRows * OVER_CAP || offendersWritten > store.maxOffenders * (OVER_CAP - 1);
      if (since < PRUNE_EVERY_MS && !(overCap && since >= PRUNE_OVER_CAP_EVERY_MS)) return;
      lastPrune = now;
      offendersWritten = 0;
      store.setRetention(retentionDays, maxRows);
      store.prune(now);
    },
  };
}

/**
 * Settings in a JSON file (--config; the package's /etc/portcullis/portcullis.json). Written
 * atomically (temp + rename): a crash never leaves half a file.
 * The file and the UI never fight: a change from the UI is written to the file (so the file always
 * says what runs), and when the file was edited by hand since this process read or wrote it, the
 * hand edit wins: the UI's change is refused (conflict) instead of overwriting it, until the service
 * loads the file again (`systemctl reload portcullis`, SIGHUP).
 */
export class FileSettingsRepo implements SettingsRepo {
  readonly file: string;
  /** The file's text as last read or written by this process (undefined: never read). */
  private known: string | null | undefined;
  constructor(file: string) {
    this.file = path.resolve(file);
  }
  private current(): string | null {
    return existsSync(this.file) ? readFileSync(this.file, 'utf8') : null;
  }
  load(): unknown {
    const text = this.current();
    this.known = text;
    if (text === null || !text.trim()) return undefined;
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new Error(`${this.file} is not valid JSON: ${(e as Error).message}`);
    }
  }
  save(s: Settings): void {
    if (this.known !== undefined && this.current() !== this.known) {
      throw new ApiError(
        'conflict',
        `${this.file} was edited since Portcullis read it; the file wins. Load it first (systemctl reload portcullis, or SIGHUP), then change the setting again`,
      );
    }
    const text = JSON.stringify(s, null, 2) + '\n';
    const tmp = `${this.file}.tmp-${process.pid}`;
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, this.file);
    this.known = text;
  }
  describe(): string {
    return this.file;
  }
}

/** Settings kept in the store (no --config): one JSON value under one key. */
export class StoreSettingsRepo implements SettingsRepo {
  private readonly store: { getSetting(k: string): string | null; setSetting(k: string, v: string): void };
  private readonly where: string;
  static readonly KEY = 'settings';
  constructor(store: { getSetting(k: string): string | null; setSetting(k: string, v: string): void }, where: string) {
    this.store = store;
    this.where = where;
  }
  load(): unknown {
    const v = this.store.getSetting(StoreSettingsRepo.KEY);
    if (v === null || v === '') return undefined;
    try {
      return JSON.parse(v);
    } catch {
      throw new Error('the settings saved in the database are not valid JSON');
    }
  }
  /**
   * Saved before they run (ServiceSettings.use): a store that cannot write now (another process
   * holds its lock, a full disk) fails the change with nothing changed, said as such — unlike a
   * pause, a settings change does not wait in memory: it is the user's edit, and saying "saved"
   * for one a restart would lose is worse than asking them to try again.
   */
  save(s: Settings): void {
    try {
      this.store.setSetting(StoreSettingsRepo.KEY, JSON.stringify(s));
    } catch (e) {
      if (!storeUnavailable(e)) throw e;
      throw new ApiError('unavailable', `the settings cannot be saved in ${this.describe()} now (${errorText(e)}): nothing changed; try again once it can write (the Doctor's database check says why)`);
    }
  }
  describe(): string {
    return `the database ${this.where}`;
  }
}

function hexToIp(hex: string): string | null {
  if (hex.length === 8) {
    const n = parseInt(hex, 16);
    // /proc/net/tcp prints the address in host (little-endian) byte order.
    return canonicalIp([n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255].join('.'));
  }
  if (hex.length === 32) {
    const words: string[] = [];
    for (let i = 0; i < 4; i++) {
      const w = hex.slice(i * 8, i * 8 + 8);
      const le = w.match(/../g)!.reverse().join('');
      words.push(le.slice(0, 4), le.slice(4));
    }
    return canonicalIp(words.join(':'));
  }
  return null;
}

/** Established TCP connections to a port this host listens on (an inbound session), from /proc/net/tcp{,6}. */
export function readInboundSessions(procDir = '/proc/net'): { localPort: number; remote: string }[] {
  const rows: { local: number; remote: string; state: string }[] = [];
  for (const f of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(path.join(procDir, f), 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4) continue;
      const [, local, remote, state] = cols as [string, string, string, string];
      const lp = parseInt(local.split(':')[1] ?? '', 16);
      const [rAddr] = remote.split(':');
      const ip = rAddr ? hexToIp(rAddr) : null;
      if (Number.isInteger(lp) && ip) rows.push({ local: lp, remote: ip, state });
    }
  }
  const listening = new Set(rows.filter((r) => r.state === '0A').map((r) => r.local));
  return rows.filter((r) => r.state === '01' && listening.has(r.local)).map((r) => ({ localPort: r.local, remote: r.remote }));
}
