import { describe, expect, it } from 'vitest';
import { NO_SLOT, scanTypeOf, SourceTracker, type TrackerSettings } from '../../../electron/engine/detect/tracker.ts';
import { connectionFrom, connectionKey, connectionPorts } from '../../../electron/engine/detect/scan-rule.ts';

const S: TrackerSettings = { findtimeSec: 600, maxretry: 5, minDistinctPorts: 3, maxTrackedSources: 100 };
const MIN = 60_000;

function feed(t: SourceTracker, ip: string, probes: [number, number | null][]): (number | null)[] {
  // Returns, per probe, the hit count when the threshold was crossed (null otherwise).
  return probes.map(([time, port]) => {
    const slot = t.probe(ip, time, port, 'SYN');
    return slot === NO_SLOT ? null : t.hitsOf(slot);
  });
}

describe('SourceTracker window', () => {
  it('crosses on the maxretry-th probe when ≥ minDistinctPorts ports were touched', () => {
    const t = new SourceTracker(S);
    const r = feed(t, 'a', [[0, 1], [1000, 2], [2000, 3], [3000, 4], [4000, 5]]);
    expect(r).toEqual([null, null, null, null, 5]);
  });

  it('one port hammered is not a scan; the third distinct port makes it one', () => {
    const t = new SourceTracker(S);
    const r = feed(t, 'a', [[0, 22], [1, 22], [2, 22], [3, 22], [4, 22], [5, 22], [6, 23], [7, 24]]);
    expect(r).toEqual([null, null, null, null, null, null, null, 8]);
  });

  it('a slow scan whose probes never share a window is not a scan', () => {
    const t = new SourceTracker(S);
    // One probe every 3 minutes: at most 4 probes in any 10-minute window.
    const r = feed(t, 'a', Array.from({ length: 20 }, (_, i): [number, number] => [i * 3 * MIN, 100 + i]));
    expect(r.every((x) => x === null)).toBe(true);
  });

  it('the window edge: probes exactly findtime apart are not in one window', () => {
    const t = new SourceTracker({ ...S, maxretry: 2, minDistinctPorts: 2 });
    expect(feed(t, 'a', [[0, 1], [600_000, 2]])).toEqual([null, null]);
    expect(feed(t, 'b', [[0, 1], [599_999, 2]])).toEqual([null, 2]);
  });

  it('a log out of time order: the window is the span of the last probes, not the newest minus the first in the ring', () => {
    const H = 60 * MIN;
    // One probe at 11:00, then four from 10:00 to 10:03 (a file concatenated newest first): five
    // probes over an hour are not five probes within ten minutes, in whatever order they come.
    expect(feed(new SourceTracker(S), 'a', [[11 * H, 21], [10 * H, 22], [10 * H + MIN, 23], [10 * H + 2 * MIN, 25], [10 * H + 3 * MIN, 80]])).toEqual([null, null, null, null, null]);
    // The same five within ten minutes, shuffled, still cross on the fifth.
    expect(feed(new SourceTracker(S), 'a', [[10 * H + 4 * MIN, 21], [10 * H, 22], [10 * H + 3 * MIN, 23], [10 * H + MIN, 25], [10 * H + 2 * MIN, 80]])).toEqual([null, null, null, null, 5]);
    // Ports are pruned against the newest probe, not the one just read: a late probe of an old port does not revive it.
    const t = new SourceTracker({ ...S, maxretry: 3, minDistinctPorts: 3 });
    expect(feed(t, 'b', [[20 * MIN, 1], [21 * MIN, 2], [0, 3]])).toEqual([null, null, null]);
  });

  it('ports that left the window no longer count as distinct', () => {
    const t = new SourceTracker({ ...S, maxretry: 3, minDistinctPorts: 3 });
    // Ports 1 and 2 early, then port 3 three times after 1 and 2 expired: only one distinct port.
    const r = feed(t, 'a', [[0, 1], [5 * MIN, 2], [11 * MIN, 3], [11 * MIN + 1, 3], [11 * MIN + 2, 3]]);
    expect(r).toEqual([null, null, null, null, null]);
    // A fresh port 2 within the window is not enough (2 distinct), a third is.
    expect(feed(t, 'a', [[12 * MIN, 2], [12 * MIN + 1, 4]])).toEqual([null, 7]); // hits since tracking began
  });

  it('port-less probes (pings) add hits but no distinct port', () => {
    const t = new SourceTracker({ ...S, minDistinctPorts: 1 });
    expect(feed(t, 'a', Array.from({ length: 10 }, (_, i): [number, null] => [i, null])).every((x) => x === null)).toBe(true);
    expect(feed(t, 'a', [[11, 80]])).toEqual([11]);
  });

  it('per-source port arrays stay bounded however many ports a source probes', () => {
    const t = new SourceTracker({ ...S, maxretry: 1000, minDistinctPorts: 5000 });
    for (let p = 1; p <= 20000; p++) t.probe('a', p, p, 'SYN');
    const w = t.get('a');
    expect(t.portCount(w)).toBeLessThanOrEqual(5008);
    expect(t.times(w)).toHaveLength(1000);
    expect(t.times(w).slice(-2)).toEqual([19999, 20000]);
  });

  it('summary: ascending capped ports, scan type, first/last seen', () => {
    const t = new SourceTracker({ ...S, maxretry: 100 });
    t.probe('a', 10, 443, 'SYN');
    t.probe('a', 20, 22, 'SYN');
    t.probe('a', 30, 22, 'FIN');
    const s = t.summary(t.get('a'), 64);
    expect(s).toMatchObject({ hits: 3, ports: [22, 443], distinctPorts: 2, firstSeen: 10, lastSeen: 30, scanType: 'MIXED' });
    expect(t.topPorts(t.get('a'), 5)).toEqual([22, 443]);
  });
});

