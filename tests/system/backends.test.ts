/**
 * Both ban backends against real ufw and real packets, in network namespaces (tests/support/netns.ts):
 * a banned scanner can no longer open a connection to the ALLOWED port 22, its open session dies,
 * the firewall shows the tagged rule / set element, and unban restores access.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ip } from '../../electron/shared/domain.ts';
import {
  BAN_NET_SET_NAMES,
  BAN_SET_NAMES,
  createBanBackend,
  installSetBlock,
  managedBlocksStatus,
  removeSetBlock,
  type BanBackend,
} from '../../electron/helper/firewall/index.ts';
import { createLab, type Lab } from '../support/netns.ts';
import { requireSystem } from '../support/system.ts';

const ip = (s: string) => s as Ip;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `f` is true or the deadline passes (kernel effects are immediate, process starts are not). */
async function eventually(f: () => Promise<boolean>, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await f()) return true;
    if (Date.now() > end) return false;
    await sleep(50);
  }
}

describe.runIf(requireSystem('root', 'netns', 'ufw', 'ipset', 'conntrack'))('ban backends in a real ufw (network namespaces)', () => {
  for (const kind of ['ufw', 'set'] as const) {
    describe(`${kind} backend`, () => {
      let lab: Lab;
      let backend: BanBackend;
      beforeAll(async () => {
        lab = await createLab({ scanners: 2 });
        if (kind === 'set') await installSetBlock(lab.fwExec, { etcDir: lab.ufwDir });
        backend = createBanBackend(kind, lab.fwExec);
      });
      afterAll(async () => {
        await lab?.cleanup();
      });

      const shows = async (addr: string): Promise<boolean> => {
        if (kind === 'ufw') {
          const status = await lab.ufw('status');
          return new RegExp(`DENY(?: IN)?\\s+${addr.replace(/\./g, '\\.')}\\s+# portcullis-ban`).test(status);
        }
        const set = BAN_SET_NAMES[addr.includes(':') ? 6 : 4];
        return (await lab.run(lab.fwNs, ['ipset', 'list', set])).split('\n').some((l) => l.startsWith(`${addr} `));
      };

      for (const family of ['v4', 'v6'] as const) {
        it(`an ${family} ban stops new AND established connections to the allowed port 22; unban restores it`, async () => {
          const s = lab.scanner;
          const other = lab.scanners[1]!;
          const scanner = family === 'v4' ? s.v4 : s.v6;
          const dst = family === 'v4' ? s.fwV4 : s.fwV6;
          expect(await lab.canConnect(s.ns, dst)).toBe(true);
          const session = await lab.connect(s.ns, dst, 22);
          expect(await session.alive()).toBe(true);

          await backend.ban(ip(scanner), null, 'system test');

          expect(await lab.canConnect(s.ns, dst, 22, 700)).toBe(false);
          expect(await session.alive(1000)).toBe(false);
          expect(await shows(scanner)).toBe(true);
          expect((await backend.list()).map((b) => b.ip)).toContain(scanner);
          // The ban is that host's only: the other scanner still reaches port 22.
          expect(await lab.canConnect(other.ns, family === 'v4' ? other.fwV4 : other.fwV6)).toBe(true);

          await backend.unban(ip(scanner));
          expect(await eventually(() => lab.canConnect(s.ns, dst, 22, 1000))).toBe(true);
          expect(await shows(scanner)).toBe(false);
          expect((await backend.list()).map((b) => b.ip)).not.toContain(scanner);
          session.close();
        });
      }

      it('banning twice and unbanning twice are harmless', async () => {
        const s = lab.scanner;
        await backend.ban(ip(s.v4), null, 'twice');
        await backend.ban(ip(s.v4), null, 'twice');
        expect((await backend.list()).filter((b) => b.ip === s.v4)).toHaveLength(1);
        await backend.unban(ip(s.v4));
        await backend.unban(ip(s.v4));
        expect(await lab.canConnect(s.ns, s.fwV4)).toBe(true);
      });

      if (kind === 'ufw') {
        it("the seed's `ufw deny in from <ip>` (append) leaves the allowed port reachable; Portcullis's prepend does not", async () => {
          const s = lab.scanner;
          await lab.ufw('deny', 'in', 'from', s.v4);
          try {
            expect(await lab.canConnect(s.ns, s.fwV4)).toBe(true); // the seed's "ban" stops nothing
            // The seed's rule is not tagged: Portcullis's ban is skipped by ufw as a duplicate spec…
            // …so prove prepend on the second scanner, whose address has no user rule.
            const o = lab.scanners[1]!;
            await backend.ban(ip(o.v4), null, 'prepend');
            expect(await lab.canConnect(o.ns, o.fwV4, 22, 700)).toBe(false);
            const numbered = await lab.ufw('status', 'numbered');
            expect(numbered).toMatch(new RegExp(`\\[ 1\\] Anywhere\\s+DENY IN\\s+${o.v4.replace(/\./g, '\\.')}\\s+# portcullis-ban`));
            await backend.unban(ip(o.v4));
          } finally {
            await lab.ufw('delete', 'deny', 'in', 'from', s.v4);
          }
        });

        it("never touches a rule the user wrote (no Portcullis tag), even for a banned-looking address", async () => {
          const o = lab.scanners[1]!;
          await lab.ufw('prepend', 'deny', 'from', o.v6, 'comment', 'mine');
          try {
            await backend.unban(ip(o.v6));
            expect(await lab.ufw('status')).toMatch(/# mine/);
            expect(await lab.canConnect(o.ns, o.fwV6, 22, 700)).toBe(false);
            expect((await backend.list()).map((b) => b.ip)).not.toContain(o.v6);
          } finally {
            await lab.ufw('delete', 'deny', 'from', o.v6);
          }
        });

        it('blockNow then a ban ufw skips (the address is banned already) leaves no rule in the kernel that ufw does not know (v4 and v6)', async () => {
          const o = lab.scanners[1]!;
          const userInput = async (v6: boolean) =>
            (await lab.run(lab.fwNs, [v6 ? 'ip6tables' : 'iptables', '-w', '-S', v6 ? 'ufw6-user-input' : 'ufw-user-input'])).split('\n').filter((l) => l.startsWith('-A'));
          for (const addr of [o.v4, o.v6]) {
            const v6 = addr.includes(':');
            await backend.ban(ip(addr), 600, 'first');
            const before = await userInput(v6);
            await backend.blockNow!(ip(addr));
            expect((await userInput(v6)).length).toBe(before.length + 1);
            await backend.ban(ip(addr), 600, 'again'); // ufw: "Skipping inserting existing rule"
            expect(await userInput(v6)).toEqual(before);
            expect(await lab.canConnect(o.ns, v6 ? o.fwV6 : o.fwV4, 22, 700)).toBe(false);
            await backend.unban(ip(addr));
            expect(await eventually(() => lab.canConnect(o.ns, v6 ? o.fwV6 : o.fwV4, 22, 1000))).toBe(true);
          }
        });

        it('records the expiry in the tag so list() reports the time left', async () => {
          const o = lab.scanners[1]!;
          await backend.ban(ip(o.v4), 600, 'expiring');
          const entry = (await backend.list()).find((b) => b.ip === o.v4);
          expect(entry?.expiresInSec).toBeGreaterThan(590);
          expect(entry?.expiresInSec).toBeLessThanOrEqual(600);
          await backend.unban(ip(o.v4));
        });
      }

      if (kind === 'set') {
        it('without a conntrack cut, a ban still kills an established session (the set match is ahead of ufw\'s ESTABLISHED accept), v4 and v6', async () => {
          const uncut = createBanBackend('set', lab.fwExec, { cutConnections: false });
          const s = lab.scanner;
          for (const [addr, dst] of [[s.v4, s.fwV4], [s.v6, s.fwV6]] as const) {
            const session = await lab.connect(s.ns, dst, 22);
            expect(await session.alive()).toBe(true);
            await uncut.ban(ip(addr), null, 'no cut');
            expect(await session.alive(1000)).toBe(false);
            await uncut.unban(ip(addr));
            session.close();
          }
        });

        it('an element with a timeout expires in the kernel: the scanner gets through again without any unban', async () => {
          const s = lab.scanner;
          await backend.ban(ip(s.v4), 2, 'short');
          expect(await lab.canConnect(s.ns, s.fwV4, 22, 700)).toBe(false);
          const entry = (await backend.list()).find((b) => b.ip === s.v4);
          expect(entry?.expiresInSec).toBeGreaterThanOrEqual(1);
          expect(await eventually(() => lab.canConnect(s.ns, s.fwV4), 6000)).toBe(true);
          expect(await shows(s.v4)).toBe(false);
        });

        it('the set block survives `ufw reload`', async () => {
          const s = lab.scanner;
          await backend.ban(ip(s.v6), null, 'reload');
          await lab.ufw('reload');
          expect(await lab.canConnect(s.ns, s.fwV6, 22, 700)).toBe(false);
          expect(await lab.run(lab.fwNs, ['ip6tables', '-S', 'ufw6-before-input'])).toMatch(/--match-set portcullis-ban6 src -j DROP/);
          await backend.unban(ip(s.v6));
          expect(await lab.canConnect(s.ns, s.fwV6)).toBe(true);
        });

        it('ufw starts even when the sets are gone (boot): before.init recreates them', async () => {
          await lab.ufw('disable');
          for (const name of [...Object.values(BAN_SET_NAMES), ...Object.values(BAN_NET_SET_NAMES)]) await lab.run(lab.fwNs, ['ipset', 'destroy', name]);
          await lab.ufw('--force', 'enable');
          expect(await lab.ufw('status')).toMatch(/Status: active/);
          expect(await lab.run(lab.fwNs, ['ipset', 'list', '-n'])).toMatch(/portcullis-ban4\nportcullis-ban6\nportcullis-net4\nportcullis-net6/);
          const s = lab.scanner;
          await backend.ban(ip(s.v4), null, 'after boot');
          expect(await lab.canConnect(s.ns, s.fwV4, 22, 700)).toBe(false);
          await backend.unban(ip(s.v4));
        });

        it('installing twice changes nothing; removing takes the block, the hook and the sets away', async () => {
          const before = await lab.run(lab.fwNs, ['cat', '/etc/ufw/before.rules']);
          await installSetBlock(lab.fwExec, { etcDir: lab.ufwDir });
          expect(await lab.run(lab.fwNs, ['cat', '/etc/ufw/before.rules'])).toBe(before);
          expect(await managedBlocksStatus({ etcDir: lab.ufwDir })).toEqual({ setBlock: true, perSourceLogging: false, perSourceLoggingVia: null, perSourceLoggingByFamily: { v4: null, v6: null }, forward: false, forwardVia: null });

          await removeSetBlock(lab.fwExec, { etcDir: lab.ufwDir });
          expect(await managedBlocksStatus({ etcDir: lab.ufwDir })).toEqual({ setBlock: false, perSourceLogging: false, perSourceLoggingVia: null, perSourceLoggingByFamily: { v4: null, v6: null }, forward: false, forwardVia: null });
          expect(await lab.run(lab.fwNs, ['iptables', '-S', 'ufw-before-input'])).not.toMatch(/match-set/);
          expect((await lab.run(lab.fwNs, ['ipset', 'list', '-n'])).trim()).toBe('');
          expect(await lab.ufw('status')).toMatch(/Status: active/);
          // and back, for any later test
          await installSetBlock(lab.fwExec, { etcDir: lab.ufwDir });
        });
      }
    });
  }
});
