/**
 * Proxmox VE guests: a record of a guest's inbound chain (PacketEvent.guest) counts only where the
 * engine is told to count it — a replay (ScanEngineOptions.countGuestRecords). The live engine keeps
 * its rule: a forwarded record (OUT= set) is not a scan of this host, also when it names a guest,
 * and when it is the kernel's own LOG line of a packet bridged to a guest.
 */
import { describe, expect, it } from 'vitest';
import { ScanEngine, type ScanEngineOptions } from '../../electron/engine/engine.ts';
import { parseRecord } from '../../electron/engine/parse/index.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import type { EngineEvent } from '../../electron/shared/model.ts';
import type { PacketEvent } from '../../electron/shared/packet.ts';
import { SettingsSchema } from '../../electron/shared/settings.ts';

// Trust not required and PVE's prefix counted: what is left to decide is the direction alone.
const settings = SettingsSchema.parse({ detection: { requireKernelTrust: false, prefixes: ['UFW BLOCK', 'policy DROP'] } });
const PORTS = [22, 80, 443, 3306, 5432, 8080];

function make(over: Partial<ScanEngineOptions> = {}) {
  const events: EngineEvent[] = [];
  const engine = new ScanEngine({ settings, clock: new ManualClock(Date.UTC(2026, 10, 22, 10)), ...over }, (e) => events.push(e));
  return { engine, bans: () => events.filter((e) => e.type === 'ban') };
}

/** VM 100's inbound chain logging a scan of it, as pvefw-logger writes it. */
function guestScan(): PacketEvent[] {
  return PORTS.map((dpt, i) => {
    const r = parseRecord(
      `100 6 tap100i0-IN 22/Nov/2026:11:00:0${i} +0100 policy DROP: IN=fwbr100i0 OUT=fwbr100i0 PHYSIN=fwln100i0 PHYSOUT=tap100i0 ` +
        `MAC=bc:24:11:8a:10:00:52:54:00:ab:cd:ef:08:00 SRC=198.51.100.23 DST=192.0.2.100 LEN=44 TOS=0x00 PREC=0x00 TTL=49 ID=${2000 + i} ` +
        `PROTO=TCP SPT=41000 DPT=${dpt} SEQ=1 ACK=0 WINDOW=1024 SYN `,
    );
    if (!r.ok) throw new Error(r.reason);
    expect(r.packet.guest).toBe(100);
    return r.packet;
  });
}

describe('Proxmox VE guest records', () => {
  it('the live engine (no countGuestRecords) does not count them: forwarded, not for this host', () => {
    const { engine, bans } = make();
    expect(guestScan().map((p) => engine.ingestPacket(p))).toEqual(PORTS.map(() => 'not-inbound'));
    expect(bans()).toEqual([]);
  });

  it("the live engine does not count the kernel's LOG line of a packet bridged to a guest either (it names no guest)", () => {
    for (const over of [{}, { countGuestRecords: true }]) {
      const { engine, bans } = make({ ...over, parse: { framing: 'kmsg' } });
      for (const [i, dpt] of PORTS.entries()) {
        engine.ingestLine(
          `4,${100 + i},${1_000_000 + i},-;[UFW BLOCK] IN=fwbr100i0 OUT=fwbr100i0 PHYSIN=fwln100i0 PHYSOUT=tap100i0 MAC=bc:24:11:8a:10:00:52:54:00:ab:cd:ef:08:00 ` +
            `SRC=198.51.100.23 DST=192.0.2.100 LEN=44 TOS=0x00 PREC=0x00 TTL=49 ID=${2000 + i} PROTO=TCP SPT=41000 DPT=${dpt} WINDOW=1024 RES=0x00 SYN URGP=0`,
        );
      }
      expect(engine.stats().ignored['not-inbound'], JSON.stringify(over)).toBe(PORTS.length);
      expect(bans()).toEqual([]);
    }
  });

  it("a replay's engine (countGuestRecords) counts them as a scan of the guest, and this host's open ports are not the guest's", () => {
    // Port 22 is open on this host: a probe of the guest's port 22 is still evidence.
    const { engine, bans } = make({ countGuestRecords: true, isAllowedPort: (_f, _p, port) => port === 22 });
    expect(guestScan().map((p) => engine.ingestPacket(p))).toEqual(['counted', 'counted', 'counted', 'counted', 'counted', 'already-banned']);
    expect(bans().map((e) => e.type === 'ban' && e.ban.ip)).toEqual(['198.51.100.23']);
  });

  it("a guest's outbound chain (its own traffic) is not counted, even by a replay's engine", () => {
    const { engine } = make({ countGuestRecords: true });
    const r = parseRecord(
      '100 6 tap100i0-OUT 22/Nov/2026:11:00:00 +0100 policy DROP: IN=fwbr100i0 OUT=fwbr100i0 PHYSIN=tap100i0 PHYSOUT=fwln100i0 SRC=192.0.2.100 DST=198.18.7.7 LEN=44 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=TCP SPT=41000 DPT=25 SEQ=1 ACK=0 WINDOW=1024 SYN ',
    );
    expect(r.ok && engine.ingestPacket(r.packet)).toBe('not-inbound');
  });
});
