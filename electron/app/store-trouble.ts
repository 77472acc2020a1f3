/**
 * The store's write failures (a full disk, an I/O error), said once when they start and once when
 * writing works again — not at every tick: the service's tick flushes every second, and a full disk
 * wrote the same `store:` error line to the journal every second. Meanwhile the service goes on
 * detecting and banning (blocking a scanner matters more than its history): blocked packets wait in
 * the store's bounded buffer and beyond it are counted as not stored, and a ban whose record fails
 * still goes to the firewall (ban-pipeline.ts).
 */
import { errorText } from '../shared/errors.ts';

type Say = (level: 'info' | 'error', message: string) => void;

export class StoreTrouble {
  private failing: string | null = null;
  private readonly say: Say;

  constructor(say: Say) {
    this.say = say;
  }

  /** The outcome of one round of store writes: the error of the last one that failed, or null when all succeeded. */
  report(error: unknown): void {
    if (error === null) {
      if (this.failing === null) return;
      this.failing = null;
      this.say('info', 'store: writing to the database again');
      return;
    }
    const message = errorText(error);
    if (message === this.failing) return;
    this.failing = message;
    this.say(
      'error',
      `store: cannot write to the database: ${message}. Scanners are still detected and banned; blocked packets beyond a small buffer are counted, not stored, until it can write again`,
    );
  }

  /** The error being reported, or null while the store writes. */
  get error(): string | null {
    return this.failing;
  }
}
