/**
 * auto prefers nflog where it can run (issue 16), and the logging blocks follow the source: the
 * decisions as pure functions of their inputs (uid, reader found, block state, spec), the fallback
 * when the reader does not start, the blocks switched at the start (fake helper), and the variant a
 * `doctor --fix` without an instance installs.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import {
  autoLabel,
  spareNflogGroup,
  blocksToSwitch,
  chooseLogSource,
  loggingBlocksWarning,
  nflogGroupHolder,
  nflogReaderStarts,
  resolveLogSource,
  variantForNextStart,
  type ChoiceInputs,
  type LoggingBlocksState,
} from '../../electron/headless/log-source-choice.ts';
import { alignLoggingBlocks } from '../../electron/headless/logging-blocks-align.ts';
import { configuredSourceSpec } from '../../electron/headless/configured-source.ts';
import { startFirewallAndSource } from '../../electron/headless/start-firewall.ts';
import type { OpenedSource } from '../../electron/headless/open-source.ts';
import type { LogSourcePort } from '../../electron/engine/ports.ts';
import { DEFAULT_SETTINGS } from '../../electron/shared/settings.ts';
import type { HelperCall } from '../../electron/app/helper-adapter.ts';
import type { HelperOpsPort } from '../../electron/app/contracts.ts';
import type { LoggingVia } from '../../electron/shared/settings.ts';

const READER = { path: '/opt/p/dist/native/portcullis-nflog' };
const NO_READER = { error: 'the NFLOG reader /opt/p/dist/native/portcullis-nflog is missing' };
const block = (installed: boolean, via: LoggingVia | null = installed ? 'log' : null): LoggingBlocksState => ({
  perSourceLogging: installed,
  perSourceLoggingVia: via,
  perSourceLoggingByFamily: { v4: via, v6: via },
  forward: null,
});
const base: ChoiceInputs = { spec: 'auto', isRoot: true, dryRun: false, reader: READER, blocks: block(true) };

describe('auto: nflog where it can run and would see something', () => {
  it('root, reader found, per-source block installed in either variant: nflog, saying why', () => {
    for (const via of ['log', 'nflog'] as const) {
      expect(resolveLogSource({ ...base, blocks: block(true, via) })).toEqual({ spec: 'nflog', why: 'per-source logging block installed', readerPath: READER.path });
    }
    expect(autoLabel('per-source logging block installed', 'nflog')).toBe('auto → nflog (per-source logging block installed)');
    expect(autoLabel(null, 'nflog')).toBeNull();
  });

  it('otherwise auto resolves as before (openSource gets "auto"), with the reason it is not nflog', () => {
    const cases: [Partial<ChoiceInputs>, RegExp][] = [
      [{ isRoot: false }, /not root .*CAP_NET_ADMIN/],
      [{ reader: NO_READER }, /reader .* is missing/],
      [{ blocks: block(false) }, /per-source logging block is not installed.*ufw's own records are LOG/],
      [{ blocks: null }, /not installed/],
      [{ dryRun: true }, /dry run leaves the NFLOG group to the instance that protects this namespace/],
    ];
    for (const [change, why] of cases) {
      const c = resolveLogSource({ ...base, ...change });
      expect(c, JSON.stringify(change)).toMatchObject({ spec: 'auto', why: expect.stringMatching(why) });
    }
  });

  it('an explicit spec is never changed; an explicit nflog in a dry run is refused (it would take the group from the protecting instance)', () => {
    for (const spec of ['kmsg', 'journal', 'file:/var/log/kern.log']) {
      expect(resolveLogSource({ ...base, spec })).toEqual({ spec, why: null });
      expect(resolveLogSource({ ...base, spec, isRoot: false, blocks: null })).toEqual({ spec, why: null });
    }
    expect(resolveLogSource({ ...base, spec: 'nflog', blocks: block(false) })).toMatchObject({ spec: 'nflog', why: null });
    expect(resolveLogSource({ ...base, spec: 'nflog', dryRun: true })).toEqual({ error: expect.stringMatching(/dry run does not read NFLOG.*--source kmsg/) });
  });

  it('a reader that does not start: auto falls back with a warning saying why; explicit nflog is not tried here (its start fails as before)', async () => {
    const tried: string[] = [];
    const fails = async (p: string) => (tried.push(p), 'the NFLOG reader stopped (exit code 1): bind NFLOG group 5417: Operation not permitted (another program reads this group)');
    const fb = await chooseLogSource(base, fails);
    expect(tried).toEqual([READER.path]);
    expect(fb.choice).toMatchObject({ spec: 'auto', why: expect.stringMatching(/^not nflog: the NFLOG reader did not start \(.*another program reads this group\)\)$/) });
    expect(fb.warnings).toEqual([expect.stringMatching(/^auto: not reading NFLOG, reading the kernel log instead .*the NFLOG reader did not start \(.*another program reads this group/)]);
    expect(await chooseLogSource(base, async () => null)).toEqual({ choice: { spec: 'nflog', why: 'per-source logging block installed', readerPath: READER.path }, warnings: [] });
    tried.length = 0;
    expect((await chooseLogSource({ ...base, spec: 'nflog' }, fails)).choice).toMatchObject({ spec: 'nflog' });
    expect((await chooseLogSource({ ...base, blocks: block(false) }, fails)).choice).toMatchObject({ spec: 'auto' });
    expect(tried).toEqual([]);
  });
});

describe('the blocks follow the source', () => {
  const fwd = (b: LoggingBlocksState, installed: boolean, via: LoggingVia | null) => ({ ...b, forward: { installed, via } });

  it('installed blocks whose variant differs are switched (both families must match); a block not installed never is', () => {
    expect(blocksToSwitch('nflog', block(true, 'log'))).toEqual(['perSourceLogging']);
    expect(blocksToSwitch('nflog', block(true, 'nflog'))).toEqual([]);
    expect(blocksToSwitch('kmsg', block(true, 'nflog'))).toEqual(['perSourceLogging']);
    for (const kind of ['kmsg', 'journal', 'file']) expect(blocksToSwitch(kind, block(true, 'log'))).toEqual([]);
    expect(blocksToSwitch('nflog', block(false))).toEqual([]);
    // One family NFLOG, the other LOG: switched.
    expect(blocksToSwitch('nflog', { ...block(true, null), perSourceLoggingByFamily: { v4: 'nflog', v6: 'log' } })).toEqual(['perSourceLogging']);
    expect(blocksToSwitch('nflog', fwd(block(true, 'nflog'), true, 'log'))).toEqual(['forward']);
    expect(blocksToSwitch('kmsg', fwd(block(true, 'nflog'), true, 'nflog'))).toEqual(['perSourceLogging', 'forward']);
    expect(blocksToSwitch('kmsg', fwd(block(true, 'log'), true, null))).toEqual(['forward']);
    expect(blocksToSwitch('nflog', fwd(block(false), false, null))).toEqual([]);
  });

  it('the start warning checks both families and both directions, and the forward block', () => {
    expect(loggingBlocksWarning('nflog', block(false))).toMatch(/NFLOG variant logs, and it is not installed: nothing will be seen/);
    expect(loggingBlocksWarning('kmsg', block(false))).toBeNull();
    expect(loggingBlocksWarning('nflog', block(true, 'nflog'))).toBeNull();
    expect(loggingBlocksWarning('nflog', { ...block(true, null), perSourceLoggingByFamily: { v4: 'nflog', v6: 'log' } })).toMatch(/reads NFLOG only, but the per-source logging block's IPv6 \(LOG\) rules log otherwise/);
    expect(loggingBlocksWarning('nflog', { ...block(true, null), perSourceLoggingByFamily: { v4: 'log', v6: 'nflog' } })).toMatch(/IPv4 \(LOG\) rules/);
    expect(loggingBlocksWarning('kmsg', block(true, 'nflog'))).toMatch(/kmsg source reads LOG only, but the per-source logging block's IPv4 \(NFLOG\) and IPv6 \(NFLOG\) rules/);
    expect(loggingBlocksWarning('nflog', { ...block(true, 'nflog'), forward: { installed: true, via: 'log' } })).toMatch(/the forward block \(LOG\).*install-forward-block/);
  });

  /** A helper whose status follows what was installed through it. */
  function fakeHelper(start: { per: LoggingVia | null; fwd: LoggingVia | null }, failing = false) {
    const st = { ...start };
    const ops: string[] = [];
    const call = (async (op: string) => {
      if (op === 'status') return { blocks: { setBlock: true, perSourceLogging: st.per !== null, perSourceLoggingVia: st.per, perSourceLoggingByFamily: { v4: st.per, v6: st.per }, forward: st.fwd !== null } };
      if (op === 'forwardStatus') return { installed: st.fwd !== null, logsRouted: true, via: st.fwd, loaded: { v4: true, v6: true }, dockerUser: { v4: 'absent', v6: 'absent' } };
      throw new Error(op);
    }) as unknown as HelperCall;
    const helper = {
      setPerSourceLogging: async (on: boolean, via: LoggingVia) => {
        ops.push(`perSource ${on} ${via}`);
        if (failing) throw new Error('iptables-restore --test failed');
        st.per = via;
      },
      setForwardBlock: async (on: boolean, via: LoggingVia) => {
        ops.push(`forward ${on} ${via}`);
        st.fwd = via;
      },
    } as unknown as HelperOpsPort;
    return { call, helper, ops };
  }

  it('at the start: both installed blocks switched to NFLOG for nflog and back to LOG for kmsg, said on stdout; nothing installed that was not; a dry run only warns', async () => {
    const run = async (kind: string, h: ReturnType<typeof fakeHelper>, dry = false) => {
      const out: string[] = [];
      const r = await alignLoggingBlocks({ kind, call: h.call, helper: dry ? null : h.helper, out: (l) => out.push(l) });
      return { out, warn: r.warning ? [r.warning] : [] };
    };
    const h = fakeHelper({ per: 'log', fwd: 'log' });
    expect(await run('nflog', h)).toEqual({
      out: ['switching the per-source logging block to NFLOG: the nflog source reads NFLOG messages only', 'switching the forward block to NFLOG: the nflog source reads NFLOG messages only'],
      warn: [],
    });
    expect(h.ops).toEqual(['perSource true nflog', 'forward true nflog']);
    expect(await run('nflog', h)).toEqual({ out: [], warn: [] });
    expect((await run('kmsg', h)).out).toEqual(['switching the per-source logging block to LOG: the kmsg source reads kernel LOG records only', 'switching the forward block to LOG: the kmsg source reads kernel LOG records only']);
    expect(h.ops.slice(2)).toEqual(['perSource true log', 'forward true log']);

    const none = fakeHelper({ per: null, fwd: null });
    expect(await run('nflog', none)).toEqual({ out: [], warn: [expect.stringMatching(/not installed: nothing will be seen/)] });
    expect(none.ops).toEqual([]);

    const dry = fakeHelper({ per: 'nflog', fwd: null });
    expect(await run('kmsg', dry, true)).toEqual({ out: [], warn: [expect.stringMatching(/kmsg source reads LOG only.* not seen by this dry run \(it changes no block: they may be the protecting instance's\)$/)] });
    expect(dry.ops).toEqual([]);

    const failing = fakeHelper({ per: 'log', fwd: null }, true);
    const r = await run('nflog', failing);
    expect(r.warn).toEqual([expect.stringMatching(/^cannot switch the per-source logging block to NFLOG: iptables-restore --test failed; .*reads NFLOG only, but the per-source logging block's IPv4 \(LOG\) and IPv6 \(LOG\) rules/)]);
  });
});

describe('doctor --fix without an instance: the variant the settings would resolve to', () => {
  let dir = '';
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('auto as root with the reader and the block (installed by this fix) is NFLOG; kmsg, no reader, not root: LOG; explicit nflog: NFLOG', () => {
    expect(variantForNextStart('auto', true, READER, true)).toBe('nflog');
    expect(variantForNextStart('auto', true, READER, false)).toBe('log');
    expect(variantForNextStart('auto', true, NO_READER, true)).toBe('log');
    expect(variantForNextStart('auto', false, READER, true)).toBe('log');
    expect(variantForNextStart('kmsg', true, READER, true)).toBe('log');
    expect(variantForNextStart('nflog', true, NO_READER, false)).toBe('nflog');
  });

  it('the configured source: --config, else the package file, else the state directory’s database (read-only), else auto', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'pc-src-'));
    const cfg = path.join(dir, 'c.json');
    writeFileSync(cfg, JSON.stringify({ logs: { source: 'kmsg' } }));
    const nopkg = path.join(dir, 'absent.json');
    expect(configuredSourceSpec({ config: cfg, stateDir: dir, packageConfig: nopkg })).toEqual({ spec: 'kmsg', from: cfg });
    expect(configuredSourceSpec({ stateDir: dir, packageConfig: cfg }).spec).toBe('kmsg');
    expect(configuredSourceSpec({ stateDir: dir, packageConfig: nopkg })).toMatchObject({ spec: 'auto', from: expect.stringMatching(/default/) });
    const db = new DatabaseSync(path.join(dir, 'portcullis.db'));
    db.exec('CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT)');
    db.prepare('INSERT INTO settings VALUES (?, ?)').run('settings', JSON.stringify({ logs: { source: 'nflog' } }));
    db.close();
    expect(configuredSourceSpec({ stateDir: dir, packageConfig: nopkg })).toEqual({ spec: 'nflog', from: path.join(dir, 'portcullis.db') });
    // A --config the admin named that cannot be read or names no source: an error, never "auto"
    // (a typo would install the blocks for another source); the package file unreadable: the default.
    writeFileSync(cfg, '{ not json');
    expect(() => configuredSourceSpec({ config: cfg, stateDir: dir, packageConfig: nopkg })).toThrow(/--config .*c\.json: .*JSON/);
    expect(configuredSourceSpec({ stateDir: dir, packageConfig: cfg })).toMatchObject({ spec: 'auto', from: expect.stringMatching(/unreadable: the default/) });
    expect(() => configuredSourceSpec({ config: path.join(dir, 'typo.json'), stateDir: dir, packageConfig: nopkg })).toThrow(/typo\.json: ENOENT/);
    writeFileSync(cfg, JSON.stringify({ logs: { source: 'nflog; rm -rf /' } }));
    expect(() => configuredSourceSpec({ config: cfg, stateDir: dir, packageConfig: nopkg })).toThrow(/logs\.source is auto, kmsg/);
    writeFileSync(cfg, JSON.stringify({ ban: { backend: 'set' } }));
    expect(configuredSourceSpec({ config: cfg, stateDir: dir, packageConfig: nopkg }).spec).toBe('auto');
  });
});

describe('review fixes: the choice at the start', () => {
  it('a helper whose status cannot be read: auto stays off nflog and says so (not "the block is not installed")', () => {
    const c = resolveLogSource({ ...base, blocks: null, statusRead: false });
    expect(c).toEqual({ spec: 'auto', why: expect.stringMatching(/status could not be read/) });
    expect(resolveLogSource({ ...base, blocks: null })).toEqual({ spec: 'auto', why: expect.stringMatching(/not installed/) });
  });

  it('a block left NFLOG in one family only is warned about under kmsg', () => {
    const oneFamily: LoggingBlocksState = { perSourceLogging: false, perSourceLoggingVia: null, perSourceLoggingByFamily: { v4: null, v6: 'nflog' }, forward: null };
    expect(loggingBlocksWarning('kmsg', oneFamily)).toMatch(/kmsg source reads LOG only, but the per-source logging block's IPv6 \(NFLOG\) rules/);
    expect(loggingBlocksWarning('kmsg', { ...oneFamily, perSourceLoggingByFamily: { v4: 'log', v6: null } })).toBeNull();
    expect(loggingBlocksWarning('nflog', oneFamily)).toMatch(/not installed in both families/);
  });

  it("who holds the group is read from the kernel's list of bound NFLOG instances, and the reader is tried on a spare group, never on Portcullis's (binding it would drop the messages logged meanwhile)", async () => {
    expect(spareNflogGroup('65535 1 0 2 2048 100 1\n65534 2 0 2 2048 100 1\n')).toBe(65533);
    const listing = ' 5417  32682     0 2  2048    100  1\n   99   4242     0 2  2048    100  1\n';
    expect(nflogGroupHolder(listing, 5417)).toEqual({ kind: 'held', portId: 32682 });
    expect(nflogGroupHolder(listing, 7)).toEqual({ kind: 'free' });
    expect(nflogGroupHolder('', 5417)).toEqual({ kind: 'free' });
    expect(nflogGroupHolder(null, 5417)).toBeNull();
    // Free: the reader is tried on a spare group (never 5417, nor one the list shows held), and its answer stands.
    const tried: number[] = [];
    const tryOn = async (_p: string, g: number) => (tried.push(g), g === 65535 ? 'bind NFLOG group 65535: Operation not permitted' : null);
    expect(await nflogReaderStarts('/r', () => '', tryOn)).toMatch(/Operation not permitted/);
    expect(await nflogReaderStarts('/r', () => '65535 1 0 2 2048 100 1\n', tryOn)).toBeNull();
    expect(await nflogReaderStarts('/r', () => null, tryOn)).toMatch(/Operation not permitted/);
    expect(tried).toEqual([65535, 65534, 65535]);
    expect(await nflogReaderStarts('/r', () => listing, tryOn)).toMatch(/another program reads this group \(NFLOG group 5417, netlink port 32682\)/);
    expect(tried).toHaveLength(3);
    // The real trial start: a reader that is not there is an answer, not a throw.
    expect(await nflogReaderStarts('/nonexistent/portcullis-nflog', () => '')).not.toBeNull();
  });

  it('auto → nflog whose block switch fails falls back to kmsg (the nflog source would read nothing), warns why, and the blocks follow kmsg', async () => {
    const st = { per: 'log' as LoggingVia };
    const ops: string[] = [];
    let switchFails = true;
    let rebuilt = 0;
    const call = (async (op: string) => {
      if (op === 'status') return { blocks: { setBlock: true, perSourceLogging: true, perSourceLoggingVia: st.per, perSourceLoggingByFamily: { v4: st.per, v6: st.per }, forward: false } };
      // Installed, Docker's jumps gone (Docker restarted): the start puts them back.
      if (op === 'forwardStatus') return { installed: true, logsRouted: true, via: 'log', loaded: { v4: true, v6: true }, dockerUser: { v4: 'missing-jump', v6: 'absent' } };
      throw new Error(op);
    }) as unknown as HelperCall;
    const helper = {
      status: async () => ({ firewall: { installed: true, enabled: true } }),
      setPerSourceLogging: async (_on: boolean, via: LoggingVia) => {
        ops.push(via);
        if (via === 'nflog' && switchFails) throw new Error('iptables-restore --test: Couldn\'t load target `NFLOG\'');
        st.per = via;
      },
      setForwardBlock: async (_on: boolean, via: LoggingVia) => void ops.push(`forward ${via}`),
    } as unknown as HelperOpsPort;
    const opened: string[] = [];
    const fakeSource = (kind: string): OpenedSource => ({ source: { kind } as unknown as LogSourcePort, framing: 'auto' });
    const out: string[] = [];
    const warn: string[] = [];
    const effective = { ...DEFAULT_SETTINGS, ban: { ...DEFAULT_SETTINGS.ban, backend: 'ufw' as const } };
    const opts = {
      effective,
      isRoot: true,
      dryRun: false,
      call,
      helper,
      open: async (spec: string) => fakeSource(spec),
      out: (l: string) => out.push(l),
      warn: (l: string) => warn.push(l),
      readerStarts: async () => null,
      readerPath: () => READER,
      nflogRulesRebuilt: () => void rebuilt++,
    };
    const r = await startFirewallAndSource({
      ...opts,
      effective,
      isRoot: true,
      dryRun: false,
      call,
      helper,
      open: async (spec) => {
        opened.push(spec);
        return fakeSource(spec === 'nflog' ? 'nflog' : 'kmsg');
      },
      out: (l) => out.push(l),
      warn: (l) => warn.push(l),
      readerStarts: async () => null,
      readerPath: () => READER,
    });
    expect(r.opened.source.kind).toBe('kmsg');
    expect(opened).toEqual(['nflog', 'auto']);
    expect(r.why).toMatch(/^not nflog: .*cannot switch the per-source logging block to NFLOG: iptables-restore --test: Couldn't load target/);
    expect(warn).toEqual([expect.stringMatching(/^auto: not reading NFLOG, reading the kernel log instead .*: cannot switch the per-source logging block to NFLOG/)]);
    expect(st.per).toBe('log');
    // The jumps put back with the variant of the source that reads after the fallback (LOG): an NFLOG
    // install, refused on this host, would have left them missing.
    expect(ops).toEqual(['nflog', 'forward log']);
    expect(rebuilt).toBe(0);

    // The switch succeeding: nflog kept, and the NFLOG ledger told its rules are new (counters from 0).
    switchFails = false;
    const ok = await startFirewallAndSource({ ...opts, open: async (spec) => fakeSource(spec === 'nflog' ? 'nflog' : 'kmsg') });
    expect(ok.opened.source.kind).toBe('nflog');
    expect(st.per).toBe('nflog');
    expect(rebuilt).toBe(1);
    // Nothing switched at the next start: the ledger's baseline stands.
    await startFirewallAndSource({ ...opts, open: async (spec) => fakeSource(spec === 'nflog' ? 'nflog' : 'kmsg') });
    expect(rebuilt).toBe(1);
  });
});
