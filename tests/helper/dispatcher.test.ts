import { describe, expect, it } from 'vitest';
import { createHelperDispatcher, REHEARSAL_BANS } from '../../electron/helper/ops.ts';
import { createBanBackend } from '../../electron/helper/firewall/index.ts';
import { decodeHelperRequest, MAX_BATCH, MAX_LINE_BYTES } from '../../electron/shared/helper-protocol.ts';
import type { UfwRule } from '../../electron/shared/api.ts';
import { fakeDeps } from './fakes.ts';

/** Ban backends whose `ban` resolves only when `held` does (a slow ufw run). */
const heldBans = (held: Promise<void>) => (kind: 'ufw' | 'set') => ({
  kind,
  ban: async () => (await held, null),
  unban: async () => undefined,
  list: async () => [],
  banMany: async () => [],
  unbanMany: async () => [],
});

const META = ['; rm -rf /', '| nc evil 1', '&& reboot', '$(id)', '`id`', "' or '1", '"', '\n', '${IFS}', '> /etc/passwd'];
const rule = (over: Record<string, unknown>) => ({ action: 'allow', port: '22', proto: 'tcp', ...over });

/** Requests that must ALL be refused without running anything. */
function hostileCorpus(): { name: string; req: unknown }[] {
  const out: { name: string; req: unknown }[] = [];
  const add = (name: string, req: unknown) => out.push({ name, req });
  for (const m of META) {
    add(`ban ip ${JSON.stringify(m)}`, { id: 1, op: 'ban', args: { ip: `1.2.3.4${m}`, timeoutSec: 60, backend: 'ufw' } });
    add(`ban comment ${JSON.stringify(m)}`, { id: 1, op: 'ban', args: { ip: '1.2.3.4', timeoutSec: 60, comment: `x${m}`, backend: 'set' } });
    add(`unban ${JSON.stringify(m)}`, { id: 1, op: 'unban', args: { ip: m, backend: 'ufw' } });
    add(`cut ${JSON.stringify(m)}`, { id: 1, op: 'cutConnections', args: { ip: `::1${m}` } });
    for (const field of ['port', 'iface', 'app', 'comment', 'from', 'to']) {
      add(`addRule ${field} ${JSON.stringify(m)}`, { id: 1, op: 'addRule', args: { rule: rule({ [field]: `a${m}` }) } });
    }
    add(`setLogging ${JSON.stringify(m)}`, { id: 1, op: 'setLogging', args: { level: `low${m}` } });
    add(`setDefault ${JSON.stringify(m)}`, { id: 1, op: 'setDefault', args: { direction: 'incoming', policy: `deny${m}` } });
    add(`backend ${JSON.stringify(m)}`, { id: 1, op: 'listBans', args: { backend: `set${m}` } });
    add(`op ${JSON.stringify(m)}`, { id: 1, op: `status${m}`, args: {} });
  }
  // option injection
  for (const opt of ['-x', '--force', '--dry-run', '-h']) {
    add(`comment ${opt}`, { id: 1, op: 'addRule', args: { rule: rule({ comment: opt }) } });
    add(`iface ${opt}`, { id: 1, op: 'addRule', args: { rule: rule({ iface: opt }) } });
    add(`ban comment ${opt}`, { id: 1, op: 'ban', args: { ip: '1.2.3.4', timeoutSec: 60, comment: opt, backend: 'ufw' } });
    add(`ip ${opt}`, { id: 1, op: 'ban', args: { ip: opt, timeoutSec: 60, backend: 'ufw' } });
    add(`level ${opt}`, { id: 1, op: 'setLogging', args: { level: opt } });
  }
  // ports and numbers out of range / wrong types
  for (const port of ['0', '65536', '99999', '22:0', '1,65536', '-1', '22 ', 'ssh', '']) {
    add(`port ${port}`, { id: 1, op: 'addRule', args: { rule: rule({ port }) } });
  }
  add('port as number', { id: 1, op: 'addRule', args: { rule: rule({ port: 22 }) } });
  add('position 0', { id: 1, op: 'insertRule', args: { position: 0, rule: rule({}) } });
  add('position float', { id: 1, op: 'insertRule', args: { position: 1.5, rule: rule({}) } });
  add('delete negative', { id: 1, op: 'deleteRule', args: { number: -3 } });
  add('delete string', { id: 1, op: 'deleteRule', args: { number: '3' } });
  add('move NaN-ish', { id: 1, op: 'moveRule', args: { number: 2, to: null } });
  add('timeout 0', { id: 1, op: 'ban', args: { ip: '1.2.3.4', timeoutSec: 0, backend: 'ufw' } });
  add('timeout huge', { id: 1, op: 'ban', args: { ip: '1.2.3.4', timeoutSec: 1e12, backend: 'ufw' } });
  add('timeout string', { id: 1, op: 'ban', args: { ip: '1.2.3.4', timeoutSec: '60', backend: 'ufw' } });
  add('ip number', { id: 1, op: 'ban', args: { ip: 16909060, timeoutSec: 60, backend: 'ufw' } });
  add('ip classful', { id: 1, op: 'ban', args: { ip: '1.2.3', timeoutSec: 60, backend: 'ufw' } });
  add('ip hex', { id: 1, op: 'ban', args: { ip: '0x7f.1', timeoutSec: 60, backend: 'ufw' } });
  add('ip cidr', { id: 1, op: 'ban', args: { ip: '10.0.0.0/8', timeoutSec: 60, backend: 'ufw' } });
  add('backend unknown', { id: 1, op: 'ban', args: { ip: '1.2.3.4', timeoutSec: 60, backend: 'iptables' } });
  add('action unknown', { id: 1, op: 'addRule', args: { rule: rule({ action: 'accept' }) } });
  add('proto unknown', { id: 1, op: 'addRule', args: { rule: rule({ proto: 'icmp' }) } });
  add('comment quote', { id: 1, op: 'addRule', args: { rule: rule({ comment: "it's" }) } });
  add('comment newline', { id: 1, op: 'addRule', args: { rule: rule({ comment: 'a\nb' }) } });
  add('comment too long', { id: 1, op: 'addRule', args: { rule: rule({ comment: 'a'.repeat(101) }) } });
  add('comment reserved tag', { id: 1, op: 'addRule', args: { rule: rule({ comment: 'portcullis-ban fake' }) } });
  add('app and port', { id: 1, op: 'addRule', args: { rule: rule({ app: 'OpenSSH' }) } });
  add('range without proto', { id: 1, op: 'addRule', args: { rule: rule({ port: '8000:8100', proto: 'any' }) } });
  add('mixed families', { id: 1, op: 'addRule', args: { rule: rule({ from: '10.0.0.1', to: '2001:db8::1' }) } });
  // the forward block (issue 12.2): a closed enum of blocks, a status op without arguments, no raw chain names
  for (const block of ['docker-user', 'DOCKER-USER', 'forward ', 'Forward', 'nat', '']) add(`block ${block}`, { id: 1, op: 'installBlocks', args: { block } });
  add('removeBlocks extra field', { id: 1, op: 'removeBlocks', args: { block: 'forward', chain: 'DOCKER-USER' } });
  add('forwardStatus with args', { id: 1, op: 'forwardStatus', args: { family: 4 } });
  add('forward chain option', { id: 1, op: 'installBlocks', args: { block: '-F' } });
  // the logging block's variant: a closed enum too, never a target or a group of the client's
  for (const via of ['NFLOG', 'ulog', '-j ACCEPT', 'nflog --nflog-group 1', '', 5417]) add(`logging via ${String(via)}`, { id: 1, op: 'installBlocks', args: { block: 'perSourceLogging', via } });
  for (const op of ['installForwardBlock', 'dockerUser', 'iptables']) add(`op ${op}`, { id: 1, op, args: {} });
  // unknown ops, envelopes, extra fields, prototype pollution
  for (const op of ['exec', 'shell', 'reset', 'reload', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '']) {
    add(`op ${op}`, { id: 1, op, args: {} });
  }
  add('op number', { id: 1, op: 7, args: {} });
  add('no op', { id: 1, args: {} });
  add('id string', { id: '1', op: 'enable', args: {} });
  add('id negative', { id: -1, op: 'enable', args: {} });
  add('extra envelope field', { id: 1, op: 'enable', args: {}, sudo: true });
  add('extra arg field', { id: 1, op: 'enable', args: { force: true } });
  add('extra rule field', { id: 1, op: 'addRule', args: { rule: rule({ raw: '-j ACCEPT' }) } });
  add('args array', { id: 1, op: 'enable', args: [] });
  add('args string', { id: 1, op: 'setLogging', args: 'low' });
  add('null', null);
  add('array', [1, 2]);
  add('number', 42);
  for (const json of [
    '{"id":1,"op":"enable","args":{"__proto__":{"polluted":true}}}',
    '{"id":1,"op":"addRule","args":{"rule":{"action":"allow","__proto__":{"x":1}}}}',
    '{"id":1,"op":"enable","args":{},"__proto__":{"op":"disable"}}',
    '{"id":1,"op":"ban","args":{"ip":"1.2.3.4","timeoutSec":60,"backend":"ufw","constructor":{"prototype":{"x":1}}}}',
    '{"id":1,"op":"enable"', // broken JSON
    'enable',
    '',
  ]) {
    add(`raw ${json}`, json);
  }
  add('oversize line', JSON.stringify({ id: 1, op: 'ban', args: { ip: '1.2.3.4', timeoutSec: 60, backend: 'ufw', comment: 'a'.repeat(MAX_LINE_BYTES) } }));
  add('oversize multibyte line', `{"id":1,"op":"enable","args":{},"x":"${'é'.repeat(MAX_LINE_BYTES / 2 + 10)}"}`);
  add('oversize secret', { id: 1, op: 'hello', args: { secret: 'a'.repeat(10_000) } });
  add('oversize app', { id: 1, op: 'addRule', args: { rule: { action: 'allow', app: 'A'.repeat(200) } } });
  add('deep nesting', { id: 1, op: 'previewRule', args: { op: { kind: 'add', rule: { action: 'allow', comment: { a: { b: { c: {} } } } } } } });
  return out;
}

