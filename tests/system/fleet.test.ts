/**
 * The fleet for real (issue 10): two hosts in two namespaces, each with real ufw and `portcullis run`,
 * a private CrowdSec LAPI (Debian's crowdsec 1.4.6) in a third, one scanner. Caught on A, blocked on
 * B's open port though B never saw a probe; unban on A lifts it on B; the LAPI killed during a burst
 * of 200 bans; B's whitelist wins; a wrong bouncer key leaves local protection on.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { prefixOf } from '../../electron/shared/prefix.ts';
import { requireSystem } from '../support/system.ts';
import { crowdsecInstalled } from '../support/lapi.ts';
import { cliOnce, setMembers, until } from './runner-support.ts';
import { createFleetLab, hostConfig, startHost, type FleetLab } from './fleet-support.ts';

const enabled = requireSystem('root', 'netns', 'ufw', 'ipset', 'conntrack') && crowdsecInstalled();
const CLOSED = [1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008];

describe.runIf(enabled)('fleet: bans shared through a real CrowdSec LAPI between two namespaced hosts', () => {
  let fl: FleetLab | null = null;
  afterEach(async () => {
    await fl?.cleanup();
    fl = null;
  });

  it('caught on A, blocked on B\'s open port (B never saw a probe), visible in cscli -a; unban on A lifts it on B', async () => {
    fl = await createFleetLab();
    const { a, b, scannerIp, scannerNs } = fl;
    const cliA = await startHost(a, hostConfig(a));
    const cliB = await startHost(b, hostConfig(b));
    expect(await a.lab.canConnect(scannerNs, b.target, 22)).toBe(true);

    await a.lab.probeMany(scannerNs, a.target, CLOSED, { timeoutMs: 300 });
    await cliA.waitFor((l) => l.type === 'ban' && l.ip === scannerIp, 10_000, `A's ban of ${scannerIp}`);
    const onB = await cliB.waitFor((l) => l.type === 'ban' && l.ip === scannerIp, 10_000, `B applying A's ban of ${scannerIp}`);
    expect(onB).toMatchObject({ reason: { origin: 'portcullis@hostA' } });
    expect(await setMembers(b.lab, 4)).toContain(scannerIp);
    expect(await b.lab.canConnect(scannerNs, b.target, 22, 700)).toBe(false);

    const decisions = await fl.lapi.decisions();
    expect(decisions.filter((d) => d.value === scannerIp).map((d) => d.origin)).toEqual(['portcullis@hostA']);
    // B never pushes a fleet ban back.
    expect(decisions.some((d) => d.origin === 'portcullis@hostB')).toBe(false);

    const un = await cliOnce(a.lab, ['unban', scannerIp, '--state-dir', a.stateDir]);
    expect(un.code, un.stderr).toBe(0);
    await cliB.waitFor((l) => l.type === 'unban' && l.ip === scannerIp, 10_000, `B lifting ${scannerIp}`);
    await until(async () => !(await setMembers(b.lab, 4)).includes(scannerIp), 5000, 'B\'s set without the scanner');
    expect(await b.lab.canConnect(scannerNs, b.target, 22, 3000)).toBe(true);
    expect((await fl.lapi.decisions()).filter((d) => d.value === scannerIp)).toEqual([]);

    const status = await cliOnce(b.lab, ['fleet', 'status', '--state-dir', b.stateDir]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/link\s+ok/);
    expect(status.stdout).not.toContain(b.bouncerKey);
  });

  it('a Range decision (cscli decisions add --range) is applied on B as a prefix ban: the scanner is blocked on B\'s open port until it is deleted', async () => {
    fl = await createFleetLab();
    const { b, scannerIp, scannerNs } = fl;
    const cliB = await startHost(b, hostConfig(b));
    expect(await b.lab.canConnect(scannerNs, b.target, 22)).toBe(true);
    // The scanner's /31: never one of B's addresses (theirs end in 1 mod 4 in the lab's /30s).
    const range = prefixOf(scannerIp, 31)!;
    await fl.lapi.cscli('decisions', 'add', '--range', range, '--duration', '1h', '--reason', 'portcullis range test');
    const onB = await cliB.waitFor((l) => l.type === 'ban' && l.ip === range, 15_000, `B applying the range ${range}`);
    expect(onB).toMatchObject({ reason: { origin: 'cscli' } });
    expect((await b.lab.exec(b.lab.fwNs, ['ipset', 'list', 'portcullis-net4'])).stdout).toContain(range);
    expect(await b.lab.canConnect(scannerNs, b.target, 22, 700)).toBe(false);

    await fl.lapi.cscli('decisions', 'delete', '--range', range);
    await cliB.waitFor((l) => l.type === 'unban' && l.ip === range, 15_000, `B lifting ${range}`);
    expect(await b.lab.canConnect(scannerNs, b.target, 22, 3000)).toBe(true);
  });

  it('the LAPI killed during a burst of 200 bans and restarted: B ends with all 200, A\'s queue empties, no duplicates', async () => {
    fl = await createFleetLab();
    const { a, b } = fl;
    await startHost(a, hostConfig(a));
    const cliB = await startHost(b, hostConfig(b));
    const ctlA = fl.control(a);
    const want = Array.from({ length: 200 }, (_, i) => `198.18.${Math.floor(i / 100)}.${(i % 100) + 1}`);
    const bans: Promise<unknown>[] = [];
    for (let i = 0; i < want.length; i++) {
      bans.push(ctlA.call('ban', { ip: want[i]!, durationSec: 3600 }));
      if (i === 60) await fl.lapi.kill();
    }
    await Promise.all(bans);
    expect((await ctlA.call('getState', {})).fleet?.push.queued).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1500));
    await fl.lapi.restart();
    await until(async () => (await ctlA.call('getState', {})).fleet?.push.queued === 0, 60_000, 'A\'s queue to empty');
    await until(async () => (await setMembers(b.lab, 4)).filter((x) => x.startsWith('198.18.')).length === 200, 60_000, 'B to hold all 200');
    const members = (await setMembers(b.lab, 4)).filter((x) => x.startsWith('198.18.'));
    expect(new Set(members).size).toBe(200);
    expect(members.sort()).toEqual([...want].sort());
    const mine = (await fl.lapi.decisions()).filter((d) => d.origin === 'portcullis@hostA');
    expect(mine.length).toBe(200);
    expect(new Set(mine.map((d) => d.value)).size).toBe(200);
    // Each applied once on B.
    const applied = cliB.lines.filter((l) => l.type === 'ban' && String(l.ip).startsWith('198.18.'));
    expect(new Set(applied.map((l) => l.ip)).size).toBe(200);
  });

  it('B whitelists the scanner: B never applies A\'s ban of it and says why', async () => {
    fl = await createFleetLab();
    const { a, b, scannerIp, scannerNs } = fl;
    const cliA = await startHost(a, hostConfig(a));
    const cliB = await startHost(b, hostConfig(b, { whitelist: [`${scannerIp}/32`] }));
    await a.lab.probeMany(scannerNs, a.target, CLOSED, { timeoutMs: 300 });
    await cliA.waitFor((l) => l.type === 'ban' && l.ip === scannerIp, 10_000, `A's ban of ${scannerIp}`);
    const ctlB = fl.control(b);
    await until(async () => ((await ctlB.call('getState', {})).fleet?.refused.whitelisted ?? 0) >= 1, 10_000, 'B to refuse the whitelisted scanner');
    expect((await ctlB.call('getState', {})).fleet?.lastRefusals[0]).toContain(`${scannerIp} from portcullis@hostA: whitelisted`);
    expect(cliB.bans()).not.toContain(scannerIp);
    expect(await setMembers(b.lab, 4)).not.toContain(scannerIp);
    expect(await b.lab.canConnect(scannerNs, b.target, 22, 3000)).toBe(true);
  });

  it('a wrong bouncer key: doctor says so clearly, local protection still bans', async () => {
    fl = await createFleetLab();
    const { a, scannerIp, scannerNs } = fl;
    const cliA = await startHost(a, hostConfig(a, { crowdsec: { bouncerKey: 'not-the-key' } }));
    await a.lab.probeMany(scannerNs, a.target, CLOSED, { timeoutMs: 300 });
    await cliA.waitFor((l) => l.type === 'ban' && l.ip === scannerIp, 10_000, `A's local ban of ${scannerIp}`);
    expect(await setMembers(a.lab, 4)).toContain(scannerIp);
    const ctlA = fl.control(a);
    await until(async () => (await ctlA.call('getState', {})).fleet?.pull.ok === false, 10_000, 'the pull to fail');
    const doctor = await ctlA.call('getDoctor', {});
    const pull = doctor.find((c) => c.id === 'fleet-pull');
    expect(pull?.level).toBe('error');
    expect(pull?.detail).toMatch(/bouncer key refused/);
    expect(JSON.stringify(doctor)).not.toContain('not-the-key');
  });
});
