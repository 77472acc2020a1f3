/** Shared fakes for the main-process tests: a full State and handlers that record their calls. */
import type { ApiHandlers, State } from '../../electron/shared/api.ts';
import type { BanRecord } from '../../electron/shared/model.ts';

export function makeState(over: Partial<State> = {}): State {
  return {
    protection: 'on',
    pausedUntil: null,
    firewall: { installed: true, enabled: true, defaultIncoming: 'deny', defaultOutgoing: 'allow', defaultRouted: 'disabled', loggingLevel: 'low', perSourceLogging: true },
    helper: { connected: true },
    backend: 'set',
    counts: { blockedPackets: 10, scanners: 2, activeBans: 1, deferredBans: 0 },
    source: { kind: 'kmsg', description: '/dev/kmsg', kernelTrusted: true, lastRecordAt: 0, linesPerMinute: 3, rejectsPerMinute: 0 },
    lastBanAt: null,
    version: '0.1.0',
    ...over,
  };
}

export function makeBan(ip: string, at: number, over: Partial<BanRecord> = {}): BanRecord {
  return {
    ip,
    at,
    until: at + 3_600_000,
    strikes: 1,
    reason: { kind: 'scan', scanType: 'SYN', ports: [22, 23, 80, 443], hits: 12, firstSeen: at - 5000, lastSeen: at },
    ...over,
  };
}

/** Handlers whose every method records (method, params) and answers with a plausible result. */
export function recordingHandlers(calls: { method: string; params: unknown }[]): ApiHandlers {
  return new Proxy({} as ApiHandlers, {
    get(_t, method: string) {
      return async (params: unknown) => {
        calls.push({ method, params });
        if (method === 'getState' || method === 'setProtection' || method === 'pauseProtection') return makeState();
        if (method === 'unban') return { ok: true };
        return {};
      };
    },
  });
}
