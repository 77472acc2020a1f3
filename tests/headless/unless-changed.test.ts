import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostFingerprint, ufwFingerprint, unlessChanged } from '../../electron/headless/unless-changed.ts';

describe('refreshes that read again only on change', () => {
  it('answers from the last read while the fingerprint holds; reads on a change, on age, after invalidate', async () => {
    let print = 'a';
    let t = 0;
    let n = 0;
    const c = unlessChanged(async () => ++n, () => print, { maxAgeMs: 1000, now: () => t });
    expect(await c.get()).toBe(1);
    t = 500;
    expect(await c.get()).toBe(1);
    expect(c.reads()).toBe(1);
    print = 'b';
    expect(await c.get()).toBe(2);
    t = 1600; // older than maxAgeMs: read whatever the fingerprint says
    expect(await c.get()).toBe(3);
    c.invalidate();
    expect(await c.get()).toBe(4);
    expect(await c.get()).toBe(4);
  });

  it("ufw's fingerprint moves with any file of /etc/ufw, its applications.d, and nothing else moves it", () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pc-ufw-fp-'));
    try {
      writeFileSync(path.join(dir, 'user.rules'), '*filter\nCOMMIT\n');
      mkdirSync(path.join(dir, 'applications.d'));
      writeFileSync(path.join(dir, 'applications.d', 'openssh-server'), '[OpenSSH]\nports=22/tcp\n');
      const a = ufwFingerprint(dir);
      expect(ufwFingerprint(dir)).toBe(a);
      writeFileSync(path.join(dir, 'user.rules'), '*filter\n-A ufw-user-input -s 192.0.2.1 -j DROP\nCOMMIT\n');
      const b = ufwFingerprint(dir);
      expect(b).not.toBe(a);
      // Same size, another modification time (ufw rewrites the file): still a change.
      utimesSync(path.join(dir, 'applications.d', 'openssh-server'), new Date(), new Date(Date.now() + 5000));
      expect(ufwFingerprint(dir)).not.toBe(b);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the host's fingerprint is stable at rest (no use counters of routes in it)", () => {
    const a = hostFingerprint();
    for (let i = 0; i < 5; i++) expect(hostFingerprint()).toBe(a);
    expect(a).toContain('127.0.0.1');
  });
});
