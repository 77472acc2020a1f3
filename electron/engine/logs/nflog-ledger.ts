/**
 * NFLOG messages logged while no reader was bound (issue 16 item 4, for the nflog source): the
 * kernel builds no message without a listener, so nothing waits for the next reader and no sequence
 * gap shows them. They are counted from the logging rules' packet counters (the helper's
 * `nflogCounters`): each packet that reaches an NFLOG rule of Portcullis's group is one message
 * when a reader is bound, none when not.
 *
 * At every reader's start (the service's, and each restart of the reader):
 *   lost while unbound = Σ counters now − (Σ counters at the previous reader's start + the messages
 *                        that reader accounted for: read + lost in sequence gaps)
 * The counters are read BEFORE the reader binds: a packet logged between the read and the bind is
 * in the next window's growth and no reader's account (lost, and counted). The account is written
 * with the stored packets (the store's state, queued like kmsg's position): messages read but not
 * yet stored when the service was killed are counted as lost too — they are.
 *
 * The boot is stored with the counters (/proc/sys/kernel/random/boot_id): counters stored in another
 * boot count from 0 in this one (the kernel's tables start empty), and so does the account — exact
 * across a reboot, where comparing with the old counters under-counted once they had grown past them.
 *
 * A counter that went DOWN (ufw reload rebuilds its chains: every counter from 0) or a rule that is
 * gone makes the count unknown: said so, never guessed. A rule new since the last start counts from
 * 0 (everything it logged, it logged with no reader of ours to read it).
 */
import { errorText } from '../../shared/errors.ts';

/** Packet counts by rule (`family rule-text` → packets). */
export type RuleCounts = Record<string, number>;

/** What a reader's start leaves for the next: the counters then, and how many messages it accounted for. */
export interface LedgerEntry {
  counters: RuleCounts;
  accounted: number;
}

export type Unbound =
  /** No earlier reader's start to compare with (the first start with this store). */
  | { kind: 'first' }
  | { kind: 'lost'; lost: number }
  | { kind: 'unknown'; why: string };

/** The arithmetic above: messages logged since the previous reader's start that it did not account for. */
export function lostWhileUnbound(prev: LedgerEntry | null, now: RuleCounts): Unbound {
  if (prev === null) return { kind: 'first' };
  let growth = 0;
  for (const [rule, before] of Object.entries(prev.counters)) {
    const after = now[rule];
    if (after === undefined) return { kind: 'unknown', why: `a logging rule was removed since (${rule.replace(/^\d /, '')}): its count went with it` };
    if (after < before) return { kind: 'unknown', why: 'the logging rules\' counters went down (ufw reloaded its rules: they count from 0 again)' };
    growth += after - before;
  }
  for (const [rule, after] of Object.entries(now)) if (!(rule in prev.counters)) growth += after;
  const lost = growth - prev.accounted;
  if (lost < 0) return { kind: 'unknown', why: `the logging rules counted ${growth} packets, fewer than the ${prev.accounted} messages read (their counters were reset)` };
  return { kind: 'lost', lost };
}

/** The store's state keys (runner.ts hands them over): JSON LedgerEntry's counters, and the account written with the batches. */
export const NFLOG_COUNTERS_KEY = 'nflog.counters';
export const NFLOG_ACCOUNTED_KEY = 'nflog.accounted';
/** The boot the stored counters were read in. */
export const NFLOG_BOOT_KEY = 'nflog.bootId';
/** How long a reader's start waits for the counters before it binds without them (the count: unknown). */
export const COUNTERS_READ_TIMEOUT_MS = 2_000;
/** Stored in place of counters that could not be read: the next start cannot compare either. */
const UNREADABLE = 'unreadable';

export interface LedgerState {
  get(key: string): string | null;
  /**
   * Written now, all in one commit: the counters and the account that goes with them (a kill -9
   * between two commits would leave new counters with the previous reader's account).
   */
  setMany(entries: Record<string, string>): void;
  /** Written with the next batch of stored packets. */
  queue(key: string, value: string): void;
}

/** The counters, or why they cannot be read. */
export type ReadCounters = () => Promise<RuleCounts | { error: string }>;

/** What the source asks of the ledger (tests fake it). */
export interface NflogLedgerPort {
  /** Before each reader binds: settles the previous reader's window. Never throws. */
  readerStarting(): Promise<void>;
  /** The running reader's account so far (read + lost in gaps). */
  accounted(messages: number): void;
  /** The source's start(): the counts below begin again (they belong to one start and its restarts). */
  newRun(): void;
  /** Messages lost while no reader was bound, summed over this start of the source and its restarts. */
  readonly lost: number;
  /** Why a window's count is unknown (the last one; `lost` leaves that window out), or null. */
  readonly unknown: string | null;
}

export class NflogLedger implements NflogLedgerPort {
  lost = 0;
  unknown: string | null = null;
  /** The running reader's account; null before the first reader of this process (then the stored one counts). */
  private live: number | null = null;
  private readonly state: LedgerState;
  private readonly read: ReadCounters;

