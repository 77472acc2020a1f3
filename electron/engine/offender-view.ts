/** How the engine shows a ban as an offender row (the Offenders screen, `getOffenders`). */
import type { BanRecord, Offender } from '../shared/model.ts';

/** Ports listed in an offender row (most targeted first). */
export const OFFENDER_PORT_LIMIT = 20;

/** A banned source's row from its ban; a prefix ban (ip = network) carries the member addresses seen. */
export function offenderFromBan(b: BanRecord): Offender {
  const r = b.reason;
  return {
    ip: b.ip,
    hits: r.hits,
    distinctPorts: r.ports.length,
    ports: r.ports.slice(0, OFFENDER_PORT_LIMIT),
    firstSeen: r.firstSeen,
    lastSeen: r.lastSeen,
    scanType: r.scanType ?? 'OTHER',
    state: 'banned',
    strikes: b.strikes,
    bannedUntil: b.until,
    ...(r.members ? { members: [...r.members] } : {}),
  };
}
