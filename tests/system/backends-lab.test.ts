/**
 * The namespace lab itself: if these fail, every real-packet test built on it means nothing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, type Lab } from '../support/netns.ts';
import { requireSystem } from '../support/system.ts';

describe.runIf(requireSystem('root', 'netns', 'ufw'))('network-namespace lab', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await createLab({ scanners: 2 });
  });
  afterAll(async () => {
    await lab?.cleanup();
  });

  it('reaches the allowed port 22 over IPv4 and IPv6 from both scanners, and ufw drops closed ports', async () => {
    for (const s of lab.scanners) {
      expect(await lab.probe(s.ns, s.fwV4, 22, { timeoutMs: 3000 })).toBe('open');
      expect(await lab.probe(s.ns, s.fwV6, 22, { timeoutMs: 3000 })).toBe('open');
      expect(await lab.probe(s.ns, s.fwV4, 2222)).toBe('timeout');
      expect(await lab.probe(s.ns, s.fwV6, 2222)).toBe('timeout');
    }
  });

  it('runs ufw privately inside the firewall namespace', async () => {
    const status = await lab.ufw('status', 'verbose');
    expect(status).toMatch(/Status: active/);
    expect(status).toMatch(/22\/tcp\s+ALLOW IN\s+Anywhere/);
    expect(existsSync(`${lab.ufwDir}/user.rules`)).toBe(true);
  });

  it('holds an established connection and notices when it is cut', async () => {
    const conn = await lab.connect(lab.scanner.ns, lab.scanner.fwV4, 22);
    expect(await conn.alive()).toBe(true);
    // End the server side of this connection (the echo's `cat`, started by the lab): the held
    // connection must report it.
    const pids = (await lab.run(lab.fwNs, ['ip', 'netns', 'pids', lab.fwNs])).split(/\s+/).filter(Boolean);
    for (const pid of pids) {
      let comm = '';
      try {
        comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        continue; // a short-lived process (the `ip netns pids` itself) already gone
      }
      if (comm === 'cat') process.kill(Number(pid), 'SIGKILL');
    }
    await conn.closed;
    expect(conn.isClosed()).toBe(true);
    expect(await conn.alive(500)).toBe(false);
  });

  it('captures the kernel LOG lines of this lab only', async () => {
    const cap = lab.kmsg();
    await lab.probe(lab.scanner.ns, lab.scanner.fwV4, 4444, { timeoutMs: 200 });
    let seen = false;
    for (let i = 0; i < 50 && !seen; i++) {
      seen = cap.lines().some((l) => l.includes(`SRC=${lab.scanner.v4} `) && l.includes('DPT=4444 '));
      if (!seen) await new Promise((r) => setTimeout(r, 20));
    }
    cap.stop();
    expect(seen).toBe(true);
    expect(cap.lines().every((l) => l.includes(`IN=pc${lab.id}`))).toBe(true);
  });

  it('cleanup removes the namespaces and their /etc/netns directories', async () => {
    const other = await createLab({ ufw: false, listen: false, kernelLog: false });
    await other.cleanup();
    expect(existsSync(`/run/netns/${other.fwNs}`)).toBe(false);
    expect(existsSync(`/run/netns/${other.scanner.ns}`)).toBe(false);
    expect(existsSync(`/etc/netns/${other.fwNs}`)).toBe(false);
  });
});
