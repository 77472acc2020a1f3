/**
 * The helper's closed op set (electron/shared/helper-protocol.ts) seen as the two ports the service
 * uses: FirewallPort (ban backends) and HelperOpsPort (status, rules, blocks, doctor). The transport is
 * a single `call(op, args)` function: the in-process dispatcher for `portcullis run`/`serve` (already
 * root), or the helper socket client in the desktop app.
 */
import type { DoctorCheck, FirewallState, RuleOp, RulesView } from '../shared/api.ts';
import type { HelperArgs, HelperOp, HelperResult, HelperStatus } from '../shared/helper-protocol.ts';
import type { FirewallPort } from '../engine/ports.ts';
import type { HelperOpsPort } from './contracts.ts';

export type HelperCall = <O extends HelperOp>(op: O, args: HelperArgs<O>) => Promise<HelperResult<O>>;

/** Wraps a dispatcher `handle(request) → response` (in-process use) as a typed call that throws on errors. */
export function callViaDispatcher(handle: (req: unknown) => Promise<unknown>): HelperCall {
  let nextId = 1;
  return (async (op: HelperOp, args: unknown) => {
    const res = (await handle({ id: nextId++, op, args })) as
      | { ok: true; result: unknown }
      | { ok: false; error: { code: string; message: string } };
    if (!res || typeof res !== 'object') throw new Error(`helper: no answer to ${op}`);
    if (!res.ok) throw new Error(`helper ${op}: ${res.error.message} (${res.error.code})`);
    return res.result;
  }) as HelperCall;
}

export function firewallPortOf(call: HelperCall, backend: 'ufw' | 'set', now: () => number = Date.now): FirewallPort {
  return {
    async ban(ip, until, comment) {
      // The kernel/ufw counts in seconds from now; round up so a ban never ends early.
      const timeoutSec = until === null ? null : Math.max(1, Math.ceil((until - now()) / 1000));
      await call('ban', { ip, timeoutSec, comment, backend });
    },
    async unban(ip) {
      await call('unban', { ip, backend });
    },
    async listBans() {
      const r = await call('listBans', { backend });
      const t = now();
      return r.bans.map((b) => ({ ip: b.ip, until: b.expiresInSec === null ? null : t + b.expiresInSec * 1000 }));
    },
    async cutConnections(ip) {
      await call('cutConnections', { ip });
    },
  };
}

export function firewallStateOf(s: HelperStatus): FirewallState {
  return {
    installed: s.installed,
    enabled: s.enabled,
    defaultIncoming: s.defaults.incoming || null,
    defaultOutgoing: s.defaults.outgoing || null,
    defaultRouted: s.defaults.routed || null,
    loggingLevel: s.logging || null,
    perSourceLogging: s.blocks.perSourceLogging,
  };
}

export function rulesViewOf(s: HelperStatus): RulesView {
  return {
    enabled: s.enabled,
    defaults: s.defaults,
    logging: s.logging,
    rules: s.rules,
    portcullisRules: s.portcullisRules,
    appProfiles: s.appProfiles,
  };
}

const FIXES: Record<string, { id: string; label: string }> = {
  'ufw-enabled': { id: 'enable-ufw', label: 'Enable ufw' },
  logging: { id: 'logging-low', label: 'Turn logging on (low)' },
  'per-source-logging': { id: 'install-per-source-logging', label: 'Install per-source logging' },
  'set-block': { id: 'install-set-block', label: 'Install the set-backend block' },
};

function fixFor(id: string): { id: string; label: string } | undefined {
  if (FIXES[id]) return FIXES[id];
  if (/enabl/.test(id)) return FIXES['ufw-enabled'];
  if (/per-?source/i.test(id)) return FIXES['per-source-logging'];
  if (/logging/.test(id)) return FIXES.logging;
  if (/set/.test(id) && /block/.test(id)) return FIXES['set-block'];
  return undefined;
}

/**
 * Helper checks that are not failures when they are off: per-source logging is an improvement, and the
 * set block, ipset and conntrack matter only to the set backend / cutting sessions (the runner refuses
 * to start the set backend without them, with its own message). Reported as warnings, so `doctor`
 * exits 0 on a host that works.
 */
const WARN_ONLY = new Set(['per-source-logging', 'set-block', 'ipset', 'conntrack']);

/** What each helper check is about, in words for people ("Ufw installed", "Kmsg", "Set block" read machine-made). */
const TITLES: Record<string, string> = {
  'ufw-installed': 'ufw is installed',
  'ufw-status': 'ufw answers',
  'ufw-enabled': 'The firewall is on',
  'ufw-logging': 'ufw logs blocked packets',
  kmsg: 'The kernel log can be read',
  'per-source-logging': 'Every scanner gets logged (per-source logging)',
  'set-block': 'Ready for fast bans (ipset block in ufw)',
  ipset: 'ipset is installed (fast bans)',
  conntrack: 'conntrack is installed (cuts a banned host\'s open connections)',
};

function titleOf(id: string): string {
  if (TITLES[id]) return TITLES[id];
  const t = id.replace(/[-_]+/g, ' ');
  return t.charAt(0).toUpperCase() + t.slice(1);
}

export function helperOpsOf(call: HelperCall): HelperOpsPort {
  return {
    async status() {
      const s = await call('status', {});
      return { firewall: firewallStateOf(s), rules: rulesViewOf(s) };
    },
    async previewRule(op: RuleOp) {
      return (await call('previewRule', { op })).commands;
    },
    async applyRule(op: RuleOp) {
      switch (op.kind) {
        case 'add':
          if (op.position) await call('insertRule', { position: op.position, rule: op.rule });
          else await call('addRule', { rule: op.rule });
          return;
        // The rule the user saw goes along: the helper acts on it (found again if numbers moved) or refuses.
        case 'edit':
          await call('editRule', { number: op.number, rule: op.rule, ...(op.expect ? { expect: op.expect } : {}) });
          return;
        case 'delete':
          await call('deleteRule', { number: op.number, ...(op.expect ? { expect: op.expect } : {}) });
          return;
        case 'move':
          await call('moveRule', { number: op.number, to: op.to, ...(op.expect ? { expect: op.expect } : {}) });
          return;
      }
    },
    async setEnabled(enabled) {
      await call(enabled ? 'enable' : 'disable', {});
    },
    async setDefault(direction, policy) {
      await call('setDefault', { direction, policy });
    },
    async setLogging(level) {
      await call('setLogging', { level });
    },
    async setPerSourceLogging(installed) {
      await call(installed ? 'installBlocks' : 'removeBlocks', { block: 'perSourceLogging' });
    },
    async setSetBlock(installed) {
      await call(installed ? 'installBlocks' : 'removeBlocks', { block: 'set' });
    },
    async doctor(): Promise<DoctorCheck[]> {
      const r = await call('doctor', {});
      return r.checks.map((c) => {
        const fix = c.ok ? undefined : fixFor(c.id);
        const level = c.ok ? ('ok' as const) : WARN_ONLY.has(c.id) ? ('warn' as const) : ('error' as const);
        return { id: c.id, title: titleOf(c.id), level, detail: c.detail, ...(fix ? { fix } : {}) };
      });
    },
  };
}
