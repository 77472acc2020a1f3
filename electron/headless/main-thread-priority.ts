/**
 * The runner's main thread's priority (see raiseMainThreadPriority).
 */
import { READER_NICE } from '../engine/logs/kmsg-thread.ts';
import { setChildNice } from '../helper/exec.ts';
import { errorText } from '../shared/errors.ts';

/**
 * Raises the main thread — the one that reads a record, decides the ban and writes it to the ipset
 * coprocess — to the kmsg reading thread's nice -10. Each ban waits for it to be woken twice (the
 * record, then ipset's answer), and on a busy 2-core machine each wake-up waited for a CPU: the
 * ban-latency bench's set rows, alternated with the code before in one hour: 6.9–7.2 ms median
 * (IPv4) and 7.5–9.6 (IPv6) against 10.7–12.1 and 10.5–15.9; the first ban after a start 10–68 ms
 * against 28–200 (its BAN line 5–54 against 10–118). At rest it sleeps, so this costs others
 * nothing; under a flood the unit's CPUWeight already gives the service its share against other
 * groups (from a terminal, `sudo portcullis run` outranks the session's other work by it). Only
 * raised, never lowered (an admin's Nice= of -10 or less stays), and only this thread: a program
 * inherits the nice of the thread that starts it, so those started through helper/exec.ts (ufw, ip,
 * ss, iptables, the address monitor) are set back to the process's own (setChildNice), and the ipset
 * coprocess then sets its own -10. The log readers the sources start themselves (journalctl,
 * portcullis-nflog) keep -10, as the kmsg reading thread has it: they only read the log, blocking
 * when it is drained. Returns why it was not raised, or null. `setPriority(n)` with no pid sets the
 * calling thread's (Linux).
 */
export function raiseMainThreadPriority(
  os: { getPriority: () => number; setPriority: (nice: number) => void } = process.getBuiltinModule('node:os'),
  setChildren: (nice: number | null) => void = setChildNice,
): string | null {
  const own = os.getPriority();
  if (own <= READER_NICE) return null;
  try {
    os.setPriority(READER_NICE);
  } catch (e) {
    return `the main thread's priority was not raised (${errorText(e)}; CAP_SYS_NICE is needed): a ban may wait longer for a CPU`;
  }
  setChildren(own);
  return null;
}
