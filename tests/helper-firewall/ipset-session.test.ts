/**
 * The ipset coprocess protocol against a stand-in for `ipset restore` (a real child process on real
 * pipes, answering as ipset v7.17 does: the marker `list NAME -name` prints NAME, the first failing
 * line prints "Error in line N" to stderr and ends the process).
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createIpsetSession } from '../../electron/helper/firewall/ipset-session.ts';

const FAKE_IPSET = String.raw`
let n = 0, buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, i); buf = buf.slice(i + 1); n++;
    if (line.includes('nosuch')) { process.stderr.write('ipset v7.17: Error in line ' + n + ': The set with the given name does not exist\n'); process.exit(1); }
    if (line.startsWith('hang')) { buf = ''; return; }
    const m = /^list (\S+) -name$/.exec(line);
    if (m) process.stdout.write(m[1] + '\n');
    else if (process.env.LOG) require('node:fs').appendFileSync(process.env.LOG, line + '\n');
  }
});
`;

function fake() {
  let spawned = 0;
  const children: ReturnType<typeof spawn>[] = [];
  const start = () => {
    spawned++;
    const c = spawn(process.execPath, ['-e', FAKE_IPSET], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(c);
    return c;
  };
  return { start, spawned: () => spawned, children };
}

describe('ipset session', () => {
  it('runs batch after batch through ONE process, each answered by its marker', async () => {
    const f = fake();
    const s = createIpsetSession(f.start);
    try {
      await s.run(['add -exist portcullis-ban4 192.0.2.1 timeout 0']);
      await Promise.all([s.run(['add -exist portcullis-ban4 192.0.2.2 timeout 0']), s.run(['del -exist portcullis-ban4 192.0.2.1']), s.run([])]);
      expect(f.spawned()).toBe(1);
    } finally {
      s.close();
    }
  });

  it('a failing line fails ITS batch with ipset’s reason, later batches as not applied; the next batch starts a new process', async () => {
    const f = fake();
    const s = createIpsetSession(f.start);
    try {
      await s.run(['add a 1']);
      const ok = s.run(['add a 2', 'add a 3']);
      const bad = s.run(['add a 4', 'add nosuch 5', 'add a 6']);
      const after = s.run(['add a 7']);
      await expect(ok).resolves.toBeUndefined();
      await expect(bad).rejects.toThrow(/ipset: Error in line 7: The set with the given name does not exist/);
      await expect(after).rejects.toThrow(/stopped before this change ran/);
      await s.run(['add a 8']);
      expect(f.spawned()).toBe(2);
    } finally {
      s.close();
    }
  });

  it('a batch with no answer in time fails and its process is killed', async () => {
    const f = fake();
    const s = createIpsetSession(f.start, { timeoutMs: 3000 });
    try {
      const exited = new Promise((r) => setImmediate(() => f.children[0]!.once('exit', r)));
      await expect(s.run(['hang'])).rejects.toThrow(/no answer within 3000 ms/);
      await exited;
    } finally {
      s.close();
    }
  });

  it('a process that died is replaced by the next batch', async () => {
    const f = fake();
    const s = createIpsetSession(f.start);
    try {
      await s.run(['add a 1']);
      const exited = new Promise((r) => f.children[0]!.once('exit', r));
      f.children[0]!.kill('SIGKILL');
      await exited;
      await s.run(['add a 2']);
      expect(f.spawned()).toBe(2);
    } finally {
      s.close();
    }
  });

  it('runs each coprocess it starts at the nice value asked for (a ban waits for it to get a CPU), and works on where that is refused', async () => {
    const f = fake();
    const set: [number, number][] = [];
    const s = createIpsetSession(f.start, { nice: -10, setPriority: (pid, n) => void set.push([pid, n]) });
    try {
      await s.run(['add a 1']);
      expect(set).toEqual([[f.children[0]!.pid!, -10]]);
      const exited = new Promise((r) => f.children[0]!.once('exit', r));
      f.children[0]!.kill('SIGKILL');
      await exited;
      await s.run(['add a 2']); // the replacement too
      expect(set).toEqual([[f.children[0]!.pid!, -10], [f.children[1]!.pid!, -10]]);
    } finally {
      s.close();
    }
    const refused = createIpsetSession(fake().start, { nice: -10, setPriority: () => { throw Object.assign(new Error('EACCES'), { code: 'EACCES' }); } });
    try {
      await expect(refused.run(['add a 1'])).resolves.toBeUndefined();
    } finally {
      refused.close();
    }
  });

  it('the real session asks for the kmsg reading thread\'s nice -10', async () => {
    const { IPSET_NICE } = await import('../../electron/helper/firewall/ipset-session.ts');
    const { READER_NICE } = await import('../../electron/engine/logs/kmsg-thread.ts');
    expect(IPSET_NICE).toBe(-10);
    expect(IPSET_NICE).toBe(READER_NICE);
  });

  it('refuses a command holding a newline (it would be two commands)', async () => {
    const f = fake();
    const s = createIpsetSession(f.start);
    await expect(s.run(['add a 1\nflush a'])).rejects.toThrow(/cannot span lines/);
    expect(f.spawned()).toBe(0);
  });
});