  private readonly readTimeoutMs: number;
  /** This boot's id (null: unknown — stored counters are then compared as they are). */
  private readonly boot: string | null;

  constructor(state: LedgerState, read: ReadCounters, opts: { readTimeoutMs?: number; bootId?: string | null } = {}) {
    this.state = state;
    this.read = read;
    this.readTimeoutMs = opts.readTimeoutMs ?? COUNTERS_READ_TIMEOUT_MS;
    this.boot = opts.bootId ?? null;
  }

  newRun(): void {
    this.lost = 0;
    this.unknown = null;
  }

  async readerStarting(): Promise<void> {
    let now: RuleCounts | { error: string };
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      // Nothing is read until the reader binds: a read that takes longer makes this window's count
      // unknown rather than the reader late (its late answer is dropped).
      now = await Promise.race([
        this.read(),
        new Promise<{ error: string }>((resolve) => {
          timer = setTimeout(() => resolve({ error: `not answered within ${this.readTimeoutMs / 1000} s` }), this.readTimeoutMs);
        }),
      ]);
    } catch (e) {
      now = { error: errorText(e) };
    } finally {
      clearTimeout(timer);
    }
    const prev = this.previous();
    let counters: string;
    if ('error' in now) {
      this.unknown = `the NFLOG rules' counters cannot be read (${now.error}): messages logged while no reader was bound are not counted`;
      counters = UNREADABLE;
    } else {
      const r = prev === UNREADABLE ? ({ kind: 'unknown', why: 'the counters could not be read at the previous start' } as const) : lostWhileUnbound(prev, now);
      if (r.kind === 'lost') this.lost += r.lost;
      else if (r.kind === 'unknown') this.unknown = `unknown how many NFLOG messages were logged while no reader was bound: ${r.why}`;
      counters = JSON.stringify(now);
    }
    // The new counters and their account (0) in one commit: killed between two, the next start would
    // measure the new counters against the previous reader's account. The 0 is queued too, in place
    // of an earlier reader's account still waiting for the next batch (which would otherwise be
    // written over it and count against the new counters).
    this.state.setMany({ [NFLOG_COUNTERS_KEY]: counters, [NFLOG_ACCOUNTED_KEY]: '0', ...(this.boot !== null ? { [NFLOG_BOOT_KEY]: this.boot } : {}) });
    this.state.queue(NFLOG_ACCOUNTED_KEY, '0');
    this.live = 0;
  }

  accounted(messages: number): void {
    if (messages === this.live) return;
    this.live = messages;
    this.state.queue(NFLOG_ACCOUNTED_KEY, String(messages));
  }

  private previous(): LedgerEntry | null | typeof UNREADABLE {
    const raw = this.state.get(NFLOG_COUNTERS_KEY);
    if (raw === null) return null;
    // Stored in another boot: this boot's counters started at 0, and no reader of it read anything
    // before this one (a reader of this process would have stored this boot's id).
    const storedBoot = this.state.get(NFLOG_BOOT_KEY);
    if (this.live === null && this.boot !== null && storedBoot !== null && storedBoot !== this.boot) return { counters: {}, accounted: 0 };
    if (raw === UNREADABLE) return UNREADABLE;
    let counters: RuleCounts;
    try {
      counters = JSON.parse(raw) as RuleCounts;
    } catch {
      return UNREADABLE;
    }
    const accounted = this.live ?? Number(this.state.get(NFLOG_ACCOUNTED_KEY) ?? 0);
    return { counters, accounted: Number.isFinite(accounted) ? accounted : 0 };
  }
}

/**
 * The logging rules were just rebuilt (the runner switched a block to NFLOG: ufw reloaded, every
 * counter from 0) before any reader of them bound: the next start compares with nothing, so all they
 * count until then is counted lost — exactly what it is — instead of "unknown: counters went down".
 */
export function nflogRulesRebuilt(state: Pick<LedgerState, 'setMany'>, bootId: string | null): void {
  state.setMany({ [NFLOG_COUNTERS_KEY]: '{}', [NFLOG_ACCOUNTED_KEY]: '0', ...(bootId !== null ? { [NFLOG_BOOT_KEY]: bootId } : {}) });
}

/** The helper's answer as RuleCounts (a family it could not list: an error). */
export function ruleCountsOf(r: { rules: { family: 4 | 6; rule: string; packets: number }[]; unreadable: { family: 4 | 6; error: string }[] }): RuleCounts | { error: string } {
  if (r.unreadable.length) return { error: r.unreadable.map((u) => `IPv${u.family}: ${u.error}`).join('; ') };
  const out: RuleCounts = {};
  for (const rule of r.rules) {
    const key = `${rule.family} ${rule.rule}`;
    out[key] = (out[key] ?? 0) + rule.packets;
  }
  return out;
}
