import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BanBook } from '../../../electron/engine/detect/banbook.ts';
import type { BanRecord } from '../../../electron/shared/model.ts';

const ban = (ip: string, at: number, until: number | null, over: Partial<BanRecord['reason']> = {}): BanRecord => ({
  ip,
  at,
  until,
  strikes: 1,
  reason: { kind: 'scan', scanType: 'SYN', ports: [1, 2, 3], hits: 5, firstSeen: at - 10, lastSeen: at, ...over },
});

describe('BanBook', () => {
  it('expires in order of end, whatever the insertion order', () => {
    const b = new BanBook();
    b.add(ban('c', 0, 300));
    b.add(ban('a', 0, 100));
    b.add(ban('b', 0, 200));
    b.add(ban('p', 0, null));
    expect(b.nextExpiry()).toBe(100);
    expect(b.expire(99)).toEqual([]);
    expect(b.expire(250).map((r) => r.ip)).toEqual(['a', 'b']);
    expect(b.nextExpiry()).toBe(300);
    expect(b.expire(1e12).map((r) => r.ip)).toEqual(['c']);
    expect(b.nextExpiry()).toBeNull();
    expect(b.has('p')).toBe(true); // permanent never expires
  });

  it("an extended ban's origin: a fleet ban stays one, of the decision that stands now (the newer one, with its end); this host's evidence on either side makes it this host's", () => {
    const b = new BanBook();
    b.add(ban('f', 0, 100, { origin: 'hostB' }));
    expect(b.add(ban('f', 10, 500, { origin: 'hostC' })).record.reason.origin).toBe('hostC'); // the longer decision holds it
    // The fleet hands on a shorter decision only once the longer one is gone: it holds the ban now, until its own end.
    expect(b.add(ban('f', 20, 300, { origin: 'hostB' })).record).toMatchObject({ until: 300, reason: { origin: 'hostB' } });
    expect(b.nextExpiry()).toBe(300);
    expect(b.expire(300).map((r) => r.ip)).toEqual(['f']);
    b.add(ban('f', 0, 100, { origin: 'hostB' }));
    expect(b.add(ban('f', 30, null, { origin: 'hostB' })).record.reason.origin).toBe('hostB'); // a permanent one does
    expect(b.add(ban('f', 40, 50)).record.reason.origin).toBeUndefined(); // this host's own ban of it
    b.add(ban('l', 0, 100));
    expect(b.add(ban('l', 10, 900, { origin: 'hostB' })).record.reason.origin).toBeUndefined(); // a local ban extended by the fleet stays local
  });

  it("a ban of this host's own that a fleet ban outlasts keeps its own end apart (ownUntil: what it pushes); none when its own end is the ban's", () => {
    const b = new BanBook();
    b.add(ban('f', 0, 4000, { origin: 'hostB' }));
    const mine = b.add(ban('f', 10, 600)).record;
    expect(mine).toMatchObject({ until: 4000, reason: { ownUntil: 600 } });
    expect(mine.reason.origin).toBeUndefined();
    expect(b.add(ban('f', 20, 1200)).record.reason.ownUntil).toBe(1200); // a longer own ban: its own part grows
    expect(b.add(ban('f', 30, 900)).record.reason.ownUntil).toBe(1200); // a shorter one does not shorten it
    expect(b.add(ban('f', 40, 5000)).record).toMatchObject({ until: 5000 }); // outlasting the fleet's: all its own
    expect(b.get('f')!.reason.ownUntil).toBeUndefined();
    // A local ban the fleet extends: the same.
    b.add(ban('l', 0, 100));
    expect(b.add(ban('l', 10, 900, { origin: 'hostB' })).record.reason.ownUntil).toBe(100);
    // A permanent own ban is the whole ban.
    b.add(ban('p', 0, 4000, { origin: 'hostB' }));
    expect(b.add(ban('p', 10, null)).record.reason.ownUntil).toBeUndefined();
  });

  it('extends instead of duplicating: later end wins, reasons merge', () => {
    const b = new BanBook();
    b.add(ban('a', 0, 100, { ports: [22, 80], hits: 5 }));
    const r = b.add({ ...ban('a', 50, 500, { ports: [80, 443], hits: 3, kind: 'manual', note: 'by hand' }), strikes: 2 });
    expect(r.extended).toBe(true);
    expect(b.size).toBe(1);
    expect(r.record).toMatchObject({ at: 0, until: 500, strikes: 2 });
    expect(r.record.reason).toMatchObject({ kind: 'manual', ports: [22, 80, 443], hits: 8, note: 'by hand' });
    expect(b.expire(100)).toEqual([]); // the old end is stale
    expect(b.nextExpiry()).toBe(500);
    // A shorter new end does not shorten it; a permanent one makes it permanent.
    expect(b.add(ban('a', 60, 200)).record.until).toBe(500);
    expect(b.add(ban('a', 70, null)).record.until).toBeNull();
    expect(b.nextExpiry()).toBeNull();
  });

  it('remove is lazy in the heap but exact in answers', () => {
    const b = new BanBook();
    b.add(ban('a', 0, 100));
    b.add(ban('b', 0, 200));
    expect(b.remove('a')?.ip).toBe('a');
    expect(b.remove('a')).toBeUndefined();
    expect(b.nextExpiry()).toBe(200);
    b.add(ban('a', 300, 400)); // banned again later: the old heap entry must not expire it early
    expect(b.expire(250).map((r) => r.ip)).toEqual(['b']);
    expect(b.has('a')).toBe(true);
  });

  it('the heap stays O(active bans) under churn', () => {
    const b = new BanBook();
    for (let i = 0; i < 10_000; i++) {
      b.add(ban(`s${i}`, i, i + 1_000_000));
      b.remove(`s${i}`);
    }
    expect(b.size).toBe(0);
    expect(b.heapSize).toBeLessThan(200);
  });

  it('expiry order matches a sort by end (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 1, max: 1000 }), fc.boolean()), { maxLength: 200 }), (ops) => {
        const b = new BanBook();
        const model = new Map<string, number>();
        for (const [k, until, remove] of ops) {
          const ip = `h${k}`;
          if (remove) {
            b.remove(ip);
            model.delete(ip);
          } else {
            b.add(ban(ip, 0, until));
            model.set(ip, Math.max(model.get(ip) ?? 0, until));
          }
        }
        const expired = b.expire(Number.MAX_SAFE_INTEGER);
        const ends = expired.map((r) => r.until!);
        expect(ends).toEqual([...ends].sort((x, y) => x - y));
        expect(new Map(expired.map((r) => [r.ip, r.until!]))).toEqual(model);
      }),
      { numRuns: 300 },
    );
  });

  it('hasV4 and coversV4 answer as has and covering do, after any bans, lifts and expiries of addresses and networks (property)', () => {
    const targets = ['10.0.0.1', '10.0.0.2', '10.0.1.9', '200.1.2.3', '255.255.255.254', '10.0.0.0/24', '200.1.0.0/16', '2001:db8::1', '2001:db8::/64'];
    const probes = ['10.0.0.1', '10.0.0.2', '10.0.0.77', '10.0.1.9', '200.1.2.3', '200.1.9.9', '200.2.0.1', '255.255.255.254', '8.8.8.8'];
    const key = (ip: string) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: targets.length - 1 }), fc.integer({ min: 1, max: 100 }), fc.constantFrom('add', 'remove', 'expire')), { maxLength: 60 }), (ops) => {
        const b = new BanBook();
        for (const [i, t, op] of ops) {
          if (op === 'add') b.add(ban(targets[i]!, 0, t));
          else if (op === 'remove') b.remove(targets[i]!);
          else b.expire(t);
          for (const ip of probes) {
            expect([ip, b.hasV4(key(ip))]).toEqual([ip, b.has(ip)]);
            expect([ip, b.coversV4(key(ip))]).toEqual([ip, b.covering(ip) !== null]);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
