/**
 * Per-source logging against real ufw and real packets: ufw's one shared LOG budget
 * (`--limit 3/min --limit-burst 10`) hides most of a second simultaneous scanner; Portcullis's managed
 * block in after.rules (hashlimit per source) logs both. Lines are counted in /dev/kmsg, which the
 * whole machine shares, filtered by this lab's interfaces, prefix, source and destination ports.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import ipaddr from 'ipaddr.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installPerSourceLogging, managedBlocksStatus, removePerSourceLogging } from '../../electron/helper/firewall/index.ts';
import { PORTCULLIS_LOG_PREFIX } from '../../electron/shared/settings.ts';
import { createLab, type KmsgCapture, type Lab, type LabLink } from '../support/netns.ts';
import { requireSystem } from '../support/system.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

function logged(cap: KmsgCapture, prefix: string, s: LabLink, ports: readonly number[]): Set<number> {
  const wanted = new Set(ports);
  const seen = new Set<number>();
  for (const line of cap.lines()) {
    if (!line.includes(`[${prefix}] `) || !line.includes(`SRC=${s.v4} `)) continue;
    const dpt = Number(/ DPT=(\d+) /.exec(line)?.[1]);
    if (wanted.has(dpt)) seen.add(dpt);
  }
  return seen;
}

/** Waits until the kernel lines stop growing (they arrive asynchronously through the ring). */
async function settle(cap: KmsgCapture): Promise<void> {
  let n = -1;
  for (let i = 0; i < 40 && cap.lines().length !== n; i++) {
    n = cap.lines().length;
    await sleep(100);
  }
}

describe.runIf(requireSystem('root', 'netns', 'ufw'))('per-source logging block (two simultaneous scanners)', () => {
  let lab: Lab;
  let cap: KmsgCapture;
  beforeAll(async () => {
    lab = await createLab({ scanners: 2, listen: false });
    cap = lab.kmsg();
  });
  afterAll(async () => {
    await lab?.cleanup();
  });

  const scanBoth = async (ports1: number[], ports2: number[]) => {
    const [a, b] = lab.scanners as [LabLink, LabLink];
    // Start both probers first (port 22 is allowed: never logged), so process start-up cannot reorder them.
    await Promise.all([lab.probe(a.ns, a.fwV4, 22), lab.probe(b.ns, b.fwV4, 22)]);
    // The first scanner starts first; the second follows while the first is still scanning.
    const first = lab.probeMany(a.ns, a.fwV4, ports1, { timeoutMs: 200 });
    // The second starts once the kernel has logged the first's opening burst (ufw's budget is 10),
    // not after a fixed 20 ms: a prober not scheduled within those let the second take the budget.
    const fromFirst = () => cap.lines().filter((l) => l.includes(`SRC=${a.v4} `)).length;
    const before = fromFirst(); // the capture is shared by the tests
    for (const end = Date.now() + 3000; fromFirst() < before + 10 && Date.now() < end; ) await sleep(10);
    await Promise.all([first, lab.probeMany(b.ns, b.fwV4, ports2, { timeoutMs: 200 })]);
    await settle(cap);
  };

  it("without the block, ufw's shared budget misses most of the second scanner, and all of 445/139", async () => {
    const [a, b] = lab.scanners as [LabLink, LabLink];
    const p1 = range(2000, 20);
    const p2 = [445, 139, ...range(3000, 18)];
    await scanBoth(p1, p2);
    const seen1 = logged(cap, 'UFW BLOCK', a, p1);
    const seen2 = logged(cap, 'UFW BLOCK', b, p2);
    expect(seen1.size + seen2.size).toBeLessThanOrEqual(12); // burst 10, refilled at 3/min
    expect(seen2.size).toBeLessThan(p2.length / 2);
    expect(seen2.has(445) || seen2.has(139)).toBe(false);
  });

  it('with the block, every probe of both scanners is logged with the Portcullis prefix, 445 and 139 included', async () => {
    await installPerSourceLogging(lab.fwExec, { etcDir: lab.ufwDir });
    expect((await managedBlocksStatus({ etcDir: lab.ufwDir })).perSourceLogging).toBe(true);
    const [a, b] = lab.scanners as [LabLink, LabLink];
    const p1 = range(4000, 20);
    const p2 = [445, 139, ...range(5000, 18)];
    await scanBoth(p1, p2);
    expect(logged(cap, PORTCULLIS_LOG_PREFIX, a, p1).size).toBe(20);
    expect(logged(cap, PORTCULLIS_LOG_PREFIX, b, p2).size).toBe(20);
    // It logs, it does not accept: the probes were still dropped.
    expect(await lab.probe(a.ns, a.fwV4, 4000, { timeoutMs: 200 })).toBe('timeout');
    expect(await lab.probe(a.ns, a.fwV4, 22, { timeoutMs: 3000 })).not.toBe('timeout'); // refused: allowed, nothing listens
  });

  it('logs IPv6 probes too', async () => {
    const a = lab.scanner;
    const ports = range(6000, 5);
    await lab.probeMany(a.ns, a.fwV6, ports, { timeoutMs: 200 });
    await settle(cap);
    // The kernel prints IPv6 addresses in full: fd00:0001:0000:…
    const src = ipaddr.IPv6.parse(a.v6).parts.map((p) => p.toString(16).padStart(4, '0')).join(':');
    const seen = cap.lines().filter((l) => l.includes(`[${PORTCULLIS_LOG_PREFIX}] `) && l.includes(`SRC=${src} `));
    expect(new Set(seen.map((l) => /DPT=(\d+)/.exec(l)?.[1])).size).toBe(5);
  });

  it('a rules file that would not load is refused before anything changes', async () => {
    const path = `${lab.ufwDir}/after.rules`;
    const original = readFileSync(path, 'utf8');
    // A user's broken edit: our block must not be swapped in on top of it (ufw would be left half-loaded).
    writeFileSync(path, original.replace(/^COMMIT$/m, '-A ufw-after-input -p tcp --dport 99999 -j DROP\nCOMMIT'));
    try {
      await expect(installPerSourceLogging(lab.fwExec, { etcDir: lab.ufwDir, burst: 30 })).rejects.toMatchObject({ code: 'rejected-rules' });
      expect(readFileSync(path, 'utf8')).toContain('--dport 99999');
      expect(readFileSync(path, 'utf8')).not.toContain('--hashlimit-burst 30');
      expect(await lab.ufw('status')).toMatch(/Status: active/);
    } finally {
      writeFileSync(path, original);
    }
  });

  it('removing the block stops Portcullis lines and leaves ufw running', async () => {
    await removePerSourceLogging(lab.fwExec, { etcDir: lab.ufwDir });
    expect((await managedBlocksStatus({ etcDir: lab.ufwDir })).perSourceLogging).toBe(false);
    expect(await lab.run(lab.fwNs, ['iptables', '-S', 'ufw-after-input'])).not.toMatch(/hashlimit/);
    expect(await lab.ufw('status')).toMatch(/Status: active/);
    const a = lab.scanner;
    await lab.probeMany(a.ns, a.fwV4, range(7000, 3), { timeoutMs: 200 });
    await settle(cap);
    expect(logged(cap, PORTCULLIS_LOG_PREFIX, a, range(7000, 3)).size).toBe(0);
  });
});
