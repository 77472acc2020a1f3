import { describe, expect, it } from 'vitest';
import { NO_SLOT, SourceTable } from '../../../electron/engine/detect/source-table.ts';
import { ipv4Key } from '../../../electron/engine/detect/tracker.ts';

describe('SourceTable', () => {
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
    expect(t.inLruOrder()).toEqual([s[1], s[2], s[3], s[0]]);
    t.remove(s[2]!);
    expect(t.inLruOrder()).toEqual([s[1], s[3], s[0]]);
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

  it('clear forgets everything', () => {
    const t = new SourceTable(10);
    t.add('a', -1);
    t.add('1.2.3.4', ipv4Key('1.2.3.4'));
    t.clear();
    expect(t.size).toBe(0);
    expect(t.oldest()).toBe(NO_SLOT);
    expect(t.getName('a')).toBe(NO_SLOT);
  });
});