describe('SourceTracker storage', () => {
  it('inline records: the port list keeps the cap, dropping the least recently probed port', () => {
    // maxretry 5, minDistinctPorts 3: cap = 13 ports. 20 distinct ports in the window: the 13 most recent stay.
    const t = new SourceTracker({ ...S, maxretry: 50, minDistinctPorts: 50 });
    const small = new SourceTracker(S);
    for (let p = 1; p <= 20; p++) small.probe('a', p, 1000 + p, 'SYN');
    expect(small.portCount(small.get('a'))).toBe(13);
    expect(small.summary(small.get('a')).ports).toEqual(Array.from({ length: 13 }, (_, i) => 1008 + i));
    expect(small.times(small.get('a'))).toEqual([16, 17, 18, 19, 20]);
    // Own-array layout (large thresholds) gives the same answers.
    for (let p = 1; p <= 70; p++) t.probe('a', p, 1000 + p, 'SYN');
    expect(t.portCount(t.get('a'))).toBe(58);
    expect(t.summary(t.get('a'), 100).ports).toEqual(Array.from({ length: 58 }, (_, i) => 1013 + i));
    expect(t.times(t.get('a'))).toEqual(Array.from({ length: 50 }, (_, i) => 21 + i));
  });

  it('sources on several pages keep their own records (inline and own-array layouts)', () => {
    for (const settings of [S, { ...S, maxretry: 50, minDistinctPorts: 50 }]) {
      const t = new SourceTracker({ ...settings, maxTrackedSources: 5000 });
      const ip = (i: number) => `10.0.${i >> 8}.${i & 255}`;
      for (let round = 0; round < 3; round++) for (let i = 0; i < 4000; i++) t.probe(ip(i), 1000 * round + i, 1 + ((i + round) % 7), 'SYN');
      expect(t.size).toBe(4000);
      for (const i of [0, 1023, 1024, 2047, 2048, 3999]) {
        const w = t.get(ip(i));
        expect(t.summary(w)).toMatchObject({ hits: 3, firstSeen: i, lastSeen: 2000 + i, distinctPorts: 3 });
        expect(t.times(w)).toEqual([i, 1000 + i, 2000 + i]);
      }
      expect(t.inAreaOrder().slice(0, 2).map((w) => t.ipOf(w))).toEqual([ip(0), ip(1)]);
    }
  });

  it('a port list that outgrows the record moves to a port record, which is freed and reused', () => {
    const t = new SourceTracker({ ...S, maxretry: 100 });
    const ports = [22, 80, 443, 8080, 3389, 22, 25];
    ports.forEach((p, i) => t.probe('a', i, p, 'SYN'));
    expect(t.summary(t.get('a'))).toMatchObject({ hits: 7, ports: [22, 25, 80, 443, 3389, 8080], distinctPorts: 6 });
    expect(t.topPorts(t.get('a'), 3)).toEqual([22, 25, 80]);
    // Quiet for a whole window: starts afresh, with a small list again.
    t.probe('a', 10 * MIN + 10, 53, 'UDP');
    expect(t.summary(t.get('a'))).toMatchObject({ hits: 1, ports: [53], scanType: 'UDP' });
    // Another source takes the freed port record: none of a's ports show.
    [1, 2, 3, 4, 5].forEach((p) => t.probe('b', 10 * MIN + 20 + p, p, 'SYN'));
    t.delete('b');
    [6, 7, 8, 9].forEach((p) => t.probe('c', 10 * MIN + 30 + p, p, 'FIN'));
    expect(t.summary(t.get('c'))).toMatchObject({ hits: 4, ports: [6, 7, 8, 9], scanType: 'FIN' });
    expect(t.summary(t.get('a')).ports).toEqual([53]);
  });

  it('freed slots are reused and keep no state of the source before', () => {
    const t = new SourceTracker(S);
    t.probe('a', 1, 1, 'FIN');
    t.probe('a', 2, 2, 'FIN');
    t.delete('a');
    t.probe('b', 3, 9, 'SYN');
    expect(t.summary(t.get('b'))).toMatchObject({ hits: 1, ports: [9], firstSeen: 3, lastSeen: 3, scanType: 'SYN' });
    expect(t.get('a')).toBe(NO_SLOT);
  });
});

