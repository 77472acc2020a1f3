/**
 * The API (shared/api.ts) as the service answers it: one handler per method, each a few lines over
 * the service's parts — views for reads, the ban pipeline for bans, rule safety before any firewall
 * change, the Doctor table for checks and fixes. Every transport (Electron IPC, HTTP/WebSocket, the
 * control socket) serves exactly these handlers.
 */
import { ApiError, loggingChangeQuestion, policyChangeQuestion, retargetRuleOp, type ApiHandlers, type DoctorCheck, type FirewallState, type RuleOp, type RulePreview, type RulesView, type State } from '../shared/api.ts';
import type { EngineEvent, UnbanReason } from '../shared/model.ts';
import { describeZodError, loggingViaFor, type LoggingVia, type Settings } from '../shared/settings.ts';
import { neverBanReason } from '../shared/never-ban.ts';
import { CrowdsecSettingsSchema, fleetTestCandidate, guardFleetPatch, redactFleet } from '../shared/fleet.ts';
import { errorText } from '../shared/errors.ts';
import { skippedBanText } from '../shared/helper-protocol.ts';
import type { EngineLike, HelperOpsPort, ServiceOptions } from './contracts.ts';
import type { BanPipeline } from './ban-pipeline.ts';
import { runFix, UnknownFixError } from './doctor.ts';
import { testFleetConnection } from './fleet.ts';
import { admittedByRules, enableUfwRefusal, lockoutRefusal, ruleChangeWarnings } from './rule-safety.ts';
import { rebuildRefusal } from '../shared/rule-rebuild.ts';
import { mergePatch } from '../shared/merge-patch.ts';
import { offenderDetail, offenderList, testThresholds, type ThresholdTestEnv } from './views.ts';

/** What the handlers use of the service (PortcullisService implements it). */
export interface AppCore {
  readonly o: ServiceOptions;
  readonly pipeline: BanPipeline;
  readonly settings: Settings;
  readonly engine: EngineLike;
  readonly firewallState: FirewallState;
  readonly rulesView: RulesView | null;
  state(): State;
  /** Pauses (null: resumes) protection, its stored copy written in order with the ban records (service.ts). */
  setPausedUntil(until: number | null): void;
  applySettings(candidate: unknown): Settings;
  pushState(): void;
  withCapture<T>(fn: () => T): { value: T; events: EngineEvent[] };
  unbanNow(ip: string, why?: Exclude<UnbanReason, 'expired'>): boolean;
  idle(): Promise<void>;
  needHelper(): HelperOpsPort;
  /** Reads the firewall's status and rules anew. */
  rules(): Promise<RulesView>;
  refreshStatus(initial: boolean): Promise<void>;
  doctor(): Promise<DoctorCheck[]>;
  /** Prefixes of live records not counted as blocked that the count-seen-prefixes fix would add (server-doctor.ts). */
  seenUncountedPrefixes(): string[];
  thresholdEnv(): ThresholdTestEnv;
}

/** The logging block's variant the reading source needs (the desktop app's is always kmsg: LOG). */
function runningVia(c: AppCore): LoggingVia {
  return loggingViaFor(c.o.source?.health().kind ?? '');
}

/** Warnings for a rule change (the rule the user saw, at its number now): would it cut an open session? */
async function preview(c: AppCore, op: RuleOp): Promise<RulePreview> {
  const commands = await c.needHelper().previewRule(op);
  const warnings = ruleChangeWarnings(op, c.rulesView?.rules ?? [], c.o.inboundSessions?.() ?? []);
  return { commands, warnings, needsConfirmation: warnings.length > 0 };
}

/**
 * The change aimed at the rule the user saw (op.expect), at its number now; refused when that rule
 * is gone. Without this, an editor left open while another rule was deleted or moved changed
 * whatever rule had taken the old number (an SSH rule, say). An edit or move of a rule the editor
 * cannot re-create is refused here too, whatever client sent it (the helper refuses it as well).
 */
function retarget(c: AppCore, op: RuleOp): RuleOp {
  const target = retargetRuleOp(op, c.rulesView?.rules ?? []);
  const rule = target.kind === 'edit' || target.kind === 'move' ? c.rulesView?.rules.find((r) => r.number === target.number) : undefined;
  const refusal = rule ? rebuildRefusal(rule) : null;
  if (refusal) throw new ApiError('invalid', refusal);
  return target;
}

/** Turning ufw on asks first when it could lock someone out (enableUfwRefusal). */
async function guardEnable(c: AppCore, confirm: boolean): Promise<void> {
  if (confirm) return;
  await c.rules().catch(() => undefined);
  const refusal = enableUfwRefusal(c.firewallState, c.o.inboundSessions?.() ?? []);
  if (refusal) throw new ApiError('needs-confirmation', refusal);
}

