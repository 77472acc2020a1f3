/**
 * The order firewall changes run in: the changes of ONE address in decision order, those of different
 * addresses side by side — a ban never waits behind another address's slow change (one `ufw prepend`
 * costs 0.3–7 s; the helper serialises ufw itself and puts each ufw ban's block in force first) — and
 * whole-firewall work (a restore batch, a bulk ban, reconcile's removals) after everything queued
 * before it and before everything queued after it.
 */
export class FirewallOrder {
  private readonly perIp = new Map<string, Promise<void>>();
  private barrier: Promise<void> = Promise.resolve();
  private readonly pending = new Set<Promise<void>>();

  /** A change of one address; resolves when it has run (it never rejects). */
  forIp(ip: string, op: () => Promise<void>): Promise<void> {
    const prev = this.perIp.get(ip);
    const run = (prev ? Promise.all([this.barrier, prev]) : this.barrier).then(op).catch(() => undefined);
    this.perIp.set(ip, run);
    this.track(run);
    void run.then(() => {
      if (this.perIp.get(ip) === run) this.perIp.delete(ip);
    });
    return run;
  }

  /** Whole-firewall work; resolves when it has run (it never rejects). */
  forAll(op: () => Promise<void>): Promise<void> {
    // Nothing pending: start on the barrier alone (as soon as a plain queue would).
    const run = (this.pending.size ? Promise.all([...this.pending]) : this.barrier).then(op).catch(() => undefined);
    this.barrier = run;
    this.track(run);
    return run;
  }

  get idle(): boolean {
    return this.pending.size === 0;
  }

  /** Resolves once nothing is queued or running. */
  async settled(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  private track(run: Promise<void>): void {
    this.pending.add(run);
    void run.then(() => this.pending.delete(run));
  }
}
