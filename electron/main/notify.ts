/**
 * Desktop notifications that never flood. `NotificationPlanner` is pure (time injected): it turns
 * bans and state changes into notifications — the first ban after a quiet spell at once, later ones
 * summed up once per aggregation window ("4 scanners banned in the last minute"), and never more
 * than `maxPerMinute` notifications in any 60 s. Warnings (firewall turned off, log source silent)
 * go through the same budget, ahead of ban summaries. Bans from the fleet (CrowdSec) are summed up
 * apart, once a sync is done (the service's 'fleetSync' end; without one, once it settled): a first
 * full pull brings up to fleet.maxBans of them, in firewall batches seconds apart. Bans the firewall
 * failed to make are never announced as bans: they are warned about, summed up the same way (an
 * extension that failed says the earlier ban still stands). Bans refused for a rule of the user's
 * after they were announced are corrected, summed up the same way; one never announced needs no
 * correction. `Notifier` shows them with Electron.
 *
 * Each ban costs the planner O(1): it keeps counts and the last few addresses, not every pending ban
 * (a list copied on each ban made a 40,000-ban fleet sync take 97 s of the main process).
 */
import type { NotificationConstructorOptions } from 'electron';
import type { State } from '../shared/api.ts';
import type { Clock } from '../shared/domain.ts';
import type { NavigateTarget } from '../shared/ipc.ts';
import { UNBAN_REASON_TEXT, type BanRecord, type UnbanReason } from '../shared/model.ts';
import type { Settings } from '../shared/settings.ts';
import { originLabel } from '../shared/fleet.ts';

export type NotificationSettings = Settings['notifications'];

export interface PlannedNotification {
  kind: 'ban' | 'bans' | 'fleet-bans' | 'ban-failed' | 'ban-refused' | 'firewall-off' | 'silent' | 'action-failed';
  title: string;
  body: string;
  /** What a click opens. */
  target: NavigateTarget;
}

function windowPhrase(sec: number): string {
  if (sec === 60) return 'the last minute';
  if (sec % 60 === 0) return `the last ${sec / 60} minutes`;
  return `the last ${sec} seconds`;
}

/** A local date and time to the minute ("2027-01-15 08:00"). */
function clockTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
}

function durationPhrase(ms: number): string {
  const min = Math.round(ms / 60_000);
  if (min < 60) return `${Math.max(1, min)} min`;
  const h = Math.round(min / 60);
  return h < 48 ? `${h} h` : `${Math.round(h / 24)} days`;
}

/** Addresses a summary names ("a, b, c and 12 more"). */
const NAMED_IN_SUMMARY = 3;
/**
 * Fleet bans outside a sync the service marks ('fleetSync') are summed up once no fleet ban came for
 * this long (or once an aggregation window passed); a marked sync is summed up at its end.
 */
export const FLEET_SETTLE_MS = 3000;

/**
 * Bans waiting for one notification, in O(1) per ban whatever their number: how many, the last few
 * (newest last, one per address) — what the notification names — and which addresses wait (so a ban
 * ended before its notification is taken out whatever its place). An address banned again while
 * among the last few counts once; one that left them counts again (a summary says how many bans were
 * made, and it names the newest).
 */
export class BanTally<T extends { ip: string } = BanRecord> {
  count = 0;
  /** Newest last, at most NAMED_IN_SUMMARY. */
  readonly last: T[] = [];
  /** clock time of the first and the latest ban counted since the last clear. */
  firstAt = 0;
  latestAt = 0;
  /** Per waiting address, how many of `count` are its bans (one banned again after leaving the last few counts twice). */
  private readonly waiting = new Map<string, number>();

  add(ban: T, now: number): void {
    const ip = ban.ip;
    const i = this.last.findIndex((b) => b.ip === ip);
    if (i >= 0) this.last.splice(i, 1);
    else {
      this.count++;
      this.waiting.set(ip, (this.waiting.get(ip) ?? 0) + 1);
    }
    this.last.push(ban);
    if (this.last.length > NAMED_IN_SUMMARY) this.last.shift();
    if (this.count === 1 && i < 0) this.firstAt = now;
    this.latestAt = now;
  }