describe('SourceTracker lookup', () => {
  it('IPv4 table and IPv6 map stay consistent through inserts, deletes and evictions', () => {
    const t = new SourceTracker({ ...S, maxTrackedSources: 500 });
    const evicted: string[] = [];
    t.onEvict = (ip) => evicted.push(ip);
    const model = new Set<string>();
    let seed = 7;
    const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
    for (let step = 0; step < 20000; step++) {
      // A small address space so that the same sources come back, collide and get deleted.
      const ip = rnd(4) === 0 ? `2001:db8::${rnd(300).toString(16)}` : `10.${rnd(3)}.${rnd(40)}.${rnd(10)}`;
      if (rnd(5) === 0) {
        expect(t.delete(ip)).toBe(model.delete(ip));
      } else {
        t.probe(ip, step, 1 + rnd(3), 'SYN');
        model.add(ip);
        for (const e of evicted.splice(0)) model.delete(e);
      }
      expect(t.size).toBe(model.size);
    }
    expect(new Set(t.slots().map((s) => t.ipOf(s)))).toEqual(model);
    for (const ip of model) expect(t.ipOf(t.get(ip))).toBe(ip);
    expect(t.get('10.0.0.255')).toBe(NO_SLOT);
  });

  it('look-alike IPv4 text is a different source', () => {
    const t = new SourceTracker(S);
    t.probe('1.2.3.4', 1, 1, 'SYN');
    expect(t.get('01.2.3.4')).toBe(NO_SLOT);
    expect(t.get('1.2.3.4.')).toBe(NO_SLOT);
    t.probe('01.2.3.4', 2, 1, 'SYN');
    expect(t.size).toBe(2);
    expect(t.ipOf(t.get('01.2.3.4'))).toBe('01.2.3.4');
  });
});