/**
 * Refuses, unless confirmed, a firewall-wide change that would make ufw refuse NEW connections to
 * a port someone is connected through now (a deny/reject incoming policy while no rule allows that
 * port): the user's SSH session survives (ufw accepts established traffic) but they cannot connect again.
 */
function guardLockout(c: AppCore, what: string, policyIncoming: string, confirm: boolean): void {
  if (confirm) return;
  const refusal = lockoutRefusal(what, c.o.inboundSessions?.() ?? [], admittedByRules(c.rulesView?.rules ?? [], policyIncoming));
  if (refusal) throw new ApiError('needs-confirmation', refusal);
}

export function apiHandlers(c: AppCore): ApiHandlers {
  const o = c.o;
  const now = () => o.clock.now();
  return {
    getState: async () => c.state(),
    getDashboard: async ({ minutes }) => o.store.dashboard(minutes, now(), c.engine.offenders(1000)),
    getPackets: async ({ offset, limit, filter }) => o.store.packetsPage(offset, limit, filter),
    getOffenders: async ({ state, limit }) => offenderList(c.engine, o.store, state, limit),
    getOffender: async ({ ip }) => offenderDetail(c.engine, o.store, ip),
    getBans: async () => ({ active: c.engine.activeBans(), history: o.store.banHistory(1000) }),
    getRules: async () => c.rules(),
    getSettings: async () => ({ ...c.settings, fleet: redactFleet(c.settings.fleet) }),
    getDoctor: async () => c.doctor(),

    setProtection: async ({ enabled }) => {
      // The settings first: a save that fails (the store cannot write) changes nothing, the pause included.
      if (c.settings.protectionEnabled !== enabled) c.applySettings({ ...c.settings, protectionEnabled: enabled });
      c.setPausedUntil(null);
      c.pushState();
      return c.state();
    },
    pauseProtection: async ({ minutes }) => {
      if (!c.settings.protectionEnabled) c.applySettings({ ...c.settings, protectionEnabled: true });
      const until = now() + minutes * 60_000;
      c.setPausedUntil(until);
      c.pushState();
      return c.state();
    },
    ban: async ({ ip, durationSec, note }) => {
      // A never-ban address (multicast, broadcast, …) is also whitelisted; engine.ban says which it is.
      if (!neverBanReason(ip) && c.engine.isWhitelisted(ip)) throw new ApiError('invalid', `${ip} is whitelisted (this host, its gateway, loopback or a whitelist entry): it is never banned`);
      let out;
      try {
        out = c.withCapture(() => c.engine.ban(ip, { durationSec, note, at: now() }));
      } catch (e) {
        throw new ApiError('invalid', errorText(e));
      }
      const ban = out.value;
      // The engine's 'ban' event applied it already (the service's decision handler); else apply it here.
      const done = out.events.some((e) => e.type === 'ban' && e.ban.ip === ip) ? c.pipeline.lastBanDone : c.pipeline.applyBan(ban);
      const failure = await done;
      // Refused by the firewall (a rule of the user's own for it): not banned, and the caller is told
      // so — the ban is ended ('refused-users-rule'), not left standing as if it blocked anything.
      if (failure && 'refused' in failure) throw new ApiError('failed', `${ip} was not banned: ${skippedBanText(failure.refused)} (the ban is ended: refused-users-rule)`);
      // The firewall call failed (helper down, a ufw error): the caller must not read success.
      if (failure) throw new ApiError('failed', `${ip} is not banned in the firewall: ${failure.error} (the ban stays recorded as active; the next start tries again)`);
      return ban;
    },
    banMany: async ({ ips, durationSec, note }) => c.pipeline.banMany(ips, durationSec, note),
    unban: async ({ ip }) => {
      // An active ban: lifted in the firewall first, so a failed firewall call leaves it standing
      // everywhere and fails this call ('failed', the firewall's reason), instead of a store that
      // says lifted over a rule still blocking.
      if (c.engine.isBanned(ip)) await c.pipeline.unbanRequested(ip, () => void c.unbanNow(ip));
      else if (!c.unbanNow(ip)) {
        // Not banned in the engine: an orphan in the firewall can still be lifted.
        const fw = o.firewall;
        if (fw && !o.dryRun) {
          const listed = await fw.listBans().catch(() => []);
          if (!listed.some((b) => b.ip === ip)) throw new ApiError('invalid', `${ip} is not banned`);
          await c.pipeline.unbanOrphan(fw, ip);
        } else throw new ApiError('invalid', `${ip} is not banned`);
      }
      await c.idle();
      return { ok: true as const };
    },
    whitelistAdd: async ({ cidr }) => {
      const s = c.settings;
      const entries = s.whitelist.entries.includes(cidr) ? s.whitelist.entries : [...s.whitelist.entries, cidr];
      return c.applySettings({ ...s, whitelist: { ...s.whitelist, entries } });
    },
    whitelistRemove: async ({ cidr }) => {
      const s = c.settings;
      if (!s.whitelist.entries.includes(cidr)) throw new ApiError('invalid', `${cidr} is not in the whitelist`);
      const entries = s.whitelist.entries.filter((e) => e !== cidr);
      return c.applySettings({ ...s, whitelist: { ...s.whitelist, entries } });
    },
    updateSettings: async ({ patch }) => c.applySettings(mergePatch(c.settings, guardFleetPatch(patch, c.settings.fleet))),
    testThresholds: async ({ patch, minutes }) => testThresholds(c.thresholdEnv(), patch, minutes),
    testFleet: async ({ crowdsec }) => {
      if (!o.fleet) throw new ApiError('unavailable', 'this Portcullis runs without a fleet link (dry run)');
      const t = fleetTestCandidate(crowdsec, c.settings.fleet);
      if (!t.ok) throw new ApiError('invalid', t.error);
      const r = CrowdsecSettingsSchema.safeParse(t.candidate);
      if (!r.success) throw new ApiError('invalid', describeZodError(r.error));
      return testFleetConnection(r.data, o.fleet, () => o.clock.now());
    },
    previewRule: async ({ op }) => {
      if (!c.rulesView || op.kind !== 'add') await c.rules().catch(() => undefined);
      return preview(c, retarget(c, op));
    },
    applyRule: async ({ op, confirm }) => {
      const h = c.needHelper();
      await c.rules();
      const target = retarget(c, op);
      const p = await preview(c, target);
      if (p.needsConfirmation && !confirm) {
        throw new ApiError('needs-confirmation', p.warnings.map((w) => w.detail).join('; '));
      }
      // The helper finds the rule again inside its queue (a ban may be prepended in between).
      await h.applyRule(target);
      return c.rules();
    },
    setUfwEnabled: async ({ enabled, confirm }) => {
      const h = c.needHelper();
      if (!enabled && !confirm) throw new ApiError('needs-confirmation', 'turning the firewall off lifts every ban and opens every port');
      if (enabled) await guardEnable(c, confirm);
      await h.setEnabled(enabled);
      await c.refreshStatus(false);
      c.pushState();
      return c.state();
    },
    setDefaultPolicy: async ({ direction, policy, confirm }) => {
      const h = c.needHelper();
      const question = confirm ? null : policyChangeQuestion(direction, policy, c.firewallState.enabled);
      if (question) throw new ApiError('needs-confirmation', question);
      if (direction === 'incoming' && policy !== 'allow') {
        await c.rules();
        // While ufw is off the policy changes nothing yet: enabling it asks then.
        if (c.firewallState.enabled) guardLockout(c, `a default incoming policy of ${policy}`, policy, confirm);
      }
      await h.setDefault(direction, policy);
      return c.rules();
    },
    setLogging: async ({ level, confirm }) => {
      const h = c.needHelper();
      const question = confirm ? null : loggingChangeQuestion(level, c.firewallState.perSourceLogging);
      if (question) throw new ApiError('needs-confirmation', question);
      await h.setLogging(level);
      return c.rules();
    },
    setPerSourceLogging: async ({ installed }) => {
      // The block's variant follows the source that is reading (not the settings, which a change
      // reaches only at the next start): NFLOG rules for the nflog source, LOG for the others.
      await c.needHelper().setPerSourceLogging(installed, runningVia(c));
      await c.refreshStatus(false);
      c.pushState();
      return c.state();
    },
    runDoctorFix: async ({ fixId, confirm }) => {
      try {
        await runFix(fixId, {
          helper: () => c.needHelper(),
          loggingVia: () => runningVia(c),
          guardEnable: () => guardEnable(c, confirm),
          countSeenPrefixes: () => {
            const add = c.seenUncountedPrefixes();
            if (add.length === 0) throw new ApiError('invalid', 'no uncounted log prefix was seen in the live log (prefixes of accepted packets, UFW ALLOW, UFW AUDIT or named allow/accept/permit/pass, are never added): nothing to add');
            const s = c.settings;
            c.applySettings({ ...s, detection: { ...s.detection, prefixes: [...s.detection.prefixes, ...add] } });
            return add;
          },
        });
      } catch (e) {
        if (e instanceof UnknownFixError) throw new ApiError('invalid', e.message);
        throw e;
      }
      return c.doctor();
    },
  };
}