  /** Takes `ip` out when it waits (true: it was never notified of). */
  remove(ip: string): boolean {
    const n = this.waiting.get(ip);
    if (n === undefined) return false;
    this.waiting.delete(ip);
    const i = this.last.findIndex((b) => b.ip === ip);
    if (i >= 0) this.last.splice(i, 1);
    this.count -= n; // every ban of it counted: a summary of bans all lifted names no one
    return true;
  }

  clear(): void {
    this.count = 0;
    this.last.length = 0;
    this.waiting.clear();
  }

  /** "a, b, c and 12 more" (newest first). */
  named(): string {
    const shown = this.last.map((b) => b.ip).reverse();
    const more = this.count - shown.length;
    if (!shown.length) return '';
    return `${shown.join(', ')}${more > 0 ? ` and ${more.toLocaleString('en-US')} more` : ''}`;
  }
}

export class NotificationPlanner {
  private settings: NotificationSettings;
  private readonly clock: Clock;
  /** Bans this host made (its detector, by hand), waiting for their notification. */
  private readonly pendingBans = new BanTally();
  /** Bans from the fleet, waiting for their summary. */
  private readonly fleetBans = new BanTally();
  /** Who in the fleet they came from (a few named; a sync comes from one or two LAPI origins). */
  private fleetOrigins = new Set<string>();
  /** Bans the firewall failed to make, waiting for their warning, and the latest error. */
  private readonly failedBans = new BanTally();
  private failedError = '';
  /** Of them, extensions of a ban the firewall holds: when that one ends (null: permanent). */
  private readonly failedStands = new Map<string, number | null>();
  /** Announced bans the firewall then refused for a rule of the user's: their correction waits. */
  private readonly refusedBans = new BanTally<{ ip: string }>();
  private lastRefusedNoticeAt = Number.NEGATIVE_INFINITY;
  /** Fleet syncs under way ('fleetSync' start without its end yet): their summary waits for the end. */
  private fleetSyncs = 0;
  /** A sync ended: its summary is due now. */
  private fleetDone = false;
  private warnings: PlannedNotification[] = [];
  /** When the last ban notification went out (the aggregation window runs from there). */
  private lastBanNoticeAt = Number.NEGATIVE_INFINITY;
  /** The same for the warnings about failed bans. */
  private lastFailNoticeAt = Number.NEGATIVE_INFINITY;
  private sentAt: number[] = [];
  private firewallWasOn: boolean | null = null;
  /** lastRecordAt we already warned about (one warning per silence). */
  private silenceWarnedFor: number | null | undefined = undefined;
  private silenceReference: number | null = null;
  private lastState: State | null = null;
  /** The helper was not connected at the last state (silence then is the helper's, which the tray already names). */
  private helperWasDown = false;

  constructor(settings: NotificationSettings, clock: Clock) {
    this.settings = settings;
    this.clock = clock;
    this.silenceReference = clock.now();
  }

  updateSettings(settings: NotificationSettings): void {
    this.settings = settings;
  }

  /**
   * A ban event (sent once the firewall answered). With `firewallError` the firewall did not take it:
   * it blocks nothing new, so it is warned about — whatever `onBan` says, like a firewall turned off —
   * and never announced as banned. `stillStands`: it extended a ban the firewall holds, which still
   * blocks until its own end.
   */
  ban(ban: BanRecord, firewallError?: string, stillStands?: { until: number | null }): void {
    const now = this.clock.now();
    if (firewallError !== undefined) {
      this.failedBans.add(ban, now);
      this.failedError = firewallError;
      if (stillStands) this.failedStands.set(ban.ip, stillStands.until);
      else this.failedStands.delete(ban.ip);
      return;
    }
    if (!this.settings.onBan) return;
    if (ban.reason.origin !== undefined) {
      this.fleetBans.add(ban, now);
      if (this.fleetOrigins.size < NAMED_IN_SUMMARY + 1) this.fleetOrigins.add(originLabel(ban.reason.origin));
    } else this.pendingBans.add(ban, now);
  }