describe('SourceTracker bound (least recently seen, those seen once first)', () => {
  it('evicts the least recently seen source, not the oldest inserted', () => {
    const evicted: string[] = [];
    const t = new SourceTracker({ ...S, maxTrackedSources: 3 });
    t.onEvict = (ip) => evicted.push(ip);
    t.probe('a', 1, 1, 'SYN');
    t.probe('b', 2, 1, 'SYN');
    t.probe('c', 3, 1, 'SYN');
    t.probe('a', 4, 2, 'SYN'); // a is now the most recent, and seen again
    t.probe('d', 5, 1, 'SYN'); // evicts b
    expect(evicted).toEqual(['b']);
    expect(t.size).toBe(3);
    // Those seen once (probation), then those seen again, each least recently seen first.
    expect(t.inAreaOrder().map((w) => t.ipOf(w))).toEqual(['c', 'd', 'a']);
    t.probe('e', 6, 1, 'SYN');
    expect(evicted).toEqual(['b', 'c']);
    expect(t.evictedCount).toBe(2);
  });

  it('a source moves to the seen-again area on its second counted probe only: not on a repeat; back to probation when its window starts afresh', () => {
    const order = (t: SourceTracker) => t.inAreaOrder().map((w) => t.ipOf(w));
    for (const maxretry of [5, 1]) {
      const t = new SourceTracker({ ...S, maxretry, maxTrackedSources: 100 });
      const ports = connectionPorts(40000, 22);
      const from = connectionFrom(false, 7);
      t.probe('a', 0, 22, 'SYN', undefined, -1, ports, from);
      t.probe('b', 1, 22, 'SYN');
      t.probe('a', 1000, 22, 'SYN', undefined, -1, ports, from); // a resent SYN: no second probe
      expect(order(t)).toEqual(['b', 'a']);
      t.probe('a', 2000, 23, 'SYN');
      t.probe('c', 3000, 22, 'SYN');
      expect(order(t)).toEqual(['b', 'c', 'a']);
      t.probe('a', 11 * MIN, 24, 'SYN'); // quiet for a whole window: one probe again, like a newcomer
      t.probe('e', 11 * MIN + 1, 22, 'SYN');
      expect(order(t)).toEqual(['b', 'c', 'a', 'e']);
      t.probe('b', 11 * MIN + 2, 23, 'SYN');
      t.probe('b', 11 * MIN + 3, 24, 'SYN');
      expect(order(t)).toEqual(['c', 'a', 'e', 'b']);
      // A re-layout keeps each source in its area, in its order.
      t.configure({ ...S, maxretry: maxretry + 1, maxTrackedSources: 100 });
      expect(order(t)).toEqual(['c', 'a', 'e', 'b']);
      t.probe('d', 11 * MIN + 4, 23, 'SYN');
      expect(order(t)).toEqual(['c', 'a', 'e', 'd', 'b']);
      // Lowering the bound evicts those seen once first.
      t.configure({ ...S, maxretry: maxretry + 1, maxTrackedSources: 2 });
      expect(order(t)).toEqual(['d', 'b']);
    }
  });

  it('lowering the cap evicts at once; delete keeps the list consistent', () => {
    const t = new SourceTracker({ ...S, maxTrackedSources: 10 });
    for (let i = 0; i < 10; i++) t.probe(`s${i}`, i, 1, 'SYN');
    t.delete('s5');
    t.configure({ ...S, maxTrackedSources: 4 });
    expect(t.size).toBe(4);
    expect(t.inAreaOrder().map((w) => t.ipOf(w))).toEqual(['s6', 's7', 's8', 's9']);
  });

  it('changing maxretry keeps the most recent probe times', () => {
    const t = new SourceTracker({ ...S, maxretry: 3, minDistinctPorts: 1 });
    for (let i = 0; i < 5; i++) t.probe('a', i * 10, 1, 'SYN'); // crossed at i=2 but not deleted here
    t.configure({ ...S, maxretry: 2, minDistinctPorts: 1 });
    expect(t.times(t.get('a'))).toEqual([30, 40]);
  });
});

describe('scanTypeOf', () => {
  it('one kind, one kind plus pings, several kinds', () => {
    expect(scanTypeOf(1)).toBe('SYN');
    expect(scanTypeOf(1 | 64)).toBe('SYN');
    expect(scanTypeOf(64)).toBe('OTHER');
    expect(scanTypeOf(1 | 2)).toBe('MIXED');
    expect(scanTypeOf(0)).toBe('OTHER');
  });
});

