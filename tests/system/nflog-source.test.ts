/**
 * The `nflog` log source end to end (root, namespaces): the real reader (dist/native/portcullis-nflog)
 * started by `portcullis run --source nflog` in the lab's firewall namespace, fed by NFLOG rules
 * twinned with LOG rules at the top of ufw-after-input (where the per-source logging block logs).
 * - a scanner's 5 probes to closed ports are banned, and the source counts no loss;
 * - the packets the runner stored from NFLOG are the ones the kmsg text parser makes of the LOG
 *   twins' records of the same packets (the fields the store keeps);
 * - the reader's own contract: one reader per group (a second is refused by the kernel), READY first.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalIp, systemClock } from '../../electron/shared/domain.ts';
import type { PacketEvent } from '../../electron/shared/packet.ts';
import { parseRecord } from '../../electron/engine/parse/index.ts';
import { SqliteStore } from '../../electron/engine/store/sqlite.ts';
import { PORTCULLIS_NFLOG_GROUP } from '../../electron/engine/logs/nflog.ts';
import { NFLOG_READER } from '../../electron/headless/nflog-reader-path.ts';
import { requireSystem } from '../support/system.ts';
import type { Lab } from '../support/netns.ts';
import { cliOnce, labPerTest, until, writeConfig, type RunningCli } from './runner-support.ts';

const enabled = requireSystem('root', 'netns', 'ufw', 'ipset', 'conntrack', 'nflog-reader');
const PROBED = [7101, 7102, 7103, 7104, 7105];
const PREFIX = '[PORTCULLIS BLOCK]';

/** The NFLOG rule of the logging block's nflog variant, and its LOG twin, first in ufw-after-input. */
async function twinRules(lab: Lab): Promise<void> {
  for (const [tool, chain] of [['iptables', 'ufw-after-input'], ['ip6tables', 'ufw6-after-input']] as const) {
    const match = ['-m', 'conntrack', '--ctstate', 'NEW', '-m', 'addrtype', '--dst-type', 'LOCAL'];
    await lab.run(lab.fwNs, [tool, '-I', chain, '1', ...match, '-j', 'NFLOG', '--nflog-group', String(PORTCULLIS_NFLOG_GROUP), '--nflog-prefix', PREFIX, '--nflog-size', '128', '--nflog-threshold', '1']);
    await lab.run(lab.fwNs, [tool, '-I', chain, '1', ...match, '-j', 'LOG', '--log-prefix', `${PREFIX} `]);
  }
}

/** What both records describe (the framing's own fields aside). */
function fields(p: PacketEvent): Record<string, unknown> {
  const { time: _t, framing: _f, seq: _s, trust: _r, host: _h, ...rest } = p;
  return Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined && v !== null));
}