  /**
   * An unbanned host is no news any more. A ban the firewall refused for a rule of the user's own
   * ('refused-users-rule') that was already announced as banned is corrected: it never blocked anything.
   */
  unban(ip: string, why?: UnbanReason): void {
    const pending = this.pendingBans.remove(ip) || this.fleetBans.remove(ip);
    if (why === 'refused-users-rule' && !pending && this.settings.onBan) this.refusedBans.add({ ip }, this.clock.now());
  }

  /** A fleet pull's bans begin ('start') or the firewall has answered for all of them ('end'). */
  fleetSync(phase: 'start' | 'end'): void {
    if (phase === 'start') this.fleetSyncs++;
    else if (this.fleetSyncs > 0 && --this.fleetSyncs === 0) this.fleetDone = true;
  }

  state(state: State): void {
    const on = state.firewall.installed && state.firewall.enabled;
    if (this.firewallWasOn === true && !on) {
      this.warnings.push({
        kind: 'firewall-off',
        title: 'The firewall was turned off',
        body: 'ufw is disabled: nothing is blocked and Portcullis cannot ban scanners. Open the Doctor to turn it back on.',
        target: { screen: 'doctor' },
      });
    }
    if (on) this.warnings = this.warnings.filter((w) => w.kind !== 'firewall-off');
    this.firewallWasOn = on;
    this.lastState = state;
    this.checkSilence(state);
  }

  /**
   * Something asked for from the tray failed (`what`: "turn protection off", "unban 192.0.2.1"): the
   * user clicked and is owed an answer, which a line on stderr is not.
   */
  actionFailed(what: string, why: string): void {
    this.warnings.push({ kind: 'action-failed', title: `Could not ${what}`, body: `${why.replace(/\.?$/, '.')} Open Portcullis for details.`, target: { screen: 'dashboard' } });
  }

  /** Notifications due now; call it every second or so, and after ban()/state(). */
  take(): PlannedNotification[] {
    const now = this.clock.now();
    // Silence is news precisely because no event arrives: look at the last known state on every tick.
    if (this.lastState) this.checkSilence(this.lastState);
    this.sentAt = this.sentAt.filter((t) => now - t < 60_000);
    const out: PlannedNotification[] = [];
    const budgetLeft = () => this.sentAt.length + out.length < this.settings.maxPerMinute;
    while (this.warnings.length && budgetLeft()) out.push(this.warnings.shift()!);
    const windowMs = this.settings.aggregateWindowSec * 1000;
    // Failed bans: the first at once, later ones summed up once per window (a helper gone fails them all).
    if (this.failedBans.count > 0 && budgetLeft() && now - this.lastFailNoticeAt >= windowMs) {
      out.push(this.failedNotice());
      this.failedBans.clear();
      this.lastFailNoticeAt = now;
    }
    if (this.pendingBans.count > 0 && budgetLeft() && now - this.lastBanNoticeAt >= windowMs) {
      out.push(this.summarise(this.pendingBans));
      this.pendingBans.clear();
      this.lastBanNoticeAt = now;
    }
    // Corrections of announced bans refused for a user's rule: the first at once, then once per window.
    if (this.refusedBans.count > 0 && budgetLeft() && now - this.lastRefusedNoticeAt >= windowMs) {
      out.push(this.refusedNotice());
      this.refusedBans.clear();
      this.lastRefusedNoticeAt = now;
    }
    // A fleet sync: one summary at its end; fleet bans outside a marked sync once they settled (or once
    // a window passed, while they go on).
    const fleet = this.fleetBans;
    const due = this.fleetSyncs === 0 && (this.fleetDone || now - fleet.latestAt >= FLEET_SETTLE_MS || now - fleet.firstAt >= windowMs);
    if (fleet.count > 0 && budgetLeft() && due) {
      out.push(this.fleetSummary());
      fleet.clear();
      this.fleetOrigins = new Set();
    }
    if (fleet.count === 0) this.fleetDone = false;
    for (const _ of out) this.sentAt.push(now);
    return out;
  }