/** A rule as the client saw it in `status` (every field but its number). */
async function seenAs(d: ReturnType<typeof createHelperDispatcher>, pick: (r: UfwRule) => boolean): Promise<Omit<UfwRule, 'number'>> {
  const st = await d.handle({ id: 1, op: 'status', args: {} });
  if (!st.ok) throw new Error('status failed');
  const { number: _n, ...rest } = (st.result as { all: UfwRule[] }).all.find(pick)!;
  return rest;
}

describe('helper dispatcher: hostile corpus', () => {
  const corpus = hostileCorpus();
  it(`has a large corpus (${corpus.length} requests)`, () => expect(corpus.length).toBeGreaterThan(150));

  for (const { name, req } of corpus) {
    it(`refuses ${name} with a typed error and runs nothing`, async () => {
      const { deps, calls, fwCalls, audit } = fakeDeps();
      const d = createHelperDispatcher(deps);
      const r = await d.handle(req);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(['invalid', 'unknown-op', 'too-large']).toContain(r.error.code);
      expect(calls).toEqual([]);
      expect(fwCalls).toEqual([]);
      expect(audit.entries).toEqual([]);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  }
});

describe('helper dispatcher: valid requests', () => {
  it("installs the logging block's NFLOG variant when asked (via nflog), its LOG form otherwise", async () => {
    const { deps, fwCalls } = fakeDeps();
    const d = createHelperDispatcher(deps);
    expect((await d.handle({ id: 1, op: 'installBlocks', args: { block: 'perSourceLogging', via: 'nflog' } })).ok).toBe(true);
    expect((await d.handle({ id: 2, op: 'installBlocks', args: { block: 'perSourceLogging' } })).ok).toBe(true);
    expect(fwCalls).toEqual(['installPerSourceLogging:nflog', 'installPerSourceLogging']);
  });

  it('adds a rule with a fixed argv, comment as one element, audited', async () => {
    const { deps, calls, audit } = fakeDeps();
    const d = createHelperDispatcher(deps);
    const r = await d.handle({ id: 5, op: 'addRule', args: { rule: { action: 'allow', port: '443', proto: 'tcp', comment: 'web server' } } });
    expect(r).toEqual({ id: 5, ok: true, result: { ran: ["ufw allow in proto tcp from any to any port 443 comment 'web server'"] } });
    expect(calls).toEqual([{ bin: 'ufw', args: ['allow', 'in', 'proto', 'tcp', 'from', 'any', 'to', 'any', 'port', '443', 'comment', 'web server'] }]);
    expect(audit.entries).toHaveLength(1);
    expect(audit.entries[0]).toMatchObject({ who: 'test', op: 'addRule', result: 'ok', argv: [['/usr/sbin/ufw', 'allow', 'in', 'proto', 'tcp', 'from', 'any', 'to', 'any', 'port', '443', 'comment', 'web server']] });
  });

  it('status: rules parsed, ban rules apart, defaults and logging from the config files', async () => {
    const { deps } = fakeDeps();
    const r = await createHelperDispatcher(deps).handle({ id: 1, op: 'status', args: {} });
    if (!r.ok) throw new Error(r.error.message);
    const s = r.result as { enabled: boolean; logging: string; defaults: unknown; rules: unknown[]; portcullisRules: { from: string }[]; all: unknown[]; appProfiles: string[] };
    expect(s.enabled).toBe(true);
    expect(s.logging).toBe('medium');
    expect(s.defaults).toEqual({ incoming: 'deny', outgoing: 'allow', routed: 'reject' });
    expect(s.all).toHaveLength(31);
    expect(s.portcullisRules.map((p) => p.from)).toEqual(['203.0.113.7', '2001:db8::7']);
    expect(s.rules).toHaveLength(29);
    expect(s.appProfiles).toContain('WWW Full');
  });

  it('the first request of any kind starts the address cache\'s monitor and rehearses the ban guard, so the first ban pays neither for the first time', async () => {
    const { deps, fwCalls, audit } = fakeDeps();
    const warmed: string[] = [];
    let reads = 0;
    deps.ownAddresses = { get: () => (reads++, ['10.255.255.254']), warm: () => void warmed.push('warm'), close: () => undefined };
    const d = createHelperDispatcher(deps);
    await d.handle({ id: 1, op: 'status' });
    expect(warmed.length).toBeGreaterThan(0);
    expect(reads).toBe(2); // the guard's read, once per family, ahead of any ban
    // The rehearsal changed nothing: no firewall call, no audit entry.
    expect(fwCalls).toEqual([]);
    expect(audit.entries).toEqual([]);
    await d.handle({ id: 2, op: 'status' });
    expect(reads).toBe(2); // once
    await d.handle({ id: 3, op: 'ban', args: { backend: 'set', ip: '192.0.2.7', timeoutSec: 60, comment: 'test' } });
    expect(reads).toBe(3);
  });

  it('a rehearsal that throws (the address read fails) does not fail the request it runs ahead of', async () => {
    const { deps } = fakeDeps();
    let reads = 0;
    deps.ownAddresses = {
      get: () => {
        reads++;
        throw new Error('networkInterfaces failed');
      },
      warm: () => undefined,
      close: () => undefined,
    };
    const d = createHelperDispatcher(deps);
    expect((await d.handle({ id: 1, op: 'status' })).ok).toBe(true);
    expect(reads).toBe(1);
    expect((await d.handle({ id: 2, op: 'status' })).ok).toBe(true);
  });

  it('the rehearsal\'s ban request is one the protocol takes (else it would rehearse nothing)', () => {
    expect(REHEARSAL_BANS.map((r) => decodeHelperRequest(r).ok)).toEqual([true, true]);
  });

  it('ban goes to the chosen backend, canonical address, audited with the argv the backend ran', async () => {
    const { deps, fwCalls, audit } = fakeDeps();
    const r = await createHelperDispatcher(deps).handle({ id: 2, op: 'ban', args: { ip: '2001:DB8:0::7', timeoutSec: 600, comment: 'SYN scan 12 ports', backend: 'set' } });
    expect(r.ok).toBe(true);
    expect(fwCalls).toEqual(['set.ban 2001:db8::7 600 SYN scan 12 ports']);
    expect(audit.entries[0]!.argv).toEqual([['/usr/sbin/ipset', 'add', 'x', '2001:db8::7']]);
  });

  it('banMany: one backend batch, audited once; more than MAX_BATCH entries refused before anything runs', async () => {
    const { deps, fwCalls, audit } = fakeDeps();
    const d = createHelperDispatcher(deps);
    const bans = [{ ip: '192.0.2.1', timeoutSec: 60, comment: 'restore' }, { ip: '2001:DB8::1', timeoutSec: null }];
    expect((await d.handle({ id: 1, op: 'banMany', args: { bans, backend: 'set' } })).ok).toBe(true);
    expect(fwCalls).toEqual(['set.banMany 192.0.2.1 60 restore, 2001:db8::1 null ']);
    expect(audit.entries.map((e) => e.op)).toEqual(['banMany']);
    const tooMany = Array.from({ length: MAX_BATCH + 1 }, (_, i) => ({ ip: `10.0.${i >> 8}.${i & 255}`, timeoutSec: 60 }));
    const r = await d.handle({ id: 2, op: 'banMany', args: { bans: tooMany, backend: 'set' } });
    expect(r.ok === false && r.error.code).toBe('invalid');
    expect(fwCalls).toHaveLength(1);
  });

  it('unbanMany: one backend batch, audited with its reason; a batch without a reason, or with one outside the closed set, is refused before anything runs', async () => {
    const { deps, fwCalls, audit } = fakeDeps();
    const d = createHelperDispatcher(deps);
    const ips = ['192.0.2.1', '2001:DB8::1'];
    expect(await d.handle({ id: 1, op: 'unbanMany', args: { ips, backend: 'ufw', reason: 'manual' } })).toMatchObject({ ok: true });
    await d.auditWritten();
    expect(fwCalls).toEqual(['ufw.unbanMany 192.0.2.1, 2001:db8::1']);
    expect(audit.entries.map((e) => [e.op, e.args])).toEqual([['unbanMany', { ips: ['192.0.2.1', '2001:db8::1'], backend: 'ufw', reason: 'manual' }]]);
    for (const reason of [undefined, 'because', 'Manual', '', 7, 'stale; rm -rf /']) {
      const r = await d.handle({ id: 2, op: 'unbanMany', args: { ips, backend: 'ufw', ...(reason === undefined ? {} : { reason }) } });
      expect(r.ok === false && r.error.code, String(reason)).toBe('invalid');
      expect(r.ok === false && r.error.message, String(reason)).toMatch(/^unbanMany: reason: /);
    }
    // Named with the reasons it takes, and the one it was given.
    const bad = await d.handle({ id: 3, op: 'unbanMany', args: { ips, backend: 'set', reason: 'because' } });
    expect(bad.ok === false && bad.error.message).toBe('unbanMany: reason: not a reason to unban (expired, manual, whitelisted, refused-users-rule, stale, moved): "because"');
    await d.auditWritten();
    expect(fwCalls).toHaveLength(1);
    expect(audit.entries).toHaveLength(1);
  });

  it('answers a ban once it is in force, not after its audit entry is written; entries stay in order and auditWritten waits for them', async () => {
    const { deps, fwCalls } = fakeDeps();
    const written: string[] = [];
    const gates: (() => void)[] = [];
    // A slow disk: each append waits until the test lets it finish.
    deps.audit = { append: (e) => new Promise<void>((r) => gates.push(() => (written.push(`${e.op} ${(e.args as { ip: string }).ip}`), r()))) };
    const d = createHelperDispatcher(deps);
    const a = await d.handle({ id: 1, op: 'ban', args: { ip: '192.0.2.1', timeoutSec: 60, backend: 'set' } });
    const b = await d.handle({ id: 2, op: 'unban', args: { ip: '192.0.2.1', backend: 'set' } });
    expect([a.ok, b.ok]).toEqual([true, true]);
    expect(fwCalls).toEqual(['set.ban 192.0.2.1 60 ', 'set.unban 192.0.2.1']);
    expect(written).toEqual([]); // answered with both appends still pending
    let flushed = false;
    void d.auditWritten().then(() => (flushed = true));
    await new Promise((r) => setImmediate(r));
    expect(gates).toHaveLength(1); // one write at a time, in order
    gates.shift()!();
    await new Promise((r) => setImmediate(r));
    expect(flushed).toBe(false);
    gates.shift()!();
    await d.auditWritten();
    expect(written).toEqual(['ban 192.0.2.1', 'unban 192.0.2.1']);
    expect(flushed).toBe(true);
  });

  it("a ban the firewall skips (a rule of the user's own) is an answer, not an error: ok with `skipped`, audited as ok", async () => {
    const { deps, audit } = fakeDeps();
    deps.firewall.createBanBackend = (kind) => ({
      kind,
      ban: async (ip) => ({ ip, why: 'users-rule' as const }),
      unban: async () => undefined,
      list: async () => [],
      banMany: async () => [],
      unbanMany: async () => [],
    });
    const d = createHelperDispatcher(deps);
    const r = await d.handle({ id: 1, op: 'ban', args: { ip: '192.0.2.9', timeoutSec: 60, backend: 'ufw' } });
    expect(r).toEqual({ id: 1, ok: true, result: { ok: true, skipped: { ip: '192.0.2.9', why: 'users-rule' } } });
    await d.auditWritten();
    expect(audit.entries.map((e) => `${e.op} ${e.result}`)).toEqual(['ban ok']);
  });

  it('an audit append that throws or rejects is reported with the entry\'s summary and counted, and the entries after it are still written', async () => {
    const { deps } = fakeDeps();
    const written: string[] = [];
    const reports: string[] = [];
    let n = 0;
    deps.audit = {
      append: (e) => {
        n++;
        if (n === 1) throw new Error('EROFS: read-only file system'); // a synchronous throw
        if (n === 2) return Promise.reject(new Error('ENOSPC: no space left on device'));
        written.push(`${e.op} ${(e.args as { ip: string }).ip}`);
        return Promise.resolve();
      },
    };
    deps.reportAuditFailure = (m) => reports.push(m);
    const d = createHelperDispatcher(deps);
    for (const [id, ip] of [[1, '192.0.2.1'], [2, '192.0.2.2'], [3, '192.0.2.3']] as const) {
      expect((await d.handle({ id, op: 'ban', args: { ip, timeoutSec: 60, backend: 'set' } })).ok).toBe(true);
    }
    await d.auditWritten();
    expect(written).toEqual(['ban 192.0.2.3']);
    expect(d.auditFailures()).toBe(2);
    expect(reports).toHaveLength(2);
    expect(reports[0]).toMatch(/audit entry not written \(1 so far\): \S+ .*: ban \{"ip":"192\.0\.2\.1".*→ ok: EROFS: read-only file system$/);
    expect(reports[1]).toMatch(/audit entry not written \(2 so far\): .*ban \{"ip":"192\.0\.2\.2".*ENOSPC/);
  });

  it('auditWritten (shutdown) also waits for a change still in progress, so its entry is written before the helper exits', async () => {
    // SIGTERM while a ufw ban runs (its block already in force by blockNow): main() awaited auditWritten,
    // which resolved at once, and exited before the ban's entry was queued — a change with no audit entry.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const { deps, audit } = fakeDeps();
    deps.firewall.createBanBackend = heldBans(held);
    const d = createHelperDispatcher(deps);
    const ban = d.handle({ id: 1, op: 'ban', args: { ip: '192.0.2.1', timeoutSec: 60, backend: 'ufw' } });
    await new Promise((r) => setImmediate(r));
    let flushed = false;
    const written = d.auditWritten().then(() => (flushed = true));
    await new Promise((r) => setImmediate(r));
    expect(flushed).toBe(false);
    release();
    await written;
    expect(audit.entries.map((e) => `${e.op} ${e.result}`)).toEqual(['ban ok']);
    expect((await ban).ok).toBe(true);
  });

  it('a connection cut does not wait behind a slow firewall change (conntrack touches no rule), and is audited', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const { deps, fwCalls, audit } = fakeDeps();
    deps.firewall.createBanBackend = heldBans(held);
    const d = createHelperDispatcher(deps);
    const ban = d.handle({ id: 1, op: 'ban', args: { ip: '192.0.2.1', timeoutSec: 60, backend: 'ufw' } });
    const cut = await d.handle({ id: 2, op: 'cutConnections', args: { ip: '192.0.2.9' } });
    expect(cut.ok).toBe(true);
    expect(fwCalls).toEqual(['cut 192.0.2.9']);
    expect(audit.entries.map((e) => e.op)).toEqual(['cutConnections']);
    release();
    expect((await ban).ok).toBe(true);
  });

  it('a set-backend ban does not wait behind a slow ufw read (the 30 s status refresh); a ufw ban does', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const { deps, fwCalls, audit } = fakeDeps();
    const inner = deps.exec;
    deps.exec = async (bin, args, opts) => {
      if (bin === 'ufw' && args[0] === 'status') await held;
      return inner(bin, args, opts);
    };
    const d = createHelperDispatcher(deps);
    const status = d.handle({ id: 1, op: 'status', args: {} });
    const ufwBan = d.handle({ id: 2, op: 'ban', args: { ip: '192.0.2.2', timeoutSec: 60, backend: 'ufw' } });
    const setBan = await d.handle({ id: 3, op: 'ban', args: { ip: '192.0.2.3', timeoutSec: 60, backend: 'set' } });
    expect(setBan.ok).toBe(true);
    expect(fwCalls).toEqual(['set.ban 192.0.2.3 60 ']);
    expect(audit.entries[0]!.argv).toEqual([['/usr/sbin/ipset', 'add', 'x', '192.0.2.3']]);
    release();
    expect((await status).ok).toBe(true);
    expect((await ufwBan).ok).toBe(true);
    expect(fwCalls).toEqual(['set.ban 192.0.2.3 60 ', 'ufw.ban 192.0.2.2 60 ']);
  });

  it('the NFLOG counters are read beside the ufw queue: a reader (re)start does not wait behind queued ufw bans', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const { deps } = fakeDeps();
    deps.firewall.createBanBackend = heldBans(held);
    const d = createHelperDispatcher(deps);
    const ban = d.handle({ id: 1, op: 'ban', args: { ip: '192.0.2.1', timeoutSec: 60, backend: 'ufw' } });
    const answered = await Promise.race([d.handle({ id: 2, op: 'nflogCounters', args: {} }), new Promise((r) => setTimeout(() => r('waited'), 500))]);
    expect(answered).toMatchObject({ ok: true, result: { rules: [] } });
    release();
    expect((await ban).ok).toBe(true);
  });

  it('a ufw-backend ban is in force before a slow `ufw status` read ends; ufw\'s own rule follows in the queue (issue 14)', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const { deps, calls, audit } = fakeDeps();
    const inner = deps.exec;
    let blocked!: () => void;
    const sawBlock = new Promise<void>((r) => (blocked = r));
    deps.exec = async (bin, args, opts) => {
      if (bin === 'ufw' && args[0] === 'status') await held;
      const r = await inner(bin, args, opts);
      if (bin === 'iptables') blocked();
      return r;
    };
    // The real ufw backend (argv through the recording exec), not the fake one.
    deps.firewall.createBanBackend = (kind, exec) => createBanBackend(kind, exec, { cutConnections: false, now: () => 1_000_000_000 });
    const d = createHelperDispatcher(deps);
    const status = d.handle({ id: 1, op: 'status', args: {} });
    const ban = d.handle({ id: 2, op: 'ban', args: { ip: '192.0.2.2', timeoutSec: 60, backend: 'ufw', comment: 'scan' } });
    await sawBlock; // never resolves on a helper that makes the ban wait for the status read
    // In force while the status read still holds ufw's queue; ufw's rule waits its turn.
    const lines = () => calls.map((c) => [c.bin, ...c.args].join(' '));
    expect(lines()).toContain('iptables -w -I ufw-user-input 1 -s 192.0.2.2 -m comment --comment portcullis-fast -j DROP');
    expect(lines().some((l) => l.startsWith('ufw prepend'))).toBe(false);
    release();
    expect((await status).ok).toBe(true);
    expect((await ban).ok).toBe(true);
    const after = lines();
    expect(after.indexOf('ufw prepend deny from 192.0.2.2 comment portcullis-ban exp:1000060 scan')).toBeGreaterThan(after.indexOf('iptables -w -I ufw-user-input 1 -s 192.0.2.2 -m comment --comment portcullis-fast -j DROP'));
    // One audit entry with every command: the block, ufw's rule, the block taken back behind it.
    const entry = audit.entries.find((e) => e.op === 'ban')!;
    expect(entry.argv.map((a) => a.join(' '))).toEqual([
      '/usr/sbin/iptables -w -I ufw-user-input 1 -s 192.0.2.2 -m comment --comment portcullis-fast -j DROP',
      '/usr/sbin/ufw prepend deny from 192.0.2.2 comment portcullis-ban exp:1000060 scan',
      '/usr/sbin/iptables -w -D ufw-user-input -s 192.0.2.2 -m comment --comment portcullis-fast -j DROP',
    ]);
  });

  it('deleting a Portcullis ban rule through the rule editor is refused', async () => {
    const { deps, calls } = fakeDeps();
    const r = await createHelperDispatcher(deps).handle({ id: 3, op: 'deleteRule', args: { number: 3 } });
    expect(r.ok).toBe(false);
    expect(calls.filter((c) => c.args[1] === 'delete')).toEqual([]);
  });

  it('delete finds the rule the client saw after numbers shifted (a ban was prepended meanwhile)', async () => {
    const { deps, calls } = fakeDeps();
    // The client saw "2222/tcp LIMIT IN" as rule 6; in the fixture it is rule 7 now.
    const d = createHelperDispatcher(deps);
    const shown = await seenAs(d, (r) => r.port === '2222' && r.action === 'limit' && !r.v6);
    const r = await d.handle({ id: 3, op: 'deleteRule', args: { number: 6, expect: shown } });
    expect(r.ok).toBe(true);
    expect(calls.at(-1)).toEqual({ bin: 'ufw', args: ['--force', 'delete', '7'] });
  });

  it('the expectation is the whole rule: a partial one (that matched any rule) is refused at the boundary', async () => {
    const { deps, calls } = fakeDeps();
    const d = createHelperDispatcher(deps);
    for (const partial of [{}, { action: 'allow' }, { port: '2222', action: 'limit', v6: false }]) {
      const r = await d.handle({ id: 4, op: 'deleteRule', args: { number: 99_999, expect: partial } });
      expect(r, JSON.stringify(partial)).toMatchObject({ ok: false, error: { code: 'invalid' } });
    }
    expect(calls.some((c) => c.args.includes('delete'))).toBe(false);
  });

  it('field values ufw would read as its own syntax, a blank-padded reserved tag and a fake expiry are refused before anything runs', async () => {
    const { deps, calls } = fakeDeps();
    const d = createHelperDispatcher(deps);
    const refused = [
      { op: 'addRule', args: { rule: { action: 'allow', app: 'comment', comment: 'OpenSSH' } }, why: 'contains a word ufw reads as syntax' },
      { op: 'addRule', args: { rule: { action: 'allow', app: 'Apache comment', port: undefined } }, why: 'contains a word ufw reads as syntax' },
      { op: 'addRule', args: { rule: { action: 'allow', iface: 'log', port: '22', proto: 'tcp' } }, why: 'contains a word ufw reads as syntax' },
      { op: 'addRule', args: { rule: { action: 'allow', port: '22', proto: 'tcp', comment: ' portcullis-ban x' } }, why: 'cannot start or end with a space' },
      { op: 'ban', args: { backend: 'ufw', ip: '203.0.113.9', timeoutSec: null, comment: 'exp:1' }, why: 'cannot hold "exp:"' },
    ];
    for (const [i, q] of refused.entries()) {
      const r = await d.handle({ id: 10 + i, op: q.op, args: q.args });
      expect(r, q.op).toMatchObject({ ok: false, error: { code: 'invalid' } });
      if (q.why) expect(!r.ok && r.error.message).toContain(q.why);
    }
    expect(calls.filter((c) => c.bin === 'ufw' && c.args[0] !== 'status')).toEqual([]);
  });

  it('a rule that no longer exists as shown is a conflict, nothing deleted', async () => {
    const { deps, calls } = fakeDeps();
    const d = createHelperDispatcher(deps);
    const shown = await seenAs(d, (r) => r.port === '2222' && r.action === 'limit' && !r.v6);
    const r = await d.handle({ id: 3, op: 'deleteRule', args: { number: 6, expect: { ...shown, port: '9999' } } });
    expect(r).toMatchObject({ ok: false, error: { code: 'conflict' } });
    expect(calls.some((c) => c.args.includes('delete'))).toBe(false);
  });

  it('move = delete + insert of the same rule; a v6 rule cannot move among v4 rules (nothing runs)', async () => {
    const { deps, calls } = fakeDeps();
    const d = createHelperDispatcher(deps);
    const r = await d.handle({ id: 4, op: 'moveRule', args: { number: 7, to: 2 } });
    expect(r.ok).toBe(true);
    expect(calls.slice(-2).map((c) => c.args)).toEqual([
      ['--force', 'delete', '7'],
      ['insert', '2', 'limit', 'in', 'proto', 'tcp', 'from', 'any', 'to', 'any', 'port', '2222'],
    ]);
    calls.length = 0;
    const bad = await d.handle({ id: 5, op: 'moveRule', args: { number: 21, to: 2 } });
    expect(bad).toMatchObject({ ok: false, error: { code: 'invalid' } });
    expect(calls.filter((c) => c.args[0] !== 'status')).toEqual([]);
  });

  it('an edit of a rule with per-rule logging is refused at the helper whatever the client, in preview and apply alike: nothing runs', async () => {
    const { deps, calls } = fakeDeps();
    const d = createHelperDispatcher(deps);
    const shown = await seenAs(d, (r) => r.port === '2200' && r.log === 'log' && !r.v6);
    const op = { kind: 'edit', number: 14, rule: { action: 'allow', port: '2200', proto: 'tcp', comment: 'ssh' }, expect: shown };
    expect(await d.handle({ id: 2, op: 'previewRule', args: { op } })).toMatchObject({ ok: false, error: { code: 'invalid', message: expect.stringContaining('per-rule logging') } });
    const { kind: _k, ...args } = op;
    expect(await d.handle({ id: 3, op: 'editRule', args })).toMatchObject({ ok: false, error: { code: 'invalid', message: expect.stringContaining('per-rule logging') } });
    // Only reads (`status`, `app list`): no delete, no insert.
    expect(calls.filter((c) => c.args[0] !== 'status' && c.args[0] !== 'app')).toEqual([]);
  });

  it('move: when the re-insert fails, the original rule is put back', async () => {
    const { deps, calls } = fakeDeps((bin, args) => (args[0] === 'insert' && args[1] === '2' ? { code: 1, stdout: '', stderr: 'ERROR: boom' } : undefined));
    const r = await createHelperDispatcher(deps).handle({ id: 4, op: 'moveRule', args: { number: 7, to: 2 } });
    expect(r).toMatchObject({ ok: false, error: { code: 'failed' } });
    expect(calls.at(-1)!.args).toEqual(['insert', '7', 'limit', 'in', 'proto', 'tcp', 'from', 'any', 'to', 'any', 'port', '2222']);
  });

  it('ufw failures become typed errors carrying ufw’s message, and are audited', async () => {
    const { deps, audit } = fakeDeps((bin, args) => (args[0] === 'logging' ? { code: 1, stdout: '', stderr: 'ERROR: Invalid syntax\n' } : undefined));
    const r = await createHelperDispatcher(deps).handle({ id: 9, op: 'setLogging', args: { level: 'high' } });
    expect(r).toEqual({ id: 9, ok: false, error: { code: 'failed', message: 'ufw logging high: ERROR: Invalid syntax' } });
    expect(audit.entries[0]).toMatchObject({ result: 'error', op: 'setLogging' });
  });

  it('previewRule runs nothing and shows the exact commands', async () => {
    const { deps, calls } = fakeDeps();
    const r = await createHelperDispatcher(deps).handle({ id: 1, op: 'previewRule', args: { op: { kind: 'add', position: 1, rule: { action: 'deny', from: '2001:db8::/32' } } } });
    expect(r).toEqual({ id: 1, ok: true, result: { commands: ['ufw prepend deny in from 2001:db8::/32 to any'] } });
    // It reads the rules (a position depends on them), and changes nothing.
    expect(calls.every((c) => c.args[0] === 'status')).toBe(true);
  });

  it('previewRule of a move plans against the current rules (it said "there is no rule N" for every move) and changes nothing', async () => {
    const { deps, calls } = fakeDeps();
    const d = createHelperDispatcher(deps);
    const shown = await seenAs(d, (r) => r.port === '2222' && r.action === 'limit' && !r.v6);
    calls.length = 0;
    const r = await d.handle({ id: 1, op: 'previewRule', args: { op: { kind: 'move', number: 7, to: 2, expect: shown } } });
    expect(r).toEqual({ id: 1, ok: true, result: { commands: ['ufw --force delete 7', 'ufw insert 2 limit in proto tcp from any to any port 2222'] } });
    expect(calls.every((c) => c.args[0] === 'status')).toBe(true);
  });

  it('edit with a new position (to): delete, then insert the new rule there; the preview says the same', async () => {
    const { deps, calls } = fakeDeps();
    const d = createHelperDispatcher(deps);
    const spec = { action: 'limit', port: '2223', proto: 'tcp' };
    const p = await d.handle({ id: 1, op: 'previewRule', args: { op: { kind: 'edit', number: 7, to: 2, rule: spec } } });
    expect(p).toMatchObject({ ok: true, result: { commands: ['ufw --force delete 7', 'ufw insert 2 limit in proto tcp from any to any port 2223'] } });
    calls.length = 0;
    const r = await d.handle({ id: 2, op: 'editRule', args: { number: 7, to: 2, rule: spec } });
    expect(r.ok).toBe(true);
    expect(calls.filter((c) => c.args[0] !== 'status').map((c) => c.args)).toEqual([
      ['--force', 'delete', '7'],
      ['insert', '2', 'limit', 'in', 'proto', 'tcp', 'from', 'any', 'to', 'any', 'port', '2223'],
    ]);
  });

  it('status: the routed policy is "disabled" while the kernel forwards nothing, as ufw reports it (it showed the file\'s policy)', async () => {
    for (const [v4, v6, routed] of [['0\n', '0\n', 'disabled'], ['1\n', '0\n', 'reject'], ['0\n', '1\n', 'reject'], [null, null, 'reject']] as const) {
      const { deps } = fakeDeps();
      const files = deps.readConfig;
      deps.readConfig = async (p) => (p === '/proc/sys/net/ipv4/ip_forward' ? v4 : p === '/proc/sys/net/ipv6/conf/default/forwarding' ? v6 : files(p));
      const r = await createHelperDispatcher(deps).handle({ id: 1, op: 'status', args: {} });
      expect(r, `${v4} ${v6}`).toMatchObject({ ok: true, result: { defaults: { routed } } });
    }
  });

  it('changes never overlap: ufw runs one at a time', async () => {
    let running = 0;
    let maxRunning = 0;
    const { deps } = fakeDeps();
    const inner = deps.exec;
    deps.exec = async (bin, args, o) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      return inner(bin, args, o);
    };
    const d = createHelperDispatcher(deps);
    const results = await Promise.all([
      d.handle({ id: 1, op: 'enable', args: {} }),
      d.handle({ id: 2, op: 'addRule', args: { rule: { action: 'allow', port: '80', proto: 'tcp' } } }),
      d.handle({ id: 3, op: 'status', args: {} }),
      d.handle({ id: 4, op: 'setDefault', args: { direction: 'incoming', policy: 'deny' } }),
    ]);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(maxRunning).toBe(1);
  });

  it("at start, finishes an edit of ufw's rules files an earlier helper was killed in: in the queue, audited with the argv it ran; nothing to finish is neither run nor audited", async () => {
    const { deps, calls, audit } = fakeDeps();
    let pending = true;
    deps.firewall.finishInterruptedUfwEdit = async (exec) => {
      if (!pending) return null;
      pending = false;
      await exec('iptablesRestore', ['-n'], { input: '*filter\nCOMMIT\n' });
      return { loaded: ['/etc/ufw/user.rules'] };
    };
    const d = createHelperDispatcher(deps);
    expect(await d.finishInterruptedEdits()).toMatch(/^loaded \/etc\/ufw\/user\.rules: an earlier helper stopped/);
    await d.auditWritten();
    expect(calls).toEqual([{ bin: 'iptablesRestore', args: ['-n'] }]);
    expect(audit.entries).toEqual([expect.objectContaining({ op: 'finishInterruptedUfwEdit', result: 'ok', argv: [['/usr/sbin/iptables-restore', '-n']] })]);
    expect(await d.finishInterruptedEdits()).toBeNull();
    await d.auditWritten();
    expect(audit.entries).toHaveLength(1);
    // A load that fails is said and audited, never thrown: the helper still starts.
    deps.firewall.finishInterruptedUfwEdit = async () => {
      throw Object.assign(new Error('loading failed: run ufw reload'), { code: 'reload-failed' });
    };
    expect(await createHelperDispatcher(deps).finishInterruptedEdits()).toMatch(/not all loaded: loading failed: run ufw reload/);
  });

  it('streams kmsg records as events and stops on close', async () => {
    const { deps } = fakeDeps();
    let emit: ((r: string[]) => void) | null = null;
    let stopped = false;
    deps.openKmsg = (_start, onRecords) => {
      emit = onRecords;
      return { stop: () => void (stopped = true) };
    };
    const d = createHelperDispatcher(deps);
    const events: unknown[] = [];
    d.onEvent((e) => events.push(e));
    expect(await d.handle({ id: 1, op: 'streamKmsg', args: { afterSeq: 10 } })).toMatchObject({ ok: true });
    emit!(['4,11,5,-;[UFW BLOCK] IN=eth0']);
    expect(events).toEqual([{ event: 'kmsg', records: ['4,11,5,-;[UFW BLOCK] IN=eth0'] }]);
    d.close();
    expect(stopped).toBe(true);
  });
});
