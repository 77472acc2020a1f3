import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../electron/shared/domain.ts';
import type { Offender } from '../../electron/shared/model.ts';
import type { PacketEvent } from '../../electron/shared/packet.ts';
import { SqliteStore } from '../../electron/engine/store/sqlite.ts';
import { serviceStoreOf } from '../../electron/app/adapters.ts';

const T0 = 1_700_000_000_000;

const pkt = (i: number): PacketEvent =>
  ({ time: T0 + i, framing: 'kmsg', trust: 'kernel', prefix: 'UFW BLOCK', in: 'eth0', out: '', src: `10.0.${(i >> 8) & 255}.${i & 255}`, dst: '198.51.100.1', family: 4, proto: 'TCP', spt: 4000, dpt: 1 + (i % 1000), tcpFlags: 2 }) as PacketEvent;
const offender = (i: number): Offender => ({ ip: `10.1.${(i >> 8) & 255}.${i & 255}`, hits: 1, distinctPorts: 1, ports: [1], firstSeen: T0 + i, lastSeen: T0 + i, scanType: 'SYN', state: 'watching', strikes: 0, bannedUntil: null });

describe('the service store prunes a flooded table sooner than once a minute', () => {
  it('within seconds of a table outgrowing its cap, not a minute later (packets and offenders)', () => {
    const clock = new ManualClock(T0 + 10_000);
    const raw = new SqliteStore({ path: ':memory:', maxStoredPackets: 1000, maxStoredOffenders: 1000, batchRows: 100_000 });
    const store = serviceStoreOf(raw, clock);
    store.prune(clock.now(), 7, 1000); // the first prune runs at once
    store.addPackets(Array.from({ length: 5000 }, (_, i) => pkt(i)));
    store.upsertOffenders(Array.from({ length: 5000 }, (_, i) => offender(i)));
    store.flush();
    clock.advance(1000);
    store.prune(clock.now(), 7, 1000); // too soon even over the cap
    expect(raw.packetCountTotal()).toBe(5000);
    clock.advance(5000);
    store.prune(clock.now(), 7, 1000);
    expect(raw.packetCountTotal()).toBe(1000);
    expect(raw.offenders(undefined, 10_000)).toHaveLength(1000);
    // Under the caps, the next prune waits for its minute.
    store.addPackets(Array.from({ length: 50 }, (_, i) => pkt(10_000 + i)));
    clock.advance(6000);
    store.prune(clock.now(), 7, 1000);
    expect(store.packetCount()).toBe(1050);
    raw.close();
  });
});