describe('SourceTracker notes (a caller number kept in the window record)', () => {
  it('-1 for a new source; kept through a restart after a quiet window; -1 again for a new source in a reused slot and after a re-layout', () => {
    const t = new SourceTracker(S);
    t.probe('a', 0, 1, 'SYN');
    const a = t.lastSlot;
    expect(t.noteOf(a)).toBe(-1);
    t.setNote(a, -12345678901);
    t.probe('a', 11 * MIN, 2, 'SYN'); // quiet for a whole window: the window starts afresh
    expect(t.hitsOf(a)).toBe(1);
    expect(t.noteOf(a)).toBe(-12345678901);
    t.delete('a');
    t.probe('b', 12 * MIN, 1, 'SYN');
    expect(t.lastSlot).toBe(a); // the freed slot, handed out again
    expect(t.noteOf(a)).toBe(-1);
    t.setNote(a, 7);
    t.configure({ ...S, maxretry: 6 }); // a new layout: every window copied out and back in
    expect(t.noteOf(t.get('b'))).toBe(-1);
  });
});

describe('SourceTracker tags, in an array or (sparseTags) in a Map', () => {
  // The engine's address tracker keeps its few tags in a Map (a far slot's tag no longer fills an
  // array up to it); both kinds must answer alike through probes, deletes, evictions, re-layouts and clears.
  function script(t: SourceTracker): (string | undefined)[] {
    const seen: (string | undefined)[] = [];
    const look = () => {
      for (const ip of ['a', 'b', 'c', 'd', 'e']) {
        const slot = t.get(ip);
        seen.push(slot === NO_SLOT ? '-' : t.tagOf(slot));
      }
    };
    for (let i = 0; i < 60; i++) t.probe(`filler${i}`, i, 1, 'SYN');
    t.probe('a', 100, 1, 'SYN');
    t.setTag(t.lastSlot, 'net-a');
    t.probe('b', 101, 1, 'SYN');
    t.setTag(t.lastSlot, '');
    t.probe('c', 102, 1, 'SYN');
    look();
    t.setTag(t.get('c'), 'net-c');
    t.setTag(t.get('c'), undefined);
    look();
    t.delete('a'); // its tag goes with it
    t.probe('d', 103, 1, 'SYN'); // may reuse a's slot: no tag
    look();
    t.setTag(t.get('d'), 'net-d');
    t.configure({ ...S, maxretry: 6 }); // re-layout: tags follow their sources to new slots
    look();
    t.configure({ ...S, maxretry: 6, maxTrackedSources: 3 }); // evicts all but the 3 most recent
    look();
    t.probe('e', 104, 1, 'SYN');
    t.setTag(t.lastSlot, 'net-e');
    t.clearTags();
    look();
    t.setTag(t.get('e'), 'net-e2');
    t.clear();
    look();
    return seen;
  }

  it('a Map answers as the array does', () => {
    const dense = script(new SourceTracker(S));
    expect(script(new SourceTracker(S, { sparseTags: true }))).toEqual(dense);
    // The script sees tags (not only "none"): it can tell a lost or a stale tag.
    expect(dense).toContain('net-a');
    expect(dense).toContain('net-d');
    expect(dense.filter((x) => x === undefined).length).toBeGreaterThan(3);
  });
});

describe('SourceTracker quiet restart', () => {
  it('a source quiet for a whole window starts afresh, unless a ban of it is pending', () => {
    const t = new SourceTracker(S);
    for (const ip of ['calm', 'queued']) {
      t.probe(ip, 0, 1, 'SYN');
      t.probe(ip, MIN, 2, 'SYN');
    }
    t.setPending(t.get('queued'), true);
    t.probe('calm', MIN + 10 * MIN, 3, 'SYN'); // findtime (10 min) after its last probe
    t.probe('queued', MIN + 10 * MIN, 3, 'SYN');
    expect(t.hitsOf(t.get('calm'))).toBe(1);
    expect(t.portCount(t.get('calm'))).toBe(1);
    expect(t.hitsOf(t.get('queued'))).toBe(3);
    expect(t.portCount(t.get('queued'))).toBe(3);
    // A probe less than a whole window later keeps the window.
    t.probe('calm', MIN + 20 * MIN - 1, 4, 'SYN');
    expect(t.hitsOf(t.get('calm'))).toBe(2);
  });
});

