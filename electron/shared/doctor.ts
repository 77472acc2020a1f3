/**
 * The Doctor, declared once: every check (its id, its title, which side runs it, the fix that
 * answers it) and every fix (its label, what it does, the command a person would type). The way
 * `helper-protocol.ts` declares the helper's operations: the service, `portcullis doctor` (with or
 * without a running instance) and the UI read this table; the implementations live beside their
 * side — the root helper's checks in `helper/ops.ts` (its `doctor` op, within its closed set), the
 * app's checks and the fix runner in `app/doctor.ts`, the desktop's connect-helper in `main/`.
 */
import type { DoctorCheck } from './api.ts';

/**
 * Who runs a check: the root helper (`doctor` op: it reads ufw and the managed blocks as root), or
 * the app (the service, or `portcullis doctor` without an instance). `instance: true`: the check is
 * about a running instance (its live log, its fleet link): without one it is reported as unknown.
 */
export interface DoctorCheckSpec {
  title: string;
  side: 'helper' | 'app';
  /** The fix offered while the check fails. */
  fix?: DoctorFixId;
  /** An improvement, not a requirement: failing is a warning (`doctor` exits 0), not an error. */
  optional?: boolean;
  instance?: boolean;
}

export interface DoctorFixSpec {
  /** The button's label. */
  label: string;
  /** What the fix will do to this machine, shown before it runs. */
  preview: string;
  /** What `portcullis doctor` prints under a failing check. */
  hint: string;
  /** Where it runs: the app (through the helper's operations) or the desktop shell only (starting the helper). */
  runs: 'app' | 'desktop';
}

/** Every fix. The ids are public: `portcullis doctor --fix ID`, `runDoctorFix`, the UI's buttons. */
export const DOCTOR_FIXES = {
  'enable-ufw': {
    label: 'Enable ufw',
    preview: 'Runs `ufw enable`: the firewall starts refusing what your rules do not allow (you are asked first if that would cut a connection open now).',
    hint: 'ufw enable   (or: portcullis doctor --fix enable-ufw)',
    runs: 'app',
  },
  'logging-low': {
    label: 'Turn logging on (low)',
    preview: 'Runs `ufw logging low`: ufw logs the packets it blocks, which is what Portcullis watches.',
    hint: 'ufw logging low   (or: portcullis doctor --fix logging-low)',
    runs: 'app',
  },
  'install-per-source-logging': {
    label: 'Install per-source logging',
    preview:
      'Adds a block marked as Portcullis\'s to /etc/ufw/after.rules and after6.rules: one LOG rule with a budget per source address (hashlimit, prefix "PORTCULLIS BLOCK"). The new files are checked with iptables-restore --test, then `ufw reload`; on failure the old files are put back.',
    hint: 'portcullis doctor --fix install-per-source-logging',
    runs: 'app',
  },
  'install-set-block': {
    label: 'Install the set-backend block',
    preview:
      'Adds a block marked as Portcullis\'s to /etc/ufw/before.rules and before6.rules that drops addresses in the portcullis-ban4/6 kernel sets, creates the sets from /etc/ufw/before.init at boot, then `ufw reload` (rolled back if it fails).',
    hint: 'portcullis doctor --fix install-set-block (portcullis run installs it for the set backend)',
    runs: 'app',
  },
  'install-forward-block': {
    label: 'Install the forward block (routed and container traffic)',
    preview:
      "Adds blocks marked as Portcullis's to /etc/ufw/before.rules, after.rules (and their IPv6 twins) that drop banned sources and log new inbound connections in the forward path (ufw-before-forward, ufw-after-forward), puts two tagged jumps first in Docker's DOCKER-USER chain when it exists, then `ufw reload` (rolled back if it fails). Installing again re-adds missing DOCKER-USER jumps.",
    hint: 'portcullis doctor --fix install-forward-block (again after Docker starts, if its jumps are missing)',
    runs: 'app',
  },
  'enable-ufw-ipv6': {
    label: 'Turn on IPv6 in ufw',
    preview:
      'Sets IPV6=yes in /etc/default/ufw (only that line: every other line of the file stays as it is), then `ufw reload` when ufw is active: ufw filters, logs and bans IPv6 too (until now it dropped all IPv6 but loopback). If the reload fails, the old file is put back. Rules added while IPV6 was no exist for IPv4 only: add the ones you need again (`ufw allow 22/tcp` adds the IPv6 twin).',
    hint: 'portcullis doctor --fix enable-ufw-ipv6   (or: set IPV6=yes in /etc/default/ufw, then ufw reload)',
    runs: 'app',
  },
  'count-seen-prefixes': {
    label: 'Count these prefixes as blocked',
    preview:
      'Adds the log prefixes the check names (at most five, seen in the live log, not counted; never UFW ALLOW, UFW AUDIT or a prefix whose name says allow, accept, permit or pass: those log accepted packets) to the settings\' detection.prefixes, saved where the settings live (the config file or the store): records with them count as probes from then on. Needs the running instance (its live log is where they were seen).',
    hint: 'portcullis doctor --fix count-seen-prefixes   (or add them to detection.prefixes: Thresholds, or /etc/portcullis/portcullis.json and systemctl reload portcullis)',
    runs: 'app',
  },
  'connect-helper': {
    label: 'Connect helper (asks for your password)',
    preview: 'Starts the root helper: you are asked for your password.',
    hint: 'start the desktop app again and accept the password prompt',
    runs: 'desktop',
  },
} as const satisfies Record<string, DoctorFixSpec>;
export type DoctorFixId = keyof typeof DOCTOR_FIXES;

