/**
 * The helper's closed op set (electron/shared/helper-protocol.ts) seen as the two ports the service
 * uses: FirewallPort (ban backends) and HelperOpsPort (status, rules, blocks, doctor). The transport is
 * a single `call(op, args)` function: the in-process dispatcher for `portcullis run`/`serve` (already
 * root), or the helper socket client in the desktop app.
 */
import type { DoctorCheck, FirewallState, RuleOp, RulesView } from '../shared/api.ts';
import { MAX_BAN_SEC, MAX_BATCH, type HelperArgs, type HelperOp, type HelperResult, type HelperStatus, type SkippedBan } from '../shared/helper-protocol.ts';
import { doctorCheckOf } from '../shared/doctor.ts';
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

/**
 * The helper's timeout for a ban ending at `until`: seconds from now, rounded up so a ban never ends
 * early; null (no timeout) for a permanent ban AND for one longer than the kernel can count down
 * (ipset's ~24.8 days, MAX_BAN_SEC): such a ban is enforced without a timeout and Portcullis lifts
 * it at its end (engine expiry, or reconcile after a restart). Asking for more than MAX_BAN_SEC was
 * refused by the helper, and a 30-day ban stood in the store while nothing reached the firewall.
 */
export function firewallTimeoutSec(until: number | null, now: number): number | null {
  if (until === null) return null;
  const sec = Math.max(1, Math.ceil((until - now) / 1000));
  return sec > MAX_BAN_SEC ? null : sec;
}

export function firewallPortOf(call: HelperCall, backend: 'ufw' | 'set', now: () => number = Date.now): FirewallPort {
  return {
    // The set block is matched before ufw's ESTABLISHED accept (DESIGN field notes); a ufw deny rule is not.
    blocksEstablished: backend === 'set',
    usersRulesDecide: backend === 'ufw',
    async ban(ip, until, comment) {
      return (await call('ban', { ip, timeoutSec: firewallTimeoutSec(until, now()), comment, backend })).skipped;
    },
    async unban(ip, why) {
      await call('unban', { ip, backend, ...(why ? { reason: why } : {}) });
    },
    async listBans() {
      const r = await call('listBans', { backend });
      const t = now();
      return r.bans.map((b) => ({ ip: b.ip, until: b.expiresInSec === null ? null : t + b.expiresInSec * 1000 }));
    },
    async cutConnections(ip) {
      await call('cutConnections', { ip });
    },
    async banMany(bans) {
      const t = now();
      const entries = bans
        .filter((b) => b.until === null || b.until > t) // already over: nothing to enforce
        .map((b) => {
          const sec = b.until === null ? null : Math.max(1, Math.ceil((b.until - t) / 1000));
          // Beyond what a kernel set counts down: permanent in the firewall, lifted by Portcullis.
          return { ip: b.ip, timeoutSec: sec !== null && sec > MAX_BAN_SEC ? null : sec, comment: b.comment };
        });
      const skipped: SkippedBan[] = [];
      for (let i = 0; i < entries.length; i += MAX_BATCH) skipped.push(...(await call('banMany', { bans: entries.slice(i, i + MAX_BATCH), backend })).skipped);
      return skipped;
    },
    async unbanMany(ips, why) {
      const warnings: string[] = [];
      for (let i = 0; i < ips.length; i += MAX_BATCH) warnings.push(...(await call('unbanMany', { ips: ips.slice(i, i + MAX_BATCH), backend, reason: why })).warnings);
      return warnings;
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
    perSourceLoggingVia: s.blocks.perSourceLoggingVia ?? null,
    forwardBlock: s.blocks.forward,
    // Absent (a status without the field): unknown, not "its files differ".
    ...(s.blocks.forwardVia !== undefined ? { forwardLoggingVia: s.blocks.forwardVia } : {}),
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
          await call('editRule', { number: op.number, rule: op.rule, ...(op.to !== undefined ? { to: op.to } : {}), ...(op.expect ? { expect: op.expect } : {}) });
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
    async setPerSourceLogging(installed, via) {
      await call(installed ? 'installBlocks' : 'removeBlocks', { block: 'perSourceLogging', ...(installed && via ? { via } : {}) });
    },
    async setSetBlock(installed) {
      await call(installed ? 'installBlocks' : 'removeBlocks', { block: 'set' });
    },
    async setForwardBlock(installed, via) {
      await call(installed ? 'installBlocks' : 'removeBlocks', { block: 'forward', ...(installed && via ? { via } : {}) });
    },
    async enableUfwIpv6() {
      await call('enableUfwIpv6', {});
    },
    async repairForwardJumps() {
      return (await call('repairForwardJumps', {})).repaired;
    },
    async doctor(): Promise<DoctorCheck[]> {
      // Titles, levels (optional checks only warn) and fixes come from the Doctor table.
      const r = await call('doctor', {});
      return r.checks.map(doctorCheckOf);
    },
  };
}
