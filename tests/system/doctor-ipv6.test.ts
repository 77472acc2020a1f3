/**
 * The Doctor's enable-ufw-ipv6 fix against real ufw in a namespace (its private /etc/ufw and
 * /etc/default, bind-mounted by `ip netns exec`): with IPV6=no ufw loads no IPv6 chains at all; the
 * fix sets IPV6=yes (that line only) and reloads, after which ufw's IPv6 chains are in the kernel
 * and an IPv6 ban rule loads. The host's own /etc/default/ufw is never touched.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { enableUfwIpv6 } from '../../electron/helper/firewall/ufw-ipv6.ts';
import { createLab, type Lab } from '../support/netns.ts';
import { requireSystem } from '../support/system.ts';

const enabled = requireSystem('root', 'netns', 'ufw');

describe.runIf(enabled)('enable-ufw-ipv6 with real ufw (namespace)', () => {
  let lab: Lab | null = null;
  afterEach(async () => {
    await lab?.cleanup();
    lab = null;
  });

  it('IPV6=no → the fix writes IPV6=yes (nothing else) and ufw reloads with its IPv6 chains', async () => {
    const hostDefaults = readFileSync('/etc/default/ufw', 'utf8');
    lab = await createLab({ listen: false, kernelLog: false });
    const file = `/etc/netns/${lab.fwNs}/default/ufw`;
    const withNo = readFileSync(file, 'utf8').replace(/^IPV6=.*$/m, 'IPV6=no');
    writeFileSync(file, withNo);
    await lab.ufw('reload');
    const v6Input = async () => (await lab!.exec(lab!.fwNs, ['ip6tables', '-w', '-S', 'INPUT'])).stdout;
    expect(await v6Input()).not.toMatch(/-j ufw6-before-input/);

    expect(await enableUfwIpv6(lab.fwExec, { defaultsFile: file })).toEqual({ changed: true, reloaded: true });
    expect(readFileSync(file, 'utf8')).toBe(withNo.replace(/^IPV6=no$/m, 'IPV6=yes'));
    expect(await v6Input()).toMatch(/-j ufw6-before-input/);
    expect(await lab.ufw('status')).toMatch(/Status: active/);
    // An IPv6 ban (what the ufw backend runs) now loads into ufw6-user-input.
    await lab.ufw('prepend', 'deny', 'from', '2001:db8:ffff::7', 'comment', 'portcullis-ban test');
    expect((await lab.exec(lab.fwNs, ['ip6tables', '-w', '-S', 'ufw6-user-input'])).stdout).toMatch(/-s 2001:db8:ffff::7\/128 -j DROP/);
    // Again: nothing to change, nothing runs.
    expect(await enableUfwIpv6(lab.fwExec, { defaultsFile: file })).toEqual({ changed: false, reloaded: false });
    expect(readFileSync('/etc/default/ufw', 'utf8')).toBe(hostDefaults);
  }, 120_000);
});
