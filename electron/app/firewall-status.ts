/**
 * What the service knows of the firewall: ufw's state and rules as last read through the helper, and
 * the ports those rules let in (probes to them are not scan evidence). Read at start, every
 * `statusRefreshMs` (30 s), before rule changes and by the Doctor.
 */
import { ApiError, type FirewallState, type RulesView } from '../shared/api.ts';
import type { Clock } from '../shared/domain.ts';
import { errorText } from '../shared/errors.ts';
import type { AllowedPorts } from '../engine/ports.ts';
import type { HelperOpsPort } from './contracts.ts';
import { allowedPortsFrom } from './rule-safety.ts';

const NO_FIREWALL: FirewallState = {
  installed: false,
  enabled: false,
  defaultIncoming: null,
  defaultOutgoing: null,
  defaultRouted: null,
  loggingLevel: null,
  perSourceLogging: false,
};

export interface FirewallStatusDeps {
  clock: Clock;
  helper: HelperOpsPort | null;
  readOnlyReason?: string;
  /** ufw was turned off / on behind our back (not at the first read). */
  onEnabledChange(enabled: boolean): void;
  /** The user's own rules differ from the last read (not at the first): added, deleted or edited, by us or by hand. */
  onUserRulesChange?(): void;
  log(level: 'warn', message: string): void;
}

export class FirewallStatus {
  private readonly d: FirewallStatusDeps;
  state: FirewallState = NO_FIREWALL;
  rules: RulesView | null = null;
  /** When the status was last read (clock time). */
  readAt = 0;
  private allowedFn: AllowedPorts = () => false;
  /** The user's rules of the last read, without their numbers (our ban rules shift those): null before the first. */
  private userRulesKey: string | null = null;
  /** Stable function handed to the engine; the rule set behind it is refreshed. */
  readonly allowedPorts: AllowedPorts = (family, proto, port) => this.allowedFn(family, proto, port);

  constructor(deps: FirewallStatusDeps) {
    this.d = deps;
  }

  /** Re-reads the status; a failure is logged and the last known status stays. */
  async refresh(initial: boolean): Promise<void> {
    this.readAt = this.d.clock.now();
    if (!this.d.helper) return;
    try {
      const { firewall, rules } = await this.d.helper.status();
      const wasEnabled = this.state.enabled;
      this.take(firewall, rules);
      if (!initial && wasEnabled !== firewall.enabled) this.d.onEnabledChange(firewall.enabled);
    } catch (e) {
      this.d.log('warn', `firewall status: ${errorText(e)}`);
    }
  }

  /** The helper, or the read-only refusal (ApiError) that says why there is none. */
  needHelper(): HelperOpsPort {
    if (!this.d.helper) throw new ApiError('read-only', this.d.readOnlyReason ?? 'the root helper is not running: firewall changes are not possible');
    return this.d.helper;
  }

  /** Reads the status and rules now (the rule editor); a failure goes to the caller. */
  async read(): Promise<RulesView> {
    const { firewall, rules } = await this.needHelper().status();
    this.take(firewall, rules);
    return rules;
  }

  private take(firewall: FirewallState, rules: RulesView): void {
    this.state = firewall;
    this.rules = rules;
    this.allowedFn = allowedPortsFrom(rules.rules);
    // ufw off lists no rules (`Status: inactive` only), though its rules files keep them all: that is
    // not the user's rules changing (it would end every hold-off and re-apply refused fleet bans, each
    // refused again once ufw is back). They are compared again once ufw is on.
    if (!firewall.enabled) return;
    const key = JSON.stringify(rules.rules.filter((r) => !r.portcullis).map(({ number: _, ...r }) => r));
    if (this.userRulesKey !== null && key !== this.userRulesKey) this.d.onUserRulesChange?.();
    this.userRulesKey = key;
  }
}
