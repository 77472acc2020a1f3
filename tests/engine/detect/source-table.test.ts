import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAIN, NO_SLOT, PROBATION, SourceTable } from '../../../electron/engine/detect/source-table.ts';
import { ipv4Key } from '../../../electron/engine/detect/tracker.ts';

describe('SourceTable', () => {
  it('isFiled: a slot holds its source until it is removed, an IPv4 one and one filed by name alike', () => {
    const t = new SourceTable(10);
    const a = t.add('10.0.0.1', ipv4Key('10.0.0.1'));
    const b = t.add('2001:db8::1', -1);
    expect([t.isFiled(a), t.isFiled(b)]).toEqual([true, true]);
    t.remove(b);
    t.remove(a);
    expect([t.isFiled(a), t.isFiled(b)]).toEqual([false, false]);
  });

  it('files IPv4 keys by value and other keys by name, and finds each only its own way', () => {
    const t = new SourceTable(10);
    const a = t.add('10.0.0.1', ipv4Key('10.0.0.1'));
    const b = t.add('2001:db8::1', -1);
    expect(t.getV4(ipv4Key('10.0.0.1'))).toBe(a);
    expect(t.getName('10.0.0.1')).toBe(NO_SLOT);
    expect(t.getName('2001:db8::1')).toBe(b);
    expect(t.keyOf(a)).toBe('10.0.0.1');
    expect(t.size).toBe(2);
    t.remove(a);
    expect(t.getV4(ipv4Key('10.0.0.1'))).toBe(NO_SLOT);
    expect(t.size).toBe(1);
    // The freed slot is handed out again.
    expect(t.add('10.0.0.2', ipv4Key('10.0.0.2'))).toBe(a);
  });

  it('keeps least-recently-seen order through touch and remove', () => {
    const t = new SourceTable(10);
    const s = ['1.1.1.1', '1.1.1.2', '1.1.1.3', '1.1.1.4'].map((ip) => t.add(ip, ipv4Key(ip)));
    t.touch(s[0]!);
    expect(t.inAreaOrder()).toEqual([s[1], s[2], s[3], s[0]]);
    t.remove(s[2]!);
    expect(t.inAreaOrder()).toEqual([s[1], s[3], s[0]]);
    expect(t.oldest()).toBe(s[1]);
    expect(new Set(t.slots())).toEqual(new Set([s[0], s[1], s[3]]));
  });

  it('the IPv4 hash survives growth and removals in long probe runs (backward shift)', () => {
    const t = new SourceTable(100_000);
    const keys = Array.from({ length: 5000 }, (_, i) => (0x0a000000 + i * 4099) >>> 0);
    const slots = keys.map((k) => t.add(`k${k}`, k));
    for (let i = 0; i < keys.length; i += 3) t.remove(slots[i]!);
    for (let i = 0; i < keys.length; i++) expect(t.getV4(keys[i]!)).toBe(i % 3 === 0 ? NO_SLOT : slots[i]);
    expect(t.size).toBe(keys.length - Math.ceil(keys.length / 3));
  });

  it('names a source to evict whenever it holds one, even under a bound of 0 (the main area then has no share)', () => {
    const t = new SourceTable(0);
    const a = t.add('a', -1);
    expect(t.oldest()).toBe(a);
    t.touch(a, MAIN);
    expect(t.oldest()).toBe(a);
    expect(t.mainOldest()).toBe(a);
    t.remove(a);
    expect(t.oldest()).toBe(NO_SLOT);
  });

  it('clear forgets everything', () => {
    const t = new SourceTable(10);
    t.add('a', -1);
    t.add('1.2.3.4', ipv4Key('1.2.3.4'));
    t.clear();
    expect(t.size).toBe(0);
    expect(t.oldest()).toBe(NO_SLOT);
    expect(t.getName('a')).toBe(NO_SLOT);
  });

  it('least-recently-seen order matches a plain list through long runs of adds, touches, removals and evictions', () => {
    // Long enough that the touch queue is compacted and grown many times over (it starts at 1024 entries).
    const op = fc.oneof(fc.record({ kind: fc.constant('add' as const) }), fc.record({ kind: fc.constantFrom('touch' as const, 'remove' as const), pick: fc.nat() }), fc.record({ kind: fc.constant('evict' as const) }));
    fc.assert(
      fc.property(fc.array(op, { minLength: 4000, maxLength: 8000 }), fc.integer({ min: 1, max: 300 }), (ops, bound) => {
        const t = new SourceTable(bound);
        const order: number[] = []; // the reference: slots, least recently seen first
        let next = 0;
        for (const o of ops) {
          if (o.kind === 'add') {
            const key = (0x0b000000 + next++) >>> 0;
            const slot = t.add(`k${key}`, key);
            order.push(slot);
            if (order.length > bound) {
              const oldest = t.oldest();
              if (oldest !== order[0]) return false;
              t.remove(oldest);
              order.shift();
            }
          } else if (o.kind === 'evict') {
            if (t.oldest() !== (order[0] ?? NO_SLOT)) return false;
          } else if (order.length > 0) {
            const slot = order[o.pick % order.length]!;
            order.splice(order.indexOf(slot), 1);
            if (o.kind === 'touch') {
              t.touch(slot);
              order.push(slot);
            } else t.remove(slot);
          }
        }
        return t.size === order.length && t.inAreaOrder().join() === order.join();
      }),
      { numRuns: 30 },
    );
  });

  it('two areas: each keeps its order; the bound evicts from probation unless it is empty or the main area holds more than all but a quarter of the bound', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const) }),
      fc.record({ kind: fc.constantFrom('touch' as const, 'promote' as const, 'demote' as const, 'remove' as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(op, { minLength: 500, maxLength: 3000 }), fc.integer({ min: 1, max: 60 }), (ops, bound) => {
        const t = new SourceTable(bound);
        // The reference: each area's slots, least recently seen first.
        const probation: number[] = [];
        const main: number[] = [];
        const mainShare = bound - Math.max(1, Math.ceil(bound / 4));
        let next = 0;
        for (const o of ops) {
          if (o.kind === 'add') {
            const key = (0x0b000000 + next++) >>> 0;
            const slot = t.add(`k${key}`, key);
            probation.push(slot);
            if (probation.length + main.length > bound) {
              const from = probation.length === 0 || main.length > mainShare ? main : probation;
              const oldest = t.oldest();
              if (oldest !== from[0] || oldest === slot) return false;
              t.remove(oldest);
              from.shift();
            }
            continue;
          }
          const all = [...probation, ...main];
          if (all.length === 0) continue;
          const slot = all[o.pick % all.length]!;
          const area = probation.includes(slot) ? probation : main;
          if (t.areaOf(slot) !== (area === main ? MAIN : PROBATION)) return false;
          area.splice(area.indexOf(slot), 1);
          if (o.kind === 'remove') t.remove(slot);
          else if (o.kind === 'touch') {
            t.touch(slot);
            area.push(slot);
          } else {
            t.touch(slot, o.kind === 'promote' ? MAIN : PROBATION);
            (o.kind === 'promote' ? main : probation).push(slot);
          }
        }
        return t.size === probation.length + main.length && t.inAreaOrder().join() === [...probation, ...main].join();
      }),
      { numRuns: 60 },
    );
  });
});
