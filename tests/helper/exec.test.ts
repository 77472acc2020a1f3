/**
 * The helper's only way to run a program, for real: the child is started directly (no shell in
 * between), by absolute path, with exactly the clean environment (nothing inherited from root's
 * environment: no LD_PRELOAD, no PATH tricks), and killed at its timeout.
 * `ip monitor` is used because it runs until killed and changes nothing.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BINARIES, execArgv } from '../../electron/helper/exec.ts';

/** Processes whose parent is this test process: [pid, argv, environment]. */
function children(): { pid: number; argv: string[]; env: Record<string, string> }[] {
  const out: { pid: number; argv: string[]; env: Record<string, string> }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').filter(Boolean);
      const env = Object.fromEntries(
        readFileSync(`/proc/${name}/environ`, 'utf8')
          .split('\0')
          .filter(Boolean)
          .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
      );
      out.push({ pid: Number(name), argv, env });
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

describe('BINARIES', () => {
  it('every program the helper may run is an absolute path', () => {
    for (const [name, p] of Object.entries(BINARIES)) expect(path.isAbsolute(p), name).toBe(true);
  });
});

describe.runIf(existsSync(BINARIES.ip))('execArgv, for real', () => {
  const saved = { LD_PRELOAD: process.env.LD_PRELOAD, PATH: process.env.PATH, EVIL: process.env.EVIL };
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('runs the absolute path directly with only the clean environment, and kills it at the timeout', async () => {
    // What a hostile or careless environment of root could carry: none of it may reach the child.
    process.env.LD_PRELOAD = '/tmp/evil.so';
    process.env.EVIL = '$(reboot)';
    process.env.PATH = '/tmp/evil-bin:' + (saved.PATH ?? '');
    const started = Date.now();
    const running = execArgv('ip', ['monitor', 'link'], { timeoutMs: 800 });
    let seen: ReturnType<typeof children>[number] | undefined;
    while (!seen && Date.now() - started < 700) {
      seen = children().find((c) => c.argv.includes('monitor'));
      if (!seen) await new Promise((r) => setTimeout(r, 20));
    }
    const r = await running;
    const took = Date.now() - started;

    expect(seen, 'ip monitor is a direct child of this process (no shell in between)').toBeDefined();
    expect(seen!.argv).toEqual([BINARIES.ip, 'monitor', 'link']);
    expect(seen!.env).toEqual({ PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', LC_ALL: 'C' });
    expect(r.code).toBe(124); // killed at its timeout, reported like timeout(1) does
    expect(took).toBeGreaterThanOrEqual(750);
    expect(took).toBeLessThan(5000);
  });

  it('reports a failing program with its exit code and stderr, arguments passed as one word each', async () => {
    const r = await execArgv('ip', ['link', 'show', 'dev', 'no such device; reboot']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no such device; reboot/);
  });
});
