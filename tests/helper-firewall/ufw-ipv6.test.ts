/**
 * The Doctor's enable-ufw-ipv6 fix at the root boundary (firewall/ufw-ipv6.ts), on temp files: only
 * the IPV6= value changes (every other byte stays), a missing or non-regular file is refused before
 * anything runs, the swap is atomic with the file's mode kept, ufw is reloaded only while active, and
 * a failed reload puts the old file back. Then the helper's op: closed (no arguments), audited.
 */
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { enableUfwIpv6, withIpv6Yes } from '../../electron/helper/firewall/ufw-ipv6.ts';
import { createHelperDispatcher } from '../../electron/helper/ops.ts';
import { fakeDeps } from '../helper/fakes.ts';
import { type Call, fakeExec } from './fake-exec.ts';

/** ufw's own /etc/default/ufw, with IPV6=no (comments mention IPv6 and "no" too: they must stay). */
const DEFAULTS = `# /etc/default/ufw
#

# Set to yes to apply rules to support IPv6 (no means only IPv6 on loopback
# accepted). You will need to 'disable' and then 'enable' the firewall for
# the changes to take affect.
IPV6=no

# Set the default input policy to ACCEPT, DROP, or REJECT.
DEFAULT_INPUT_POLICY="DROP"
DEFAULT_OUTPUT_POLICY="ACCEPT"
# IPV6=no in a comment is not a setting
MANAGE_BUILTINS=no
IPT_MODULES=""
`;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempFile(text: string, mode = 0o644): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pc-ipv6-'));
  dirs.push(dir);
  const file = join(dir, 'ufw');
  writeFileSync(file, text);
  chmodSync(file, mode);
  return { dir, file };
}
const ufwAnswers = (active: boolean, reloadCode = 0) => (c: Call) => {
  if (c.bin === 'ufw' && c.args[0] === 'status') return { stdout: `Status: ${active ? 'active' : 'inactive'}\n` };
  if (c.bin === 'ufw' && c.args[0] === 'reload') return { code: reloadCode, stderr: reloadCode ? 'ERROR: problem running ip6tables' : '' };
  return undefined;
};

describe('withIpv6Yes: the one value, nothing else', () => {
  it('sets the value and keeps every other byte (comments, quotes, spacing, other keys)', () => {
    const r = withIpv6Yes(DEFAULTS);
    expect(r).toMatchObject({ ok: true, changed: true });
    if (!r.ok) return;
    expect(r.text).toBe(DEFAULTS.replace('\nIPV6=no\n', '\nIPV6=yes\n'));
    expect(withIpv6Yes('A=1\nIPV6="no"  \nB=2')).toEqual({ ok: true, changed: true, text: 'A=1\nIPV6="yes"  \nB=2' });
    // ufw reads KEY=value from the first column only: editing a line it skips would change nothing for ufw.
    expect(withIpv6Yes('A=1\n  IPV6 = "no"  \nB=2')).toMatchObject({ ok: false, reason: expect.stringMatching(/no IPV6= line ufw reads/) });
  });
  it('already yes: unchanged; no IPV6= line: refused, not added', () => {
    expect(withIpv6Yes('IPV6=yes\n')).toEqual({ ok: true, changed: false, text: 'IPV6=yes\n' });
    expect(withIpv6Yes('# IPV6=no\nMANAGE_BUILTINS=no\n')).toMatchObject({ ok: false });
  });
});

describe('enableUfwIpv6 on a file', () => {
  it('ufw active: swaps the file in (mode kept, no leftovers), then reloads ufw', async () => {
    const { dir, file } = tempFile(DEFAULTS, 0o640);
    const { exec, calls } = fakeExec(ufwAnswers(true));
    expect(await enableUfwIpv6(exec, { defaultsFile: file })).toEqual({ changed: true, reloaded: true });
    expect(readFileSync(file, 'utf8')).toBe(DEFAULTS.replace('\nIPV6=no\n', '\nIPV6=yes\n'));
    expect(lstatSync(file).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir)).toEqual(['ufw']);
    expect(calls.map((c) => `${c.bin} ${c.args.join(' ')}`)).toEqual(['ufw status', 'ufw reload', 'ufw status']);
  });
  it('ufw inactive: writes the file, reloads nothing; already yes: runs nothing at all', async () => {
    const { file } = tempFile(DEFAULTS);
    const { exec, calls } = fakeExec(ufwAnswers(false));
    expect(await enableUfwIpv6(exec, { defaultsFile: file })).toEqual({ changed: true, reloaded: false });
    expect(calls.map((c) => c.args[0])).toEqual(['status']);
    calls.length = 0;
    expect(await enableUfwIpv6(exec, { defaultsFile: file })).toEqual({ changed: false, reloaded: false });
    expect(calls).toEqual([]);
  });
  it('a failed reload puts the old file back and reloads again', async () => {
    const { file } = tempFile(DEFAULTS);
    let reloads = 0;
    const { exec, calls } = fakeExec((c) => (c.args[0] === 'reload' && ++reloads === 1 ? { code: 1, stderr: 'ERROR: problem running ip6tables' } : ufwAnswers(true)(c)));
    await expect(enableUfwIpv6(exec, { defaultsFile: file })).rejects.toMatchObject({ code: 'reload-failed', message: expect.stringMatching(/put back and reloaded/) });
    expect(readFileSync(file, 'utf8')).toBe(DEFAULTS);
    expect(calls.filter((c) => c.args[0] === 'reload')).toHaveLength(2);
  });
  it('refuses a missing file, a symlink, a directory and a file without IPV6= before anything runs', async () => {
    const { dir, file } = tempFile(DEFAULTS);
    const link = join(dir, 'link');
    symlinkSync(file, link);
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    const noKey = join(dir, 'nokey');
    writeFileSync(noKey, 'DEFAULT_INPUT_POLICY="DROP"\n');
    const { exec, calls } = fakeExec(ufwAnswers(true));
    await expect(enableUfwIpv6(exec, { defaultsFile: join(dir, 'absent') })).rejects.toMatchObject({ code: 'missing-file' });
    await expect(enableUfwIpv6(exec, { defaultsFile: link })).rejects.toMatchObject({ code: 'bad-file', message: expect.stringMatching(/not a regular file/) });
    await expect(enableUfwIpv6(exec, { defaultsFile: sub })).rejects.toMatchObject({ code: 'bad-file' });
    await expect(enableUfwIpv6(exec, { defaultsFile: noKey })).rejects.toMatchObject({ code: 'bad-file', message: expect.stringMatching(/no IPV6= line/) });
    expect(calls).toEqual([]);
    expect(readFileSync(file, 'utf8')).toBe(DEFAULTS);
    expect(readFileSync(noKey, 'utf8')).toBe('DEFAULT_INPUT_POLICY="DROP"\n');
  });
});

describe('the helper op enableUfwIpv6', () => {
  it('takes no arguments, runs the firewall module once and is audited', async () => {
    const { deps, fwCalls, audit } = fakeDeps();
    const d = createHelperDispatcher(deps);
    expect(await d.handle({ id: 1, op: 'enableUfwIpv6', args: { file: '/etc/passwd' } })).toMatchObject({ ok: false, error: { code: 'invalid' } });
    expect(fwCalls).toEqual([]);
    expect(await d.handle({ id: 2, op: 'enableUfwIpv6', args: {} })).toEqual({ id: 2, ok: true, result: { changed: true, reloaded: true } });
    expect(fwCalls).toEqual(['enableUfwIpv6']);
    expect(audit.entries.map((e) => e.op)).toEqual(['enableUfwIpv6']);
    d.close();
  });
});
