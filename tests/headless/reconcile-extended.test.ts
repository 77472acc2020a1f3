/**
 * A ban extended since it went into the firewall (banned again for longer) is banned again at the
 * start's reconcile with the end the store holds. The ufw backend keeps a rule's first end (`exp:` in
 * its comment: ufw skips a rule it has), lists that end, and after a restart filled the forward set's
 * element from it: the element expired at the old end while the ban and its input rule stood.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../electron/shared/domain.ts';
import type { BanRecord } from '../../electron/shared/model.ts';
import { PortcullisService } from '../../electron/app/service.ts';
import { FakeEngine, FakeFirewall, FakeHelper, fakeParser, Journal, MemorySettings, MemoryStore, PushSource } from './fakes.ts';

const ban = (ip: string, at: number, until: number | null): BanRecord => ({
  ip,
  at,
  until,
  strikes: 1,
  reason: { kind: 'manual', ports: [], hits: 0, firstSeen: at, lastSeen: at },
});

function setup() {
  const journal = new Journal();
  const clock = new ManualClock(1_700_000_000_000);
  const store = new MemoryStore(journal);
  const firewall = new FakeFirewall(journal);
  const logs: string[] = [];
  const service = new PortcullisService({
    clock,
    settingsRepo: new MemorySettings({}),
    createEngine: (o, sink) => new FakeEngine(o, sink),
    parseLine: fakeParser(clock),
    store,
    source: new PushSource(),
    firewall,
    helper: new FakeHelper(),
    hostInfo: async () => ({ addresses: ['10.0.0.1'], interfaces: ['eth0'], gateways: [] }),
    tickMs: 3_600_000,
    log: (level, message) => logs.push(`${level}: ${message}`),
  });
  return { clock, store, firewall, service, logs };
}

describe('reconcile: bans extended since they went into the firewall', () => {
  it('are banned again with the end the store holds (a later end, or none); the rest are left alone', async () => {
    const t = setup();
    const now = t.clock.now();
    // Extended from 10 min to 1 h: the firewall still lists the first end.
    t.store.recordBan(ban('192.0.2.20', now - 60_000, now + 3_600_000));
    t.firewall.bans.set('192.0.2.20', now + 600_000);
    // Made permanent since.
    t.store.recordBan(ban('192.0.2.21', now - 60_000, null));
    t.firewall.bans.set('192.0.2.21', now + 600_000);
    // Due in the firewall's book (its old end passed while nothing ran), not in the store's.
    t.store.recordBan(ban('192.0.2.22', now - 900_000, now + 3_000_000));
    t.firewall.bans.set('192.0.2.22', now);
    // The same end within the listing's whole seconds; a firewall entry without an end (a long ban); an earlier store end.
    t.store.recordBan(ban('192.0.2.23', now - 60_000, now + 600_000));
    t.firewall.bans.set('192.0.2.23', now + 598_000);
    t.store.recordBan(ban('192.0.2.24', now - 60_000, now + 40 * 86_400_000));
    t.firewall.bans.set('192.0.2.24', null);
    t.store.recordBan(ban('192.0.2.25', now - 60_000, now + 600_000));
    t.firewall.bans.set('192.0.2.25', now + 900_000);
    await t.service.start();
    await t.service.idle();
    expect(t.firewall.calls.filter((c) => c.startsWith('ban ')).sort()).toEqual(['ban 192.0.2.20', 'ban 192.0.2.21', 'ban 192.0.2.22']);
    expect(t.firewall.bans.get('192.0.2.20')).toBe(now + 3_600_000);
    expect(t.firewall.bans.get('192.0.2.21')).toBeNull();
    expect(t.firewall.bans.get('192.0.2.22')).toBe(now + 3_000_000);
    expect(t.logs).toContain('info: reconciled: 0 restored, 0 removed, 0 de-duplicated, 3 banned again with the later end the store holds');
    await t.service.stop();
  });
});
