/**
 * NFLOG messages logged while no reader was bound, counted from the logging rules' counters
 * (engine/logs/nflog-ledger.ts): the arithmetic, what is kept in the store's state between starts,
 * a reader restart inside one run, and the cases where the count is unknown (said, not guessed).
 */
import { describe, expect, it } from 'vitest';
import { lostWhileUnbound, NFLOG_ACCOUNTED_KEY, NFLOG_COUNTERS_KEY, NflogLedger, nflogRulesRebuilt, ruleCountsOf, type RuleCounts } from '../../electron/engine/logs/nflog-ledger.ts';

const A = '4 -A ufw-after-input … -j NFLOG --nflog-group 5417';
const B = '6 -A ufw6-after-input … -j NFLOG --nflog-group 5417';

describe('lostWhileUnbound', () => {
  it('counters now − (counters at the previous start + what that reader accounted for), over every rule', () => {
    expect(lostWhileUnbound(null, { [A]: 10 })).toEqual({ kind: 'first' });
    expect(lostWhileUnbound({ counters: { [A]: 10, [B]: 5 }, accounted: 7 }, { [A]: 15, [B]: 207 })).toEqual({ kind: 'lost', lost: 200 });
    expect(lostWhileUnbound({ counters: { [A]: 10 }, accounted: 0 }, { [A]: 10 })).toEqual({ kind: 'lost', lost: 0 });
    // A rule new since (the block installed while stopped): everything it counted was logged unread.
    expect(lostWhileUnbound({ counters: { [A]: 10 }, accounted: 0 }, { [A]: 10, [B]: 30 })).toEqual({ kind: 'lost', lost: 30 });
  });

  it('a counter that went down (ufw reload), a rule gone, or fewer counted than read: unknown, with the reason', () => {
    expect(lostWhileUnbound({ counters: { [A]: 10, [B]: 5 }, accounted: 0 }, { [A]: 3, [B]: 500 })).toMatchObject({ kind: 'unknown', why: expect.stringMatching(/went down \(ufw reloaded/) });
    expect(lostWhileUnbound({ counters: { [A]: 10, [B]: 5 }, accounted: 0 }, { [A]: 30 })).toMatchObject({ kind: 'unknown', why: expect.stringMatching(/rule was removed/) });
    expect(lostWhileUnbound({ counters: { [A]: 10 }, accounted: 50 }, { [A]: 20 })).toMatchObject({ kind: 'unknown', why: expect.stringMatching(/counted 10 packets, fewer than the 50 messages read/) });
  });
});

function memoryState() {
  const committed = new Map<string, string>();
  const queued = new Map<string, string>();
  /** Commits left before the process is killed (-9) at the next one (Infinity: never). */
  let commitsLeft = Infinity;
  const commit = (entries: Record<string, string>): void => {
    if (commitsLeft <= 0) {
      queued.clear();
      throw new Error('killed');
    }
    commitsLeft--;
    for (const [k, v] of Object.entries(entries)) committed.set(k, v);
  };
  return {
    committed,
    get: (k: string) => queued.get(k) ?? committed.get(k) ?? null,
    set: (k: string, v: string) => commit({ [k]: v }),
    setMany: (entries: Record<string, string>) => commit(entries),
    /** kill -9 at the commit after the next `n`. */
    killAfterCommits: (n: number) => void (commitsLeft = n),
    revive: () => void (commitsLeft = Infinity),
    queue: (k: string, v: string) => void queued.set(k, v),
    /** The store's flush (with a batch of packets). */
    flush: () => {
      for (const [k, v] of queued) committed.set(k, v);
      queued.clear();
    },
    /** kill -9: what was queued is gone. */
    crash: () => queued.clear(),
  };
}

/** Another store with the same committed state (to try one start without touching the first). */
function memoryCopy(from: ReturnType<typeof memoryState>) {
  const copy = memoryState();
  for (const [k, v] of from.committed) copy.committed.set(k, v);
  return copy;
}

describe('NflogLedger', () => {
  it('keeps the counters at each reader start and the account written with the batches; the next start (a new process) reports the difference', async () => {
    const state = memoryState();
    let counters: RuleCounts = { [A]: 100 };
    const first = new NflogLedger(state, async () => counters);
    await first.readerStarting();
    expect(first.lost).toBe(0);
    expect(state.committed.get(NFLOG_COUNTERS_KEY)).toBe(JSON.stringify({ [A]: 100 }));
    expect(state.committed.get(NFLOG_ACCOUNTED_KEY)).toBe('0');
    // 8 messages logged and read, stored; 2 more read but not stored when it was killed (-9).
    counters = { [A]: 110 };
    first.accounted(8);
    state.flush();
    first.accounted(10);
    state.crash();
    // Stopped: 200 probes logged with no reader bound.
    counters = { [A]: 310 };
    const second = new NflogLedger(state, async () => counters);
    await second.readerStarting();
    // 310 − (100 + 8): the 2 never stored are lost as well.
    expect(second.lost).toBe(202);
    expect(second.unknown).toBeNull();
    expect(state.committed.get(NFLOG_COUNTERS_KEY)).toBe(JSON.stringify({ [A]: 310 }));
    expect(state.committed.get(NFLOG_ACCOUNTED_KEY)).toBe('0');
  });

  it('rules rebuilt by a switch to NFLOG at the start (ufw reloaded: counters from 0): what they logged before the reader bound is counted, not "unknown: counters went down"', async () => {
    const state = memoryState();
    let counters: RuleCounts = { [A]: 500 };
    const earlier = new NflogLedger(state, async () => counters);
    await earlier.readerStarting();
    earlier.accounted(500);
    state.flush();
    // A kmsg run switched the block to LOG; this start switches it back: rules new, counters from 0.
    counters = { [A]: 6 };
    const without = new NflogLedger(memoryCopy(state), async () => counters);
    await without.readerStarting();
    expect(without.unknown).toMatch(/went down/);
    nflogRulesRebuilt(state, null);
    const next = new NflogLedger(state, async () => counters);
    await next.readerStarting();
    expect(next.unknown).toBeNull();
    expect(next.lost).toBe(6);
  });

  it('a reader restart inside one run uses the account it kept (not the stored one), and adds to the run\'s loss', async () => {
    const state = memoryState();
    let counters: RuleCounts = { [A]: 0 };
    const l = new NflogLedger(state, async () => counters);
    await l.readerStarting();
    counters = { [A]: 50 };
    l.accounted(40); // queued, not yet written
    counters = { [A]: 57 }; // 7 more while the reader was down
    await l.readerStarting();
    expect(l.lost).toBe(17);
    counters = { [A]: 60 };
    l.accounted(3);
    await l.readerStarting();
    expect(l.lost).toBe(17);
  });

  it('an account still queued when a reader restarts is not written over the new start\'s 0', async () => {
    const state = memoryState();
    let counters: RuleCounts = { [A]: 0 };
    const l = new NflogLedger(state, async () => counters);
    await l.readerStarting();
    counters = { [A]: 40 };
    l.accounted(40); // queued
    await l.readerStarting(); // the reader restarted: baseline 40, account 0
    state.flush(); // the next batch; the new reader read nothing yet
    counters = { [A]: 45 }; // 5 logged, then the service was killed
    const next = new NflogLedger(state, async () => counters);
    await next.readerStarting();
    expect(next.lost).toBe(5);
  });

  it('counters that went down or cannot be read: unknown, said (the next start cannot compare either)', async () => {
    const state = memoryState();
    let counters: RuleCounts | { error: string } = { [A]: 100 };
    const l = new NflogLedger(state, async () => counters);
    await l.readerStarting();
    counters = { [A]: 4 };
    await l.readerStarting();
    expect(l.lost).toBe(0);
    expect(l.unknown).toMatch(/^unknown how many NFLOG messages were logged while no reader was bound: the logging rules' counters went down/);
    counters = { error: 'IPv6: ip6tables: no such table' };
    const next = new NflogLedger(state, async () => counters);
    await next.readerStarting();
    expect(next.unknown).toMatch(/counters cannot be read \(IPv6: ip6tables: no such table\)/);
    counters = { [A]: 10 };
    const after = new NflogLedger(state, async () => counters);
    await after.readerStarting();
    expect(after.unknown).toMatch(/could not be read at the previous start/);
    expect(after.lost).toBe(0);
  });

  it('the counters and the account that goes with them are one commit: killed at any write of a start, the next start still counts exactly', async () => {
    for (const killAt of [0, 1, 2]) {
      const state = memoryState();
      let counters: RuleCounts = { [A]: 100 };
      const first = new NflogLedger(state, async () => counters);
      await first.readerStarting();
      counters = { [A]: 110 };
      first.accounted(10);
      state.flush();
      // Stopped: 40 logged unbound; the next start is killed (-9) at one of its writes.
      counters = { [A]: 150 };
      state.killAfterCommits(killAt);
      await new NflogLedger(state, async () => counters).readerStarting().catch(() => undefined);
      state.revive();
      const written = state.committed.get(NFLOG_COUNTERS_KEY) === JSON.stringify({ [A]: 150 });
      // 10 more logged, nothing read: the start after that.
      counters = { [A]: 160 };
      const third = new NflogLedger(state, async () => counters);
      await third.readerStarting();
      // Either the killed start wrote nothing (160 − (100 + 10)) or all of it (160 − (150 + 0)).
      expect({ killAt, lost: third.lost }).toEqual({ killAt, lost: written ? 10 : 50 });
    }
  });

  it('counters not answered within the timeout: the reader starts anyway, the window\'s count is unknown (said), and the next start cannot compare either', async () => {
    const state = memoryState();
    const l = new NflogLedger(state, () => new Promise(() => undefined), { readTimeoutMs: 20 });
    const t0 = Date.now();
    await l.readerStarting();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(l.unknown).toMatch(/counters cannot be read \(not answered within 0.02 s\)/);
    const next = new NflogLedger(state, async () => ({ [A]: 5 }));
    await next.readerStarting();
    expect(next.unknown).toMatch(/could not be read at the previous start/);
  });

  it('counters stored in another boot count from 0 in this one (its tables started empty): exact across a reboot, also once they regrew past the stored ones', async () => {
    const state = memoryState();
    const first = new NflogLedger(state, async () => ({ [A]: 100 }), { bootId: 'boot-1' });
    await first.readerStarting();
    first.accounted(30);
    state.flush();
    // Rebooted; the rules logged 150 before this start (more than the 100 + 30 stored).
    const second = new NflogLedger(state, async () => ({ [A]: 150 }), { bootId: 'boot-2' });
    await second.readerStarting();
    expect(second.lost).toBe(150);
    expect(second.unknown).toBeNull();
    // Fewer than stored (the usual reboot): also counted from 0, not "unknown".
    const third = new NflogLedger(state, async () => ({ [A]: 7 }), { bootId: 'boot-3' });
    await third.readerStarting();
    expect([third.lost, third.unknown]).toEqual([7, null]);
    // The same boot: compared as before.
    const fourth = new NflogLedger(state, async () => ({ [A]: 9 }), { bootId: 'boot-3' });
    await fourth.readerStarting();
    expect([fourth.lost, fourth.unknown]).toEqual([2, null]);
  });

  it('takes the helper\'s answer by family and rule text; a family it could not list is an error', () => {
    expect(ruleCountsOf({ rules: [{ family: 4, rule: '-A x -j NFLOG', packets: 3 }, { family: 6, rule: '-A x -j NFLOG', packets: 4 }], unreadable: [] })).toEqual({ '4 -A x -j NFLOG': 3, '6 -A x -j NFLOG': 4 });
    expect(ruleCountsOf({ rules: [], unreadable: [{ family: 6, error: 'nope' }] })).toEqual({ error: 'IPv6: nope' });
  });
});
