/**
 * The CLI must not talk to a control socket someone else planted: before connecting it checks
 * (lstat, no link followed) that the socket is a socket, owned like its state directory by root (or
 * by the user running the CLI), in a directory nobody else can write, under parents nobody else can
 * swap. Each refusal is tried against a live "planted" server that would answer with lies: it must
 * never see a connection.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, chownSync, lchownSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlClient, controlSocketPath } from '../../electron/headless/control-client.ts';
import { tempDirsPerTest } from '../support/temp-dirs.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const tmp = tempDirsPerTest('pc-trust-');

const ROOT = path.resolve(import.meta.dirname, '../..');
const NODE = existsSync(path.join(ROOT, 'node_modules/.bin/node')) ? path.join(ROOT, 'node_modules/.bin/node') : process.execPath;
function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(NODE, [path.join(ROOT, 'bin/portcullis.js'), ...args], { timeout: 20_000 }, (err, _stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr: String(stderr) });
    });
  });
}

/** A server at `sockPath` that answers every call with a lie, and counts who connected. */
async function plant(sockPath: string): Promise<{ connections: () => number }> {
  let n = 0;
  const server = net.createServer((sock) => {
    n++;
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      for (const line of chunk.split('\n').filter(Boolean)) {
        const { id } = JSON.parse(line) as { id: number };
        sock.write(JSON.stringify({ id, reply: { ok: true, result: 'a lie' } }) + '\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(sockPath, resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { connections: () => n };
}

const anyResult = { parse: (v: unknown) => v as never };

/** A state directory as the runner makes it: this user's, mode 0700. */
function stateDir(parent = tmp()): string {
  const dir = path.join(parent, 'state');
  mkdirSync(dir, { mode: 0o700 });
  chmodSync(dir, 0o700);
  return dir;
}

async function refused(sockPath: string, why: RegExp): Promise<void> {
  const c = new ControlClient(sockPath);
  try {
    await expect(c.call('getState', {}, anyResult)).rejects.toThrow(why);
  } finally {
    c.close();
  }
}

describe('ControlClient checks the socket before it connects', () => {
  it('talks to a socket of its own user in a 0700 directory of that user (the runner\'s layout)', async () => {
    const sock = controlSocketPath(stateDir());
    const planted = await plant(sock);
    const c = new ControlClient(sock);
    try {
      await expect(c.call('getState', {}, anyResult)).resolves.toBe('a lie');
    } finally {
      c.close();
    }
    expect(planted.connections()).toBe(1);
  });

  it('refuses a state directory others can write (someone could have put the socket there first)', async () => {
    const dir = stateDir();
    const sock = controlSocketPath(dir);
    const planted = await plant(sock);
    chmodSync(dir, 0o777);
    await refused(sock, /mode 0777.*refusing to talk to it/);
    chmodSync(dir, 0o1777); // sticky does not help: the planter owns its socket
    await refused(sock, /mode 1777.*refusing to talk to it/);
    chmodSync(dir, 0o720);
    await refused(sock, /mode 0720.*refusing to talk to it/);
    expect(planted.connections()).toBe(0);
  });

  it('refuses a symbolic link to a socket, and a symbolic link as the state directory (no link is followed)', async () => {
    const base = tmp();
    const real = stateDir(base);
    const planted = await plant(path.join(real, 'elsewhere.sock'));
    symlinkSync(path.join(real, 'elsewhere.sock'), controlSocketPath(real));
    await refused(controlSocketPath(real), /is a symbolic link.*refusing to talk to it/);
    const linkDir = path.join(base, 'link');
    symlinkSync(real, linkDir);
    await refused(path.join(linkDir, 'elsewhere.sock'), /is a symbolic link.*refusing to talk to it/);
    expect(planted.connections()).toBe(0);
  });

  it('refuses something that is not a socket', async () => {
    const dir = stateDir();
    writeFileSync(controlSocketPath(dir), '');
    await refused(controlSocketPath(dir), /not a socket/);
  });

  it('refuses a state directory under a parent others can write (they could swap the whole directory)', async () => {
    const open = path.join(tmp(), 'open');
    mkdirSync(open);
    const sock = controlSocketPath(stateDir(open));
    const planted = await plant(sock);
    chmodSync(open, 0o777);
    await refused(sock, /mode 0777: writable by others without the sticky bit/);
    expect(planted.connections()).toBe(0);
  });

  it('refuses a state directory reached through a link that lives in a directory others can write (they could point it elsewhere)', async () => {
    const base = tmp();
    const sock = controlSocketPath(stateDir(base));
    const planted = await plant(sock);
    const open = path.join(base, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    symlinkSync(base, path.join(open, 'link'));
    await refused(path.join(open, 'link', 'state', 'control.sock'), /open \(a parent of the state directory\) has mode 0777/);
    expect(planted.connections()).toBe(0);
  });

  it('still says "no running instance" when there is no socket, so `doctor` falls back to checking directly', async () => {
    await refused(controlSocketPath(stateDir()), /no running Portcullis instance/);
    await refused(path.join(tmp(), 'missing', 'control.sock'), /no running Portcullis instance/);
  });

  describe.runIf(process.getuid?.() === 0)('as root, with another user (uid 65534)', () => {
    it('refuses a socket that user owns, even in root\'s own 0700 directory', async () => {
      const sock = controlSocketPath(stateDir());
      const planted = await plant(sock);
      chownSync(sock, 65534, 65534);
      await refused(sock, /owned by uid 65534.*refusing to talk to it/);
      expect(planted.connections()).toBe(0);
    });

    it('refuses a state directory that user owns, even holding a socket of root\'s', async () => {
      const dir = stateDir();
      const sock = controlSocketPath(dir);
      const planted = await plant(sock);
      chownSync(dir, 65534, 65534);
      await refused(sock, /owned by uid 65534.*refusing to talk to it/);
      expect(planted.connections()).toBe(0);
    });

    it('refuses a state directory reached through a link that user owns, even in a sticky directory (its owner can repoint it)', async () => {
      const base = tmp();
      const sock = controlSocketPath(stateDir(base));
      const planted = await plant(sock);
      const sticky = path.join(base, 'sticky');
      mkdirSync(sticky);
      chmodSync(sticky, 0o1777); // as /tmp: others cannot rename the link, but its owner can
      const link = path.join(sticky, 'link');
      symlinkSync(base, link);
      lchownSync(link, 65534, 65534);
      await refused(path.join(link, 'state', 'control.sock'), /link.*owned by uid 65534/);
      expect(planted.connections()).toBe(0);
    });

    it('refuses a state directory under a parent that user owns', async () => {
      const theirs = path.join(tmp(), 'theirs');
      mkdirSync(theirs, { mode: 0o755 });
      const sock = controlSocketPath(stateDir(theirs));
      const planted = await plant(sock);
      chownSync(theirs, 65534, 65534);
      await refused(sock, /owned by uid 65534, not root or this user/);
      expect(planted.connections()).toBe(0);
    });
  });

  it('the CLI (unban, status) refuses such a socket with the reason and exit code 1, sending nothing', async () => {
    const dir = stateDir();
    const planted = await plant(controlSocketPath(dir));
    chmodSync(dir, 0o777);
    for (const args of [['unban', '192.0.2.1'], ['status']]) {
      const r = await cli([...args, '--state-dir', dir]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/mode 0777: others could have put a socket there first: it may not be Portcullis's; refusing to talk to it/);
    }
    expect(planted.connections()).toBe(0);
  });
});
