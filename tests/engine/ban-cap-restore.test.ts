import { describe, expect, it } from 'vitest';
import { ScanEngine } from '../../electron/engine/engine.ts';
import type { DeferredBan } from '../../electron/engine/detect/policy.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import { SettingsSchema } from '../../electron/shared/settings.ts';
import { T0 } from './detect/packets.ts';

const waiting = (ip: string): DeferredBan => ({ ip, queuedAt: T0, lastSeen: T0, ports: 6, reason: { kind: 'scan', scanType: 'SYN', ports: [1, 2, 3, 4, 5, 6], hits: 6, firstSeen: T0, lastSeen: T0 } });

describe('restoring the ban cap after a restart', () => {
  it('held-back bans wait again, except those banned or whitelisted now, not in canonical form, or a network holding a protected address', () => {
    const settings = SettingsSchema.parse({ whitelist: { entries: ['198.51.100.9'] } });
    const engine = new ScanEngine({ settings, clock: new ManualClock(T0), hostAddresses: ['2001:db8:9:9::1'] }, () => {});
    engine.ban('203.0.113.5', { at: T0 });
    engine.restoreBanCap(
      {
        recent: [T0 - 1000],
        deferred: ['203.0.113.7', '203.0.113.5', '198.51.100.9', '2001:DB8::1', '2001:db8:1:2::/64', '2001:db8:9:9::/64', '2001:db8::2'].map(waiting),
      },
      T0,
    );
    expect(engine.deferredBans()).toEqual(['203.0.113.7', '2001:db8:1:2::/64', '2001:db8::2']);
    expect(engine.banCapState().recent).toEqual([T0 - 1000]);
  });
});