describe.runIf(enabled)('nflog log source (real reader, namespaces)', () => {
  const t = labPerTest();

  it('bans a scanner from NFLOG records (5 probes to closed ports), loses nothing, and stores what the kmsg parser makes of the LOG twins', async () => {
    const { lab, stateDir } = await t.lab({ scanners: 1 });
    const cli = await t.start(['run', '--source', 'nflog'], { detection: { maxretry: 5, minDistinctPorts: 3 }, ban: { backend: 'set', bantimeSec: 600 } });
    const ready = await cli.waitFor((l) => l.type === 'ready', 30_000, 'ready');
    // After the start: installing the set block reloads ufw, which rebuilds its chains from its files.
    await twinRules(lab);
    expect(ready.source).toMatch(/^NFLOG group 5417 \(portcullis-nflog, \d+ MiB socket buffer\)$/);
    const s = lab.scanner;
    const kmsg = lab.kmsg();
    for (const port of PROBED) await lab.probe(s.ns, s.fwV4, port, { timeoutMs: 300 });
    // IPv6 too: two probes, not enough for a ban of its own.
    for (const port of PROBED.slice(0, 2)) await lab.probe(s.ns, s.fwV6, port, { timeoutMs: 300 });
    await cli.waitFor((l) => l.type === 'ban' && l.ip === canonicalIp(s.v4), 10_000, 'the scanner’s ban');
    expect(await lab.canConnect(s.ns, s.fwV4, 22, 700)).toBe(false);

    const status = async () => JSON.parse((await cliOnce(lab, ['status', '--state-dir', stateDir, '--json'])).stdout) as { source: { kind: string; kernelTrusted: boolean; recordsRead: number; recordsLost: number; error?: string }; counts: { blockedPackets: number } };
    await until(async () => (await status()).counts.blockedPackets >= PROBED.length + 2, 10_000, 'the runner to store the probes');
    const st = await status();
    expect(st.source).toMatchObject({ kind: 'nflog', kernelTrusted: true, recordsLost: 0 });
    expect(st.source.recordsRead).toBeGreaterThanOrEqual(PROBED.length + 2);
    expect(st.source.error).toBeUndefined();

    const logLines = () => kmsg.lines().filter((l) => l.includes(PREFIX) && (l.includes(`SRC=${s.v4} `) || (l.includes('PROTO=TCP') && (l.includes(` DPT=${PROBED[0]} `) || l.includes(` DPT=${PROBED[1]} `)))));
    await until(() => logLines().filter((l) => / DPT=710\d /.test(l)).length >= PROBED.length + 2, 10_000, 'the LOG twins in the kernel log');
    kmsg.stop();
    expect(await cli.stop('SIGTERM')).toBe(0);

    // dmesg --raw's `<4>[ s.us] text`: the text after the stamp is the LOG record.
    const fromKmsg = logLines()
      .filter((l) => / DPT=710\d /.test(l))
      .map((l) => parseRecord(`4,0,0,-;${l.replace(/^<\d+>\[\s*[\d.]+\] /, '')}`, { framing: 'kmsg' }))
      .map((r) => (r.ok ? fields(r.packet) : r.reason));
    const store = new SqliteStore({ path: path.join(stateDir, 'portcullis.db'), clock: systemClock });
    try {
      const stored = store.packetsSince(Date.now(), 60).filter((p) => p.dpt !== undefined && p.dpt >= 7101 && p.dpt <= 7105);
      expect(stored.every((p) => p.framing === 'nflog' && p.trust === 'kernel')).toBe(true);
      // The store keeps a packet's columns, not MAC, IP ID, window or flags of the IP header: compared on
      // those (every field is compared on kernel captures in tests/engine/parse/nflog.test.ts).
      const storedKeys = Object.keys(fields(stored[0]!)).sort();
      const key = (f: unknown) => (typeof f === 'string' ? f : JSON.stringify(Object.fromEntries(storedKeys.map((k) => [k, (f as Record<string, unknown>)[k]]))));
      expect(storedKeys).toEqual(expect.arrayContaining(['dpt', 'dst', 'in', 'len', 'prefix', 'proto', 'spt', 'src', 'tcpFlags', 'ttl']));
      expect(stored.map(fields).map(key).sort()).toEqual(fromKmsg.map(key).sort());
      expect(new Set(stored.map((p) => p.family))).toEqual(new Set([4, 6]));
    } finally {
      store.close();
    }
  });

  it("with the nflog source the Doctor says the logging block's NFLOG variant is missing; its fix installs it (ufw loads it), and a scanner is banned through it, IPv4 and IPv6", async () => {
    const { lab, stateDir } = await t.lab({ scanners: 1 });
    const cli = await t.start(['run', '--source', 'nflog'], { detection: { maxretry: 5, minDistinctPorts: 3 }, ban: { backend: 'set', bantimeSec: 600 } });
    await cli.waitFor((l) => l.type === 'ready', 30_000, 'ready');
    expect(cli.stderr.join('\n')).toMatch(/portcullis warn: the nflog source reads only what the per-source logging block's NFLOG variant logs, and it is not installed/);
    const doctor = async (args: string[] = []) => JSON.parse((await cliOnce(lab, ['doctor', ...args, '--state-dir', stateDir, '--json'])).stdout) as { id: string; level: string; detail: string }[];
    expect((await doctor()).find((c) => c.id === 'per-source-logging')).toMatchObject({ level: 'error', detail: expect.stringMatching(/nflog source reads only NFLOG messages/) });
    const fixed = await doctor(['--fix', 'install-per-source-logging']);
    expect(fixed.find((c) => c.id === 'per-source-logging')).toMatchObject({ level: 'ok' });
    for (const [tool, chain] of [['iptables-save', 'ufw-after-input'], ['ip6tables-save', 'ufw6-after-input']] as const) {
      const rules = await lab.run(lab.fwNs, [tool, '-t', 'filter']);
      expect(rules).toMatch(new RegExp(`-A ${chain} .* -j NFLOG --nflog-prefix "\\[PORTCULLIS BLOCK\\]" --nflog-group ${PORTCULLIS_NFLOG_GROUP} --nflog-size 2048 --nflog-threshold 1`));
      expect(rules).not.toMatch(/--log-prefix "\[PORTCULLIS BLOCK\] "/);
    }
    const s = lab.scanner;
    for (const port of PROBED) await lab.probe(s.ns, s.fwV6, port, { timeoutMs: 300 });
    await cli.waitFor((l) => l.type === 'ban' && l.ip === canonicalIp(s.v6), 10_000, 'the IPv6 scanner’s ban');
    for (const port of PROBED) await lab.probe(s.ns, s.fwV4, port, { timeoutMs: 300 });
    await cli.waitFor((l) => l.type === 'ban' && l.ip === canonicalIp(s.v4), 10_000, 'the IPv4 scanner’s ban');
    const st = JSON.parse((await cliOnce(lab, ['status', '--state-dir', stateDir, '--json'])).stdout) as { source: { recordsLost: number } };
    expect(st.source.recordsLost).toBe(0);
  });

  it('what the logging block logged while Portcullis was stopped is counted at the next start: 200 SYNs from 10 sources (20 each: the block\'s per-source burst) → recordsLost 200', async () => {
    const { lab, stateDir } = await t.lab({ scanners: 1 });
    const settings = { detection: { maxretry: 5, minDistinctPorts: 3 }, ban: { backend: 'set', bantimeSec: 600 } };
    let cli = await t.start(['run', '--source', 'nflog'], settings);
    await cliOnce(lab, ['doctor', '--fix', 'install-per-source-logging', '--state-dir', stateDir, '--json']);
    const s = lab.scanner;
    for (const port of PROBED) await lab.probe(s.ns, s.fwV4, port, { timeoutMs: 300 });
    await cli.waitFor((l) => l.type === 'ban' && l.ip === canonicalIp(s.v4), 10_000, 'the scanner’s ban');
    type Status = { source: { recordsRead: number; recordsLost: number; error?: string; warning?: string } };
    const status = async () => JSON.parse((await cliOnce(lab, ['status', '--state-dir', stateDir, '--json'])).stdout) as Status;
    await until(async () => (await status()).source.recordsRead >= PROBED.length, 10_000, 'the probes read');
    expect((await status()).source.recordsLost).toBe(0);
    expect(await cli.stop('SIGTERM')).toBe(0);

    // Stopped: 10 new sources in the scanner's /64 (its own address is banned: the set block drops
    // it before the logging rule), 20 SYNs each to closed ports. The block logs a source's first 20
    // (--hashlimit-burst 20), then 10 a minute: all 200 are logged, within a second.
    const base = s.v6.replace(/::2$/, '::');
    const sources = Array.from({ length: 10 }, (_, i) => `${base}${(0x1000 + i).toString(16)}`);
    for (const a of sources) await lab.run(s.ns, ['ip', '-6', 'addr', 'add', `${a}/64`, 'dev', s.iface, 'nodad']);
    const counted = async () => {
      const out = await lab.run(lab.fwNs, ['ip6tables', '-w', '-t', 'filter', '-S', '-v']);
      return Number(/-A ufw6-after-input .* -c (\d+) \d+ -j NFLOG/.exec(out)?.[1] ?? NaN);
    };
    const before = await counted();
    const syns = [
      'import socket, sys',
      'dst = sys.argv[1]',
      'for i, src in enumerate(sys.argv[2:]):',
      '    for j in range(20):',
      '        c = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)',
      '        c.setblocking(False)',
      '        c.bind((src, 0))',
      '        try: c.connect((dst, 20000 + 20 * i + j))',
      '        except BlockingIOError: pass',
      '        c.close()  # in SYN-SENT: no retransmission, nothing else sent',
    ].join('\n');
    await lab.run(s.ns, ['python3', '-c', syns, s.fwV6, ...sources]);
    expect((await counted()) - before).toBe(200);

    cli = await t.start(['run', '--source', 'nflog'], settings);
    const st = await status();
    expect(st.source.recordsLost).toBe(200);
    expect(st.source.warning).toMatch(/^200 NFLOG messages were logged while no reader was bound \(Portcullis not running, or its reader restarting\)/);
    expect(st.source.error).toBeUndefined();

    // Stopped again, and ufw reloaded meanwhile: its chains are rebuilt, every counter from 0 — what
    // was logged in between cannot be known, and the next start says so instead of a number.
    expect(await cli.stop('SIGTERM')).toBe(0);
    await lab.ufw('reload');
    await lab.run(s.ns, ['python3', '-c', syns, s.fwV6, sources[0]!]);
    cli = await t.start(['run', '--source', 'nflog'], settings);
    const after = await status();
    expect(after.source.recordsLost).toBe(0);
    expect(after.source.warning).toMatch(/^unknown how many NFLOG messages were logged while no reader was bound: the logging rules' counters went down \(ufw reloaded its rules/);
  });

  it('a reader killed under the running service is started again: one stderr line with the reason, warning "read on after …", and a scanner is still banned', async () => {
    const { lab, stateDir } = await t.lab({ scanners: 1 });
    const cli = await t.start(['run', '--source', 'nflog'], { detection: { maxretry: 5, minDistinctPorts: 3 }, ban: { backend: 'set', bantimeSec: 600 } });
    await cliOnce(lab, ['doctor', '--fix', 'install-per-source-logging', '--state-dir', stateDir, '--json']);
    // The reader the runner started (its child in the lab's namespace).
    const pids = (await lab.run(lab.fwNs, ['ip', 'netns', 'pids', lab.fwNs]).catch(() => '')).split(/\s+/).filter(Boolean);
    // A process of the namespace listed a moment ago may be gone (ufw's or ip's children, on a busy machine: ENOENT).
    const commOf = (p: string) => {
      try {
        return readFileSync(`/proc/${p}/comm`, 'utf8').trim();
      } catch {
        return '';
      }
    };
    const readerPid = Number(pids.find((p) => commOf(p) === 'portcullis-nflo'));
    expect(readerPid).toBeGreaterThan(0);
    process.kill(readerPid, 'SIGKILL');
    await until(() => cli.stderr.some((l) => /^portcullis warn: the NFLOG reader \(.*\) stopped \(SIGKILL\); starting it again in 0\.5 s$/.test(l)), 10_000, 'the restart line');
    type Status = { source: { error?: string; warning?: string; recordsLost: number } };
    const status = async () => JSON.parse((await cliOnce(lab, ['status', '--state-dir', stateDir, '--json'])).stdout) as Status;
    await until(async () => (await status()).source.warning !== undefined, 10_000, 'the reader read again');
    const st = await status();
    expect(st.source.warning).toMatch(/^read on after the NFLOG reader .* stopped \(SIGKILL\) \(started again at .*; 1 restart since the start\)$/);
    expect(st.source.error).toBeUndefined();
    const s = lab.scanner;
    for (const port of PROBED) await lab.probe(s.ns, s.fwV4, port, { timeoutMs: 300 });
    await cli.waitFor((l) => l.type === 'ban' && l.ip === canonicalIp(s.v4), 10_000, 'the scanner’s ban after the restart');
  });

  it('an IPv6 scanner whose SYNs carry 96 bytes of destination options ahead of TCP is still banned: its ports are within the copy', async () => {
    const { lab, stateDir } = await t.lab({ scanners: 1 });
    const cli = await t.start(['run', '--source', 'nflog'], { detection: { maxretry: 5, minDistinctPorts: 3 }, ban: { backend: 'set', bantimeSec: 600 } });
    await cli.waitFor((l) => l.type === 'ready', 30_000, 'ready');
    await cliOnce(lab, ['doctor', '--fix', 'install-per-source-logging', '--state-dir', stateDir, '--json']);
    const s = lab.scanner;
    // Raw IPv6 (IPPROTO_RAW: the header is ours): next header 60 (destination options, 96 bytes: a
    // PadN of 92), then a TCP SYN with its checksum over the pseudo header. 40 + 96 bytes ahead of the
    // TCP header: past a 128-byte copy, so the ports were not seen there.
    const script = [
      'import socket, struct, sys',
      'src, dst = sys.argv[1], sys.argv[2]',
      'sb, db = socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)',
      'sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)',
      'for port in map(int, sys.argv[3:]):',
      '    tcp = struct.pack("!HHIIBBHHH", 40000 + port % 1000, port, 1, 0, 5 << 4, 0x02, 64240, 0, 0)',
      '    data = sb + db + struct.pack("!IxxxB", len(tcp), 6) + tcp',
      '    c = sum(struct.unpack("!%dH" % (len(data) // 2), data))',
      '    while c >> 16: c = (c & 0xFFFF) + (c >> 16)',
      '    tcp = tcp[:16] + struct.pack("!H", ~c & 0xFFFF) + tcp[18:]',
      '    opts = bytes([6, 11, 1, 92]) + bytes(92)',
      '    ip6 = struct.pack("!IHBB", 6 << 28, len(opts) + len(tcp), 60, 64) + sb + db',
      '    sock.sendto(ip6 + opts + tcp, (dst, 0))',
    ].join('\n');
    await lab.run(s.ns, ['python3', '-c', script, s.v6, s.fwV6, ...PROBED.map(String)]);
    await cli.waitFor((l) => l.type === 'ban' && l.ip === canonicalIp(s.v6), 10_000, 'the padded IPv6 scanner’s ban');
    const st = JSON.parse((await cliOnce(lab, ['status', '--state-dir', stateDir, '--json'])).stdout) as { source: { recordsLost: number } };
    expect(st.source.recordsLost).toBe(0);
  });

  it('the reader binds its group and configures it in one request: started under a flood, its first numbered message has sequence number 0 (none skipped before the kernel\'s answer) and none after it lacks one', async () => {
    const { lab } = await t.lab({ scanners: 1, ufw: false, listen: false });
    const group = 98;
    await lab.run(lab.fwNs, ['ip', 'link', 'set', 'lo', 'up']);
    await lab.run(lab.fwNs, ['iptables', '-A', 'OUTPUT', '-o', 'lo', '-p', 'udp', '--dport', '9', '-j', 'NFLOG', '--nflog-group', String(group), '--nflog-size', '128']);
    // A flood of datagrams to the namespace's own discard port, each one logged to the group.
    const flood = spawn('/usr/sbin/ip', ['netns', 'exec', lab.fwNs, 'python3', '-c', 'import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nwhile True: s.sendto(b"x", ("127.0.0.1", 9))'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 300));
      for (let i = 0; i < 8; i++) {
        const reader = spawn('/usr/sbin/ip', ['netns', 'exec', lab.fwNs, NFLOG_READER, String(group), String(8 << 20)], { stdio: ['ignore', 'pipe', 'inherit'] });
        const chunks: Buffer[] = [];
        reader.stdout.on('data', (c: Buffer) => chunks.push(c));
        // Its first output (it is bound), then its first message, then 150 ms more of the flood: a
        // fixed 150 ms from the spawn was not enough for a reader kept off the CPU by the flood on a
        // busy 2-core machine, nor a fixed 300 ms for the flood itself to start (python3 under `ip
        // netns exec` on a loaded machine: reader 0 once saw none in a clean CI run).
        for (const end = Date.now() + 5000; chunks.length === 0 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 10));
        for (const end = Date.now() + 10_000; messageSeqs(Buffer.concat(chunks)).length === 0 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 10));
        await new Promise((r) => setTimeout(r, 150));
        reader.kill('SIGTERM');
        await new Promise((r) => reader.once('close', r));
        const seqs = messageSeqs(Buffer.concat(chunks));
        expect(seqs.length, `reader ${i}: messages`).toBeGreaterThan(0);
        // Only messages of the moment the set-up takes can lack a number (logged before the flags
        // applied): ahead of the first numbered one, never after it.
        const firstNumbered = seqs.findIndex((q) => q !== null);
        expect(seqs.slice(firstNumbered).filter((q) => q === null).length, `reader ${i}: messages without a sequence number after the first numbered one`).toBe(0);
        expect(seqs[firstNumbered], `reader ${i}: the first sequence number`).toBe(0);
      }
    } finally {
      flood.kill('SIGKILL');
    }
  });

  /** How the per-source logging block logs in the kernel's loaded rules, per family (null: no rule of it). */
  async function loadedVariant(lab: Lab): Promise<Record<'v4' | 'v6', 'LOG' | 'NFLOG' | null>> {
    const of = async (tool: string, chain: string) => {
      const rule = (await lab.run(lab.fwNs, [tool, '-t', 'filter'])).split('\n').find((l) => l.startsWith(`-A ${chain} `) && l.includes('portcullis') && /hashlimit-name portcullis[46] /.test(l));
      return rule ? (/ -j NFLOG .*--nflog-group 5417 /.test(rule) ? 'NFLOG' : / -j LOG --log-prefix "\[PORTCULLIS BLOCK\] "/.test(rule) ? 'LOG' : null) : null;
    };
    return { v4: await of('iptables-save', 'ufw-after-input'), v6: await of('ip6tables-save', 'ufw6-after-input') };
  }
  const SETTINGS = { detection: { maxretry: 5, minDistinctPorts: 3 }, ban: { backend: 'set', bantimeSec: 600 } };
  const scanAndBan = async (cli: RunningCli, lab: Lab, s: Lab['scanner']) => {
    for (const port of PROBED) await lab.probe(s.ns, s.fwV4, port, { timeoutMs: 300 });
    await cli.waitFor((l) => l.type === 'ban' && l.ip === canonicalIp(s.v4), 10_000, `the IPv4 scanner ${s.v4}'s ban`);
    for (const port of PROBED) await lab.probe(s.ns, s.fwV6, port, { timeoutMs: 300 });
    await cli.waitFor((l) => l.type === 'ban' && l.ip === canonicalIp(s.v6), 10_000, `the IPv6 scanner ${s.v6}'s ban`);
  };

  it('auto with the per-source block installed as LOG: the runner switches it to NFLOG and reads NFLOG (IPv4 and IPv6 scanners banned, nothing lost); restarted with --source kmsg it switches it back to LOG and still bans', async () => {
    const { lab, stateDir } = await t.lab({ scanners: 2 });
    const [a, b] = lab.scanners as [Lab['scanner'], Lab['scanner']];
    // The LOG variant, as an admin of the kmsg source installed it (doctor without an instance follows the settings given).
    const kmsgCfg = writeConfig(stateDir, { ...SETTINGS, logs: { source: 'kmsg' } });
    const fix = await cliOnce(lab, ['doctor', '--fix', 'install-per-source-logging', '--state-dir', stateDir, '--config', kmsgCfg, '--json']);
    expect(fix.code, fix.stderr).toBe(0);
    expect(await loadedVariant(lab)).toEqual({ v4: 'LOG', v6: 'LOG' });

    const auto = await t.start(['run'], SETTINGS);
    const ready = await auto.waitFor((l) => l.type === 'ready', 30_000, 'ready');
    expect(ready.sourceChoice).toBe('auto → nflog (per-source logging block installed)');
    expect(ready.source).toMatch(/^NFLOG group 5417 \(portcullis-nflog, \d+ MiB socket buffer\) \[auto → nflog \(per-source logging block installed\)\]$/);
    expect(auto.lines).toContainEqual({ type: 'text', text: 'switching the per-source logging block to NFLOG: the nflog source reads NFLOG messages only' });
    expect(auto.stderr.filter((l) => l.startsWith('portcullis warn'))).toEqual([]);
    expect(await loadedVariant(lab)).toEqual({ v4: 'NFLOG', v6: 'NFLOG' });
    await scanAndBan(auto, lab, a);
    const status = async () => JSON.parse((await cliOnce(lab, ['status', '--state-dir', stateDir, '--json'])).stdout) as { source: { kind: string; description: string; recordsLost: number } };
    expect((await status()).source).toMatchObject({ kind: 'nflog', recordsLost: 0, description: expect.stringContaining('[auto → nflog (per-source logging block installed)]') });
    const doctor = JSON.parse((await cliOnce(lab, ['doctor', '--state-dir', stateDir, '--json'])).stdout) as { id: string; level: string; detail: string }[];
    expect(doctor.find((c) => c.id === 'log-source')).toMatchObject({ level: 'ok', detail: expect.stringContaining('auto → nflog') });
    expect(doctor.find((c) => c.id === 'per-source-logging')).toMatchObject({ level: 'ok' });
    expect(await auto.stop('SIGTERM')).toBe(0);

    const kmsg = await t.start(['run', '--source', 'kmsg'], SETTINGS);
    const again = await kmsg.waitFor((l) => l.type === 'ready', 30_000, 'ready');
    expect(again.sourceChoice).toBeUndefined();
    expect(kmsg.lines).toContainEqual({ type: 'text', text: 'switching the per-source logging block to LOG: the kmsg source reads kernel LOG records only' });
    expect(await loadedVariant(lab)).toEqual({ v4: 'LOG', v6: 'LOG' });
    await scanAndBan(kmsg, lab, b);
    expect((await status()).source.kind).toBe('kmsg');

    // A dry run never reads NFLOG (it would take the group from the protecting instance): an explicit
    // nflog is refused, and nothing of the firewall changed.
    const dry = await cliOnce(lab, ['run', '--dry-run', '--source', 'nflog', '--state-dir', `${stateDir}/dry`]);
    expect(dry.code).toBe(1);
    expect(dry.stderr).toMatch(/a dry run does not read NFLOG/);
    expect(await loadedVariant(lab)).toEqual({ v4: 'LOG', v6: 'LOG' });
  });

  it('auto, when the NFLOG reader cannot start (another program reads the group): falls back to kmsg with a warning saying why, keeps the block in its LOG form, and bans', async () => {
    const { lab, stateDir } = await t.lab({ scanners: 1 });
    const kmsgCfg = writeConfig(stateDir, { ...SETTINGS, logs: { source: 'kmsg' } });
    await cliOnce(lab, ['doctor', '--fix', 'install-per-source-logging', '--state-dir', stateDir, '--config', kmsgCfg, '--json']);
    const squatter = spawn('/usr/sbin/ip', ['netns', 'exec', lab.fwNs, NFLOG_READER, String(PORTCULLIS_NFLOG_GROUP), String(1 << 20)], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await new Promise((resolve) => squatter.stdout.once('data', resolve));
      const cli = await t.start(['run'], SETTINGS);
      const ready = await cli.waitFor((l) => l.type === 'ready', 30_000, 'ready');
      expect(cli.stderr.join('\n')).toMatch(/portcullis warn: auto: not reading NFLOG, reading the kernel log instead .*the NFLOG reader did not start \(.*another program reads this group/);
      expect(ready.sourceChoice).toMatch(/^auto → kmsg \(not nflog: the NFLOG reader did not start \(.*another program reads this group/);
      expect(cli.lines.some((l) => l.type === 'text' && String(l.text).startsWith('switching'))).toBe(false);
      expect(await loadedVariant(lab)).toEqual({ v4: 'LOG', v6: 'LOG' });
      await scanAndBan(cli, lab, lab.scanner);
    } finally {
      squatter.kill('SIGTERM');
    }
  });

  it('doctor --fix install-per-source-logging without an instance installs the variant the settings resolve to: NFLOG for auto (root, reader built), LOG for kmsg', async () => {
    const { lab, stateDir } = await t.lab({ scanners: 1, listen: false });
    const autoCfg = writeConfig(stateDir, { logs: { source: 'auto' } });
    await cliOnce(lab, ['doctor', '--fix', 'install-per-source-logging', '--state-dir', stateDir, '--config', autoCfg, '--json']);
    expect(await loadedVariant(lab)).toEqual({ v4: 'NFLOG', v6: 'NFLOG' });
    const kmsgCfg = writeConfig(stateDir, { logs: { source: 'kmsg' } });
    await cliOnce(lab, ['doctor', '--fix', 'install-per-source-logging', '--state-dir', stateDir, '--config', kmsgCfg, '--json']);
    expect(await loadedVariant(lab)).toEqual({ v4: 'LOG', v6: 'LOG' });
  });

  it('the reader says READY once bound, and a second reader of the same group is refused by the kernel with its reason', async () => {
    const { lab } = await t.lab({ scanners: 1, ufw: false, listen: false });
    const first = spawn('/usr/sbin/ip', ['netns', 'exec', lab.fwNs, NFLOG_READER, '99', String(1 << 20)], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const head = await new Promise<Buffer>((resolve) => first.stdout.once('data', resolve));
      expect(head.readUInt32LE(0)).toBe(1); // READY
      expect(head.readUInt32LE(4)).toBe(4);
      expect(head.readUInt32LE(8)).toBeGreaterThanOrEqual(1 << 20); // the kernel doubles what it grants
      const second = spawnSync('/usr/sbin/ip', ['netns', 'exec', lab.fwNs, NFLOG_READER, '99', String(1 << 20)], { encoding: 'utf8', timeout: 10_000 });
      expect(second.status).toBe(1);
      expect(second.stderr).toMatch(/bind NFLOG group 99: Operation not permitted \(another program reads this group\)/);
    } finally {
      first.kill('SIGTERM');
    }
    const code = await new Promise((r) => first.once('exit', (c) => r(c)));
    expect(code).toBe(0);
  });
});

/** The NFULA_SEQ of every packet message in a reader's stream (null: the message has none). */
function messageSeqs(stream: Buffer): (number | null)[] {
  const out: (number | null)[] = [];
  for (let p = 0; p + 8 <= stream.length; ) {
    const type = stream.readUInt32LE(p);
    const len = stream.readUInt32LE(p + 4);
    if (p + 8 + len > stream.length) break;
    if (type === 2) {
      for (let m = p + 8; m + 16 <= p + 8 + len; ) {
        const mlen = stream.readUInt32LE(m);
        if (mlen < 16) break;
        if (stream.readUInt16LE(m + 4) === 0x400) {
          let seq: number | null = null;
          for (let a = m + 20; a + 4 <= m + mlen; ) {
            const alen = stream.readUInt16LE(a);
            if (alen < 4) break;
            if ((stream.readUInt16LE(a + 2) & 0x3fff) === 12) seq = stream.readUInt32BE(a + 4);
            a += (alen + 3) & ~3;
          }
          out.push(seq);
        }
        m += (mlen + 3) & ~3;
      }
    }
    p += 8 + len;
  }
  return out;
}
