/**
 * The runner's main thread is raised to the kmsg reader's nice -10 (a ban waits for it to be woken),
 * never lowered, and the programs it starts are set back to the nice it had (helper/exec.ts).
 */
import { describe, expect, it } from 'vitest';
import { raiseMainThreadPriority } from '../../electron/headless/main-thread-priority.ts';

function fakeOs(nice: number, refuse = false) {
  const calls: number[] = [];
  return {
    calls,
    os: {
      getPriority: () => nice,
      setPriority: (n: number) => {
        if (refuse) throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
        calls.push(n);
      },
    },
  };
}

describe('raiseMainThreadPriority', () => {
  it('raises a thread at nice 0 to -10, and has the programs it starts set back to 0', () => {
    const { os, calls } = fakeOs(0);
    const children: Array<number | null> = [];
    expect(raiseMainThreadPriority(os, (n) => children.push(n))).toBeNull();
    expect(calls).toEqual([-10]);
    expect(children).toEqual([0]);
  });

  it('keeps an admin\'s nice of -10 or less (never lowers it), and leaves the children as inherited', () => {
    for (const nice of [-10, -15]) {
      const { os, calls } = fakeOs(nice);
      const children: Array<number | null> = [];
      expect(raiseMainThreadPriority(os, (n) => children.push(n))).toBeNull();
      expect(calls).toEqual([]);
      expect(children).toEqual([]);
    }
  });

  it('says why when it may not raise (no CAP_SYS_NICE), and leaves the children as inherited', () => {
    const { os } = fakeOs(5, true);
    const children: Array<number | null> = [];
    expect(raiseMainThreadPriority(os, (n) => children.push(n))).toMatch(/not raised \(EACCES.*CAP_SYS_NICE/);
    expect(children).toEqual([]);
  });
});