  private refusedNotice(): PlannedNotification {
    const r = this.refusedBans;
    const text = UNBAN_REASON_TEXT['refused-users-rule'];
    const sentence = `${text.charAt(0).toUpperCase()}${text.slice(1)} (ufw status numbered)`;
    if (r.count === 1 && r.last.length === 1) {
      const ip = r.last[0]!.ip;
      return { kind: 'ban-refused', title: `${ip} was not banned`, body: `${sentence}. Click to see it.`, target: { screen: 'offender', ip } };
    }
    return { kind: 'ban-refused', title: `${r.count.toLocaleString('en-US')} bans were not made`, body: `${r.named()}: ${text} (ufw status numbered). Click to see them.`, target: { screen: 'offenders' } };
  }

  private failedNotice(): PlannedNotification {
    const f = this.failedBans;
    const why = this.failedError.replace(/\.?$/, '');
    const stands = this.failedStands;
    if (f.count === 1 && f.last.length === 1) {
      const ip = f.last[0]!.ip;
      const until = stands.get(ip);
      stands.clear();
      if (until !== undefined) {
        const what = until === null ? 'the permanent ban still stands' : `the ban until ${clockTime(until)} still stands`;
        return { kind: 'ban-failed', title: `Could not extend the ban of ${ip}`, body: `The firewall did not take the longer ban (${why}): ${ip}'s ban could not be extended; ${what}. It is tried again at the next start. Open the Doctor.`, target: { screen: 'doctor' } };
      }
      return { kind: 'ban-failed', title: `Could not ban ${ip}`, body: `The firewall did not take the ban (${why}): nothing blocks ${ip}. It is tried again at the next start, or when the root helper reconnects. Open the Doctor.`, target: { screen: 'doctor' } };
    }
    if (stands.size > 0) {
      // Some extended a ban that still stands: "nothing blocks" would be untrue of them.
      const n = stands.size;
      stands.clear();
      const named = f.named();
      return {
        kind: 'ban-failed',
        title: `Could not ban ${f.count.toLocaleString('en-US')} addresses`,
        body: `The firewall did not take the bans (${why})${named ? `: ${named}` : ''}; ${n.toLocaleString('en-US')} of them extended a ban that still stands until its own end, nothing blocks the others. They are tried again at the next start, or when the root helper reconnects. Open the Doctor.`,
        target: { screen: 'doctor' },
      };
    }
    const named = f.named();
    return {
      kind: 'ban-failed',
      title: `Could not ban ${f.count.toLocaleString('en-US')} addresses`,
      body: `The firewall did not take the bans (${why})${named ? `: nothing blocks ${named}` : ''}. They are tried again at the next start, or when the root helper reconnects. Open the Doctor.`,
      target: { screen: 'doctor' },
    };
  }

  private fleetSummary(): PlannedNotification {
    const f = this.fleetBans;
    if (f.count === 1 && f.last.length === 1) return this.single(f.last[0]!);
    const origins = [...this.fleetOrigins];
    const from = origins.length > NAMED_IN_SUMMARY ? `${origins.slice(0, NAMED_IN_SUMMARY).join(', ')} and others` : origins.join(', ');
    const named = f.named();
    return {
      kind: 'fleet-bans',
      title: `${f.count.toLocaleString('en-US')} bans from the fleet`,
      body: `From ${from}${named ? `: ${named}` : ''}. Click to see them.`,
      target: { screen: 'offenders' },
    };
  }

  private summarise(bans: BanTally): PlannedNotification {
    if (bans.count === 1 && bans.last.length === 1) return this.single(bans.last[0]!);
    const named = bans.named();
    // The window is the aggregation window, or since the quiet spell began when that is shorter.
    return {
      kind: 'bans',
      title: `${bans.count.toLocaleString('en-US')} scanners banned in ${windowPhrase(this.settings.aggregateWindowSec)}`,
      body: `${named ? `${named}. ` : ''}Click to see them.`,
      target: { screen: 'offenders' },
    };
  }

