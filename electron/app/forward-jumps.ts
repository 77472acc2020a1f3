/**
 * The forward block's DOCKER-USER jumps, checked on the status refresh's cadence (~30 s) by both
 * shells' service. dockerd creates DOCKER-USER empty at each start (a Docker restart, a boot where it
 * came up after Portcullis) and a `ufw reload` whose rules declare the chain (the ufw-docker recipe's
 * after.rules) flushes it: either way the jumps are gone, banned sources reach published container
 * ports, and before this check only a restart of Portcullis or the Doctor's fix put them back.
 *
 * The helper does the work (its repairForwardJumps op: one `iptables -C` per family when nothing is
 * missing); this says when it had to repair, and says a failure once, not every 30 s.
 */
import { errorText } from '../shared/errors.ts';
import type { HelperOpsPort } from './contracts.ts';

type Level = 'info' | 'warn' | 'error';

export interface ForwardJumpsDeps {
  helper: HelperOpsPort | null;
  /** Said to the user (the UI's notices) and logged. */
  notice(level: Level, message: string): void;
  log(level: Level, message: string): void;
}

export class ForwardJumpsWatch {
  private readonly d: ForwardJumpsDeps;
  /** The last failure said (null: the last check worked): the same one is not said again. */
  private lastError: string | null = null;

  constructor(deps: ForwardJumpsDeps) {
    this.d = deps;
  }

  /** `installed`: the forward block is in ufw's files, as the last status read says (else nothing to check). */
  async check(installed: boolean): Promise<void> {
    const helper = this.d.helper;
    if (!installed || !helper?.repairForwardJumps) return;
    let repaired: ('v4' | 'v6')[];
    try {
      repaired = await helper.repairForwardJumps();
    } catch (e) {
      const why = errorText(e);
      if (why !== this.lastError) this.d.log('warn', `forward block: cannot check Docker's DOCKER-USER jumps: ${why}`);
      this.lastError = why;
      return;
    }
    this.lastError = null;
    if (repaired.length === 0) return;
    const families = repaired.map((f) => (f === 'v4' ? 'IPv4' : 'IPv6')).join(', ');
    this.d.notice(
      'warn',
      `Docker's DOCKER-USER chain had lost Portcullis's forward-block jumps (${families}): re-added. Until now banned sources could reach published container ports (Docker restarted or recreated the chain, or a ufw reload flushed it).`,
    );
  }
}
