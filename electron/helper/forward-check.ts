/**
 * The Doctor's check of the forward block (issue 12.2), run by the helper's `doctor` operation. Its
 * title and its fix (`install-forward-block`, which also re-adds missing DOCKER-USER jumps) are
 * declared in the Doctor table, shared/doctor.ts.
 */
import type { HelperDoctorCheckId } from '../shared/doctor.ts';
import type { ForwardBlockStatusView } from '../shared/helper-protocol.ts';

export const FORWARD_CHECK_ID = 'forward-block' satisfies HelperDoctorCheckId;

export interface HelperCheck {
  id: HelperDoctorCheckId;
  ok: boolean;
  detail: string;
}

/**
 * `status`: the helper's forwardStatus (null when it could not be read). `forwardingOff`: the kernel
 * forwards nothing (ip_forward and IPv6 forwarding both 0) — then only Docker would need the block.
 * `routed`: ufw's routed policy now ('allow', 'deny', 'reject', 'disabled'; '' unknown).
 */
export function forwardBlockCheck(status: ForwardBlockStatusView | null, forwardingOff: boolean, routed = ''): HelperCheck {
  const id = FORWARD_CHECK_ID;
  if (!status) return { id, ok: false, detail: 'cannot read the forward block state (iptables -L failed)' };
  const docker = status.dockerUser.v4 !== 'absent' || status.dockerUser.v6 !== 'absent';
  if (!status.installed) {
    if (forwardingOff && !docker) return { id, ok: true, detail: 'not needed: this host forwards no packets (ip_forward off, no DOCKER-USER chain)' };
    const why = docker ? "Docker's DOCKER-USER chain exists" : 'this host forwards packets (ip_forward on)';
    return {
      id,
      ok: false,
      detail: `${why}, but the forward block is not installed: forwarded traffic (published container ports, routed hosts) never meets ufw's INPUT rules, so its scans are not logged and bans do not stop them (install the forward block)`,
    };
  }
  const missing = (['v4', 'v6'] as const).filter((f) => status.dockerUser[f] === 'missing-jump');
  if (missing.length > 0) {
    return {
      id,
      ok: false,
      detail: `DOCKER-USER (${missing.join(', ')}) lacks Portcullis's jumps (Docker started after the block was installed, or it was flushed): banned scanners still reach published container ports (install the forward block again: it adds them)`,
    };
  }
  if (status.logsRouted && routed === 'allow') {
    return { id, ok: false, detail: "ufw's routed policy is allow now, so the forward block logs routed connections it lets through as probes (install the forward block again: it then logs no routed traffic)" };
  }
  if (!status.logsRouted && (routed === 'deny' || routed === 'reject')) {
    return { id, ok: false, detail: `ufw's routed policy is ${routed} now, but the forward block was installed while it was allow and logs no routed probes (install the forward block again)` };
  }
  if (!status.loaded.v4) return { id, ok: false, detail: 'the forward block is in ufw\'s files but not loaded (ufw is off, or was not reloaded since)' };
  return {
    id,
    ok: true,
    detail: `forward block installed: banned sources are dropped and new connections logged in routed traffic${docker ? ' and in DOCKER-USER' : ' (no DOCKER-USER chain: no Docker)'}`,
  };
}

/** Installed, loaded, and DOCKER-USER exists without our jumps: installing again (idempotent) puts them back. */
export function forwardBlockNeedsRefresh(status: ForwardBlockStatusView | null): boolean {
  return !!status && status.installed && status.loaded.v4 && (status.dockerUser.v4 === 'missing-jump' || status.dockerUser.v6 === 'missing-jump');
}
