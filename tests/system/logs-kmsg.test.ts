/**
 * KmsgSource against the real /dev/kmsg (root). Markers written by root arrive with the user
 * facility and must be refused as untrusted; real kernel records pass; a second instance resumes
 * after the first with no loss and no duplicate.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { DevKmsgFeed, KmsgSource, newestKmsgSeq, parseKmsgHeader, type KmsgRecord } from '../../electron/engine/logs/kmsg.ts';
import { readKmsgRing } from '../../electron/node/kmsg-ring.ts';
import { parseRecord } from '../../electron/engine/parse/index.ts';
import { createLab } from '../support/netns.ts';
import { requireSystem } from '../support/system.ts';

const tag = `portcullis-kmsg-test-${randomBytes(4).toString('hex')}`;
/** One write = one record. "<4>" asks for facility 0 (kernel), which the kernel must not grant. */
const mark = (n: number) => writeFileSync('/dev/kmsg', `<4>${tag} marker=${n} [UFW BLOCK] IN=lo SRC=10.9.9.9 DST=10.9.9.8\n`);
const markerOf = (r: KmsgRecord) => (r.line.includes(tag) ? Number(/marker=(\d+)/.exec(r.line)?.[1]) : null);

describe.runIf(requireSystem('root'))('KmsgSource on /dev/kmsg', () => {
  it("tells about how large the kernel's ring is once it is full: what its records take, close below a power of two (log_buf_len)", () => {
    // Fill it (the test machine's ring wrapped long ago; a fresh one wraps here): user-facility lines.
    const before = readKmsgRing();
    if (!before.full) for (let i = 0; i < 20_000 && !readKmsgRing().full; i += 500) for (let j = 0; j < 500; j++) mark(-1);
    const ring = readKmsgRing();
    expect(ring.full).not.toBeNull();
    const { bytes, records } = ring.full!;
    expect(records).toBeGreaterThan(0);
    expect(ring.newestSeq).toBeGreaterThanOrEqual(before.newestSeq ?? 0);
    const pow2 = 2 ** Math.ceil(Math.log2(bytes));
    expect(bytes).toBeLessThanOrEqual(pow2);
    // Records of 32 bytes or more on average fill the text ring (shorter ones run out of descriptors
    // first, one per 32 bytes): then all but the block left at the wrap is in use (without the blocks' id and alignment, ringBlockBytes, the estimate here was under 0.93 of it).
    if (bytes / records >= 40) expect(bytes).toBeGreaterThan(pow2 * 0.95);
  });

  it('refuses a root-written marker as untrusted (user facility) and passes real kernel records', async () => {
    const untrusted: KmsgRecord[] = [];
    const lines: string[] = [];
    const src = new KmsgSource({ startAt: 'oldest', onUntrusted: (r) => untrusted.push(r) });
    await src.start((l) => lines.push(...l));
    mark(1);
    await vi.waitFor(() => expect(untrusted.some((r) => markerOf(r) === 1)).toBe(true), { timeout: 10_000 });
    const marker = untrusted.find((r) => markerOf(r) === 1)!;
    expect(marker.facility).toBe(1);
    expect(lines.some((l) => l.includes(tag))).toBe(false);
    // The ring holds kernel records from boot on (and the namespace labs' LOG lines): facility 0 only.
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(parseKmsgHeader(l)!.facility).toBe(0);
    const boot = src.bootTimeMs();
    expect(Math.abs(boot - (Date.now() - Number(process.hrtime.bigint() / 1_000_000n)))).toBeLessThan(1000);
    expect(src.health()).toMatchObject({ kind: 'kmsg', kernelTrusted: true });
    await src.stop();
    mark(0); // lets the stopped reader's parked read return, so its fd closes
  });

  it('a second instance resumes after the first: markers written while stopped arrive once, none twice', async () => {
    const seen: number[] = [];
    let saved: number | null = null;
    const a = new KmsgSource({ onUntrusted: (r) => { const m = markerOf(r); if (m !== null) seen.push(m); }, onSeq: (s) => (saved = s) });
    await a.start(() => undefined);
    for (const n of [101, 102, 103]) mark(n);
    await vi.waitFor(() => expect(seen).toContain(103), { timeout: 10_000 });
    await a.stop();
    for (const n of [104, 105, 106]) mark(n); // written while no instance runs (also wakes a's parked read)
    expect(saved).not.toBeNull();
    expect(saved!).toBeLessThan(newestKmsgSeq()!);
    const b = new KmsgSource({ resumeAfterSeq: saved, onUntrusted: (r) => { const m = markerOf(r); if (m !== null) seen.push(m); } });
    await b.start(() => undefined);
    for (const n of [107, 108]) mark(n);
    await vi.waitFor(() => expect(seen).toContain(108), { timeout: 10_000 });
    await b.stop();
    mark(0);
    expect(seen).toEqual([101, 102, 103, 104, 105, 106, 107, 108]);
    expect(b.lost).toBe(0);
  });

  it('the reading thread hands every record over in order through a ring that wraps many times, or counts it as lost', async () => {
    const seen: number[] = [];
    // 16 KB: ~100 markers fit, so 3000 markers wrap it ~30 times, and the thread waits for room.
    const src = new KmsgSource({ feed: new DevKmsgFeed('/dev/kmsg', { ringBytes: 16 * 1024 }), onUntrusted: (r) => { const m = markerOf(r); if (m !== null) seen.push(m); } });
    await src.start(() => undefined);
    const N = 3000;
    for (let n = 1; n <= N; n++) mark(n);
    await vi.waitFor(() => expect(seen.at(-1)).toBe(N), { timeout: 20_000 });
    await src.stop();
    mark(0);
    // In order, none twice, none made up; what did not arrive was overwritten in the kernel's ring and counted.
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThan(seen[i - 1]!);
    expect(seen.length + src.lost).toBeGreaterThanOrEqual(N);
    expect(seen.length).toBeGreaterThan(0);
  });
});

describe.runIf(requireSystem('root', 'netns', 'ufw'))('KmsgSource with live firewall records', () => {
  it('delivers a real ufw LOG line from a namespace probe, dated right through bootTimeMs', async () => {
    const lab = await createLab({ listen: false });
    const lines: string[] = [];
    const src = new KmsgSource();
    try {
      await src.start((l) => lines.push(...l));
      const before = Date.now();
      await lab.probe(lab.scanner.ns, lab.scanner.fwV4, 4444);
      const mine = () => lines.filter((l) => l.includes(`IN=${lab.scanner.fwIface} `) && l.includes('DPT=4444'));
      await vi.waitFor(() => expect(mine().length).toBeGreaterThan(0), { timeout: 20_000 });
      const after = Date.now();
      const r = parseRecord(mine()[0]!, { framing: 'kmsg', bootTimeMs: src.bootTimeMs() });
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.packet).toMatchObject({ trust: 'kernel', src: lab.scanner.v4, dst: lab.scanner.fwV4, dpt: 4444, proto: 'TCP' });
      // Dated from the record's monotonic stamp: between the probe's start and its delivery (a second's
      // slack for the boot-time estimate). Not "within a second of the start": on a busy machine the
      // probe itself may start late, and that says nothing about the dating.
      expect(r.packet.time).toBeGreaterThan(before - 1000);
      expect(r.packet.time).toBeLessThan(after + 1000);
    } finally {
      await src.stop();
      await lab.cleanup();
      mark(0);
    }
  });
});
