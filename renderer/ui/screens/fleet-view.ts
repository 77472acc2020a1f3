/** How the UI names where a ban came from: this host's own (scan / manual) or the fleet's (which host, or CrowdSec). */
import { originLabel } from '../../../electron/shared/fleet.ts';
import type { BanReason } from '../../../electron/shared/model.ts';

export function banSource(reason: Pick<BanReason, 'kind' | 'origin'>): string {
  return reason.origin === undefined ? `${reason.kind} (this host)` : `fleet: ${originLabel(reason.origin)}`;
}
