/**
 * Sources whose ban the firewall refused because a rule of the user's own decides their traffic
 * (the ufw backend keeps one rule per source: the user's `allow from IP` trusts it, their own deny
 * already blocks it). Their ban is ended ('refused-users-rule'); this keeps the engine from deciding
 * it again at the next few probes — a ban made, refused and ended every few seconds, each with a
 * notice — until the refused ban would have ended: then one more try (the user may have deleted
 * their rule meanwhile), or until the user's rules change (the service's status read sees that
 * within its refresh, firewall-status.ts): then too, unless a rule of the user's still decides that
 * source (users-rule-owners.ts). A permanent ban refused holds off while this
 * process runs or until then. Bounded: the oldest entry goes first.
 */
export const MAX_HELD_OFF = 10_000;

export class UsersRuleHoldOff {
  /** Target (address or network) → when the hold-off ends (null: while this process runs). */
  private readonly until = new Map<string, number | null>();

  /** Holds `target` off until `until` (the refused ban's end). */
  hold(target: string, until: number | null): void {
    this.until.delete(target); // re-inserted: the newest goes last in the eviction order
    if (this.until.size >= MAX_HELD_OFF) this.until.delete(this.until.keys().next().value!);
    this.until.set(target, until);
  }

  /** Is `target` held off at `time`? An entry whose time is over is dropped. */
  holds(target: string, time: number): boolean {
    if (!this.until.has(target)) return false;
    const end = this.until.get(target)!;
    if (end === null || end > time) return true;
    this.until.delete(target);
    return false;
  }

  /**
   * Ends every hold-off but those of `keep` (the user's rules changed: the rule that refused a ban
   * may be gone; `keep`: sources a rule of the user's still decides); returns how many ended.
   */
  clear(keep: ReadonlySet<string> = new Set()): number {
    let n = 0;
    for (const target of [...this.until.keys()]) {
      if (keep.has(target)) continue;
      this.until.delete(target);
      n++;
    }
    return n;
  }

  get size(): number {
    return this.until.size;
  }
}