/** Every check, in the order the Doctor lists them. */
export const DOCTOR_CHECKS = {
  instance: { title: 'Running instance', side: 'app' },
  // Its fix (connect-helper) is the desktop shell's to offer: a server's helper runs in-process.
  helper: { title: 'The root helper is running', side: 'app' },
  'ufw-installed': { title: 'ufw is installed', side: 'helper' },
  'ufw-status': { title: 'ufw answers', side: 'helper' },
  'ufw-enabled': { title: 'The firewall is on', side: 'helper', fix: 'enable-ufw' },
  'ufw-logging': { title: 'ufw logs blocked packets', side: 'helper', fix: 'logging-low' },
  kmsg: { title: 'The kernel log can be read', side: 'helper' },
  'per-source-logging': { title: 'Every scanner gets logged (per-source logging)', side: 'helper', fix: 'install-per-source-logging', optional: true },
  'set-block': { title: 'Ready for fast bans (ipset block in ufw)', side: 'helper', fix: 'install-set-block', optional: true },
  ipset: { title: 'ipset is installed (fast bans)', side: 'helper', optional: true },
  conntrack: { title: "conntrack is installed (cuts a banned host's open connections)", side: 'helper', optional: true },
  'forward-block': { title: 'Routed and container traffic is watched (forward block)', side: 'helper', fix: 'install-forward-block', optional: true },
  'log-source': { title: 'Where Portcullis reads the firewall log', side: 'app' },
  'last-record': { title: 'The firewall log is being written', side: 'app', instance: true },
  'store-writes': { title: 'The history is saved (the database can be written)', side: 'app', instance: true },
  'nf-log-all-netns': { title: 'Forged kernel records', side: 'app' },
  'fleet-pull': { title: 'Fleet: decisions from the LAPI', side: 'app', instance: true },
  'fleet-push': { title: "Fleet: sharing this host's bans", side: 'app', instance: true },
  'uncounted-prefixes': { title: 'Log prefixes', side: 'app', instance: true, fix: 'count-seen-prefixes' },
  ipv6: { title: 'IPv6 in ufw', side: 'app', fix: 'enable-ufw-ipv6' },
  'forwarded-traffic': { title: 'Forwarded traffic', side: 'app', fix: 'install-forward-block' },
} as const satisfies Record<string, DoctorCheckSpec>;
export type DoctorCheckId = keyof typeof DOCTOR_CHECKS;

/** The checks the root helper's `doctor` operation reports. */
export type HelperDoctorCheckId = { [K in DoctorCheckId]: (typeof DOCTOR_CHECKS)[K]['side'] extends 'helper' ? K : never }[DoctorCheckId];

const CHECK_ORDER = new Map(Object.keys(DOCTOR_CHECKS).map((id, i) => [id, i]));

export function isDoctorCheckId(id: string): id is DoctorCheckId {
  return Object.hasOwn(DOCTOR_CHECKS, id);
}

export function isDoctorFixId(id: string): id is DoctorFixId {
  return Object.hasOwn(DOCTOR_FIXES, id);
}

function specOf(id: string): DoctorCheckSpec | undefined {
  return isDoctorCheckId(id) ? DOCTOR_CHECKS[id] : undefined;
}

/** A check's title; an id the table does not know (a newer helper) becomes words. */
export function doctorTitle(id: string): string {
  const spec = specOf(id);
  if (spec) return spec.title;
  const t = id.replace(/[-_]+/g, ' ');
  return t.charAt(0).toUpperCase() + t.slice(1);
}

/** A check as the API shows it: the title from the table, the table's fix while it is not ok. */
export function doctorCheck(id: DoctorCheckId, level: DoctorCheck['level'], detail: string): DoctorCheck {
  const fixId = (DOCTOR_CHECKS[id] as DoctorCheckSpec).fix;
  const fix = level !== 'ok' && fixId ? { id: fixId, label: DOCTOR_FIXES[fixId].label } : undefined;
  return { id, title: DOCTOR_CHECKS[id].title, level, detail, ...(fix ? { fix } : {}) };
}

/** A pass/fail check (the helper's answer): failing is an error, or a warning for an optional one. */
export function doctorCheckOf(c: { id: string; ok: boolean; detail: string }): DoctorCheck {
  const spec = specOf(c.id);
  const level = c.ok ? 'ok' : spec?.optional ? 'warn' : 'error';
  if (spec) return doctorCheck(c.id as DoctorCheckId, level, c.detail);
  return { id: c.id, title: doctorTitle(c.id), level, detail: c.detail };
}

/** Checks in the table's order (stable for ids it does not know: they go last, in the order given). */
export function inDoctorOrder(checks: readonly DoctorCheck[]): DoctorCheck[] {
  const rank = (id: string) => CHECK_ORDER.get(id) ?? CHECK_ORDER.size;
  return checks.map((c, i) => ({ c, i })).sort((a, b) => rank(a.c.id) - rank(b.c.id) || a.i - b.i).map((x) => x.c);
}

/** The refusal of a fix id the table does not know, naming the ones it does. */
export function unknownFixMessage(fixId: string, runs: DoctorFixSpec['runs'][] = ['app']): string {
  const known = (Object.keys(DOCTOR_FIXES) as DoctorFixId[]).filter((id) => runs.includes(DOCTOR_FIXES[id].runs));
  return `unknown fix "${fixId}"; the fixes are: ${known.join(', ')}`;
}