  private single(b: BanRecord): PlannedNotification {
    const what = b.reason.origin !== undefined ? `banned by the fleet (${originLabel(b.reason.origin)})` : b.reason.kind === 'manual' ? 'banned by hand' : `${b.reason.scanType ?? ''} scan of ${b.reason.ports.length} port${b.reason.ports.length === 1 ? '' : 's'}`.trim();
    const until = b.until === null ? 'permanently' : `for ${durationPhrase(b.until - b.at)}`;
    const m = b.reason.members;
    if (m) return { kind: 'ban', title: `Scanning network ${b.ip} banned`, body: `${what} from ${m.length} addresses — the whole network banned ${until}. Click to see it.`, target: { screen: 'offender', ip: b.ip } };
    return { kind: 'ban', title: `Scanner ${b.ip} banned`, body: `${what} — banned ${until}. Click to see it.`, target: { screen: 'offender', ip: b.ip } };
  }

  private checkSilence(state: State): void {
    const now = this.clock.now();
    const limitMs = this.settings.warnWhenSilentSec * 1000;
    if (state.protection === 'off') return;
    // Without the root helper nothing is read at all: the tray and the window say why ("not
    // protecting: waiting for the administrator password"); a "log went silent" warning then,
    // while the password prompt is open, was noise. Silence counts again from when it connects.
    if (!state.helper.connected) {
      this.helperWasDown = true;
      return;
    }
    if (this.helperWasDown) {
      this.helperWasDown = false;
      this.silenceReference = now;
    }
    const last = state.source?.lastRecordAt ?? null;
    // Silence is measured from the last record, or from when we started watching (or the helper
    // came back) when that is later.
    const since = Math.max(last ?? Number.NEGATIVE_INFINITY, this.silenceReference ?? now);
    if (now - since < limitMs) return;
    if (this.silenceWarnedFor === last) return;
    this.silenceWarnedFor = last;
    const what = state.source ? `${state.source.description} has delivered no firewall log line` : 'No firewall log source is delivering lines';
    this.warnings.push({
      kind: 'silent',
      title: 'The firewall log went silent',
      body: `${what} for ${durationPhrase(now - since)}: scans would go unseen. Open the Doctor to check the log source.`,
      target: { screen: 'doctor' },
    });
  }
}

type ShownNotification = { on(event: 'click' | 'close' | 'failed', fn: () => void): unknown; show(): void };
type ElectronNotificationApi = {
  isSupported(): boolean;
  create(options: NotificationConstructorOptions): ShownNotification;
};

/** Notifications kept referenced at most (the oldest are long gone from the screen). */
export const MAX_LIVE_NOTIFICATIONS = 50;

/** Shows planned notifications; a click opens the window on the notification's target. */
export class Notifier {
  private readonly electron: ElectronNotificationApi;
  private readonly open: (target: NavigateTarget) => void;
  private readonly iconPath: string | undefined;
  /**
   * Shown notifications stay referenced until closed or clicked: Electron drops a garbage-collected
   * Notification's events, so a click on a bubble still on screen would open nothing.
   */
  private readonly live = new Set<ShownNotification>();

  constructor(electron: ElectronNotificationApi, open: (target: NavigateTarget) => void, iconPath?: string) {
    this.electron = electron;
    this.open = open;
    this.iconPath = iconPath;
  }

  show(list: PlannedNotification[]): void {
    if (!list.length || !this.electron.isSupported()) return;
    for (const n of list) {
      const note = this.electron.create({
        title: n.title,
        body: n.body,
        urgency: n.kind === 'firewall-off' || n.kind === 'silent' || n.kind === 'ban-failed' ? 'critical' : 'normal',
        ...(this.iconPath ? { icon: this.iconPath } : {}),
      });
      const forget = () => this.live.delete(note);
      note.on('click', () => {
        forget();
        this.open(n.target);
      });
      note.on('close', forget);
      note.on('failed', forget);
      this.live.add(note);
      if (this.live.size > MAX_LIVE_NOTIFICATIONS) this.live.delete(this.live.values().next().value!);
      note.show();
    }
  }

  /** Notifications still referenced (shown, not yet closed or clicked). */
  get liveCount(): number {
    return this.live.size;
  }
}