describe('SourceTracker: a resend of one connection attempt is one probe', () => {
  const key = (spt: number, dpt: number, udp = false, src = 7): [number, number] => [connectionPorts(spt, dpt), connectionFrom(udp, src)];
  /** Probes [time, dpt, spt] of one source; per probe the slot's hits when it crossed, else null. */
  const run = (t: SourceTracker, ip: string, probes: [number, number, number][], udp = false): (number | null)[] =>
    probes.map(([time, dpt, spt]) => {
      const slot = t.probe(ip, time, dpt, udp ? 'UDP' : 'SYN', undefined, -1, ...key(spt, dpt, udp));
      return slot === NO_SLOT ? null : t.hitsOf(slot);
    });
  // A mail client's autoconfig: 993, 587, 465 once each, every SYN resent after 1 s and 3 s (DROP: no answer).
  const autoconfig: [number, number, number][] = [
    [0, 993, 51000], [1000, 993, 51000], [1000, 587, 51002], [2000, 587, 51002], [2000, 465, 51004],
    [3000, 993, 51000], [3000, 465, 51004], [4000, 587, 51002], [5000, 465, 51004],
  ];

  it('three attempts resent twice each are three probes, not a scan; the resends count as hits', () => {
    for (const s of [S, { ...S, maxretry: 150 }]) {
      // maxretry 150: the layout with each slot's own arrays (source-windows.ts) behaves the same.
      const t = new SourceTracker(s);
      expect(run(t, 'a', autoconfig).every((x) => x === null)).toBe(true);
      const slot = t.get('a');
      expect(t.probesOf(slot)).toBe(3);
      expect(t.hitsOf(slot)).toBe(9);
      expect(t.times(slot)).toEqual([0, 1000, 2000]);
    }
  });

  it('new attempts count: another source port, another destination port, another protocol, or the same ports again 2 minutes later', () => {
    const t = new SourceTracker(S);
    expect(run(t, 'a', [[0, 22, 40000], [1, 22, 40001], [2, 23, 40001]])).toEqual([null, null, null]);
    expect(t.probesOf(t.get('a'))).toBe(3);
    expect(run(t, 'a', [[3, 22, 40000]], true)).toEqual([null]); // UDP from the same ports
    expect(run(t, 'a', [[2 * MIN + 3, 24, 40000]])).toEqual([5]); // 5 probes on 3 ports: a scan
    const u = new SourceTracker(S);
    run(u, 'b', [[0, 22, 40000]]);
    expect(run(u, 'b', [[2 * MIN - 1, 22, 40000], [2 * MIN, 22, 40000]])).toEqual([null, null]);
    expect(u.probesOf(u.get('b'))).toBe(2); // the first resend within 2 minutes, the second (2 min after the probe) a new attempt
  });

  it('probes without a key (pings, or no source port) are never resends', () => {
    const t = new SourceTracker(S);
    for (let i = 0; i < 4; i++) t.probe('a', i, null, 'OTHER');
    t.probe('a', 5, 22, 'SYN');
    t.probe('a', 6, 22, 'SYN');
    expect(t.probesOf(t.get('a'))).toBe(5);
  });

  it('a nmap scan from one fixed source port still counts every port', () => {
    const t = new SourceTracker(S);
    expect(run(t, 'a', [21, 22, 23, 25, 80].map((p, i): [number, number, number] => [i * 100, p, 53]))).toEqual([null, null, null, null, 5]);
  });

  it("a network window: two members' attempts from the same ports are two probes (the key holds bits of the address)", () => {
    const t = new SourceTracker(S);
    const probe = (time: number, dpt: number, src: number) => t.probe('2001:db8::/64', time, dpt, 'SYN', undefined, -1, ...key(40000, dpt, false, src));
    probe(0, 22, 0xa);
    probe(1, 22, 0xb);
    probe(2, 22, 0xa); // a resend of the first member's
    expect(t.probesOf(t.get('2001:db8::/64'))).toBe(2);
  });

  it('a re-layout keeps the keys: a resend after it is still a resend', () => {
    const t = new SourceTracker(S);
    run(t, 'a', [[0, 22, 40000], [1, 23, 40001]]);
    t.configure({ ...S, maxretry: 6 });
    run(t, 'a', [[1000, 22, 40000]]);
    expect(t.probesOf(t.get('a'))).toBe(2);
    expect(t.windowOf(t.get('a')).keys).toEqual([connectionKey(...key(40000, 22)), connectionKey(...key(40001, 23))]);
  });
});
