/**
 * A recording stand-in for the helper's Exec, shared by the firewall tests: every call is kept (binary,
 * argv, stdin) and answered with success unless `answer` says otherwise. It also checks what the real
 * Exec guarantees: a binary NAME from the fixed table and an argv of strings — no shell string.
 */
import { expect } from 'vitest';
import { BINARIES, type Exec, type ExecResult } from '../../electron/helper/exec.ts';

export type Call = { bin: string; args: string[]; input?: string };

export function fakeExec(answer: (c: Call) => Partial<ExecResult> | undefined = () => undefined): { exec: Exec; calls: Call[] } {
  const calls: Call[] = [];
  const exec: Exec = async (bin, args, opts) => {
    expect(Object.keys(BINARIES)).toContain(bin);
    expect(Array.isArray(args) && args.every((a) => typeof a === 'string')).toBe(true);
    const c: Call = { bin, args: [...args], ...(opts?.input !== undefined ? { input: opts.input } : {}) };
    calls.push(c);
    return { code: 0, stdout: '', stderr: '', ...answer(c) };
  };
  return { exec, calls };
}
