/**
 * The managed-block text functions, on copies of Debian ufw's own files (fixtures/).
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BEFORE_INIT_ANCHOR,
  ESTABLISHED_MARKER,
  SET_BLOCK_ANCHOR,
  beforeInitBlock,
  blockBody,
  hasBlock,
  loggingAnchor,
  perSourceLoggingRules,
  loggingViaOf,
  setBlockRules,
  withBlock,
  withoutBlock,
} from '../../electron/helper/firewall/blocks.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const ok = (r: { ok: true; text: string } | { ok: false; reason: string }): string => {
  if (!r.ok) throw new Error(r.reason);
  return r.text;
};
const lines = (t: string) => t.split('\n');

describe('set block in before.rules / before6.rules', () => {
  for (const [file, family, chain] of [
    ['before.rules', 4, 'ufw-before-input'],
    ['before6.rules', 6, 'ufw6-before-input'],
  ] as const) {
    it(`${file}: goes right before the ESTABLISHED accept, and nothing else changes`, () => {
      const orig = fixture(file);
      const text = ok(withBlock(orig, setBlockRules(family), SET_BLOCK_ANCHOR));
      const l = lines(text);
      const drop = l.findIndex((x) => x === `-A ${chain} -m set --match-set portcullis-ban${family} src -j DROP`);
      const marker = l.indexOf(ESTABLISHED_MARKER);
      const established = l.findIndex((x) => x.startsWith(`-A ${chain} -m conntrack --ctstate RELATED,ESTABLISHED`));
      expect(drop).toBeGreaterThan(0);
      expect(drop).toBeLessThan(marker);
      expect(marker).toBeLessThan(established);
      expect(l[marker - 1]).toBe('# END PORTCULLIS');
      expect(ok(withoutBlock(text))).toBe(orig);
    });
  }

  it('is idempotent: applying twice equals applying once', () => {
    const once = ok(withBlock(fixture('before.rules'), setBlockRules(4), SET_BLOCK_ANCHOR));
    expect(ok(withBlock(once, setBlockRules(4), SET_BLOCK_ANCHOR))).toBe(once);
  });

  it('refuses a file without the ESTABLISHED marker instead of guessing a place', () => {
    const r = withBlock(fixture('before.rules').replace(ESTABLISHED_MARKER, '# edited'), setBlockRules(4), SET_BLOCK_ANCHOR);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/quickly process packets/);
  });

  it('refuses to edit a damaged block (BEGIN without END) and leaves it to the user', () => {
    const damaged = ok(withBlock(fixture('before.rules'), setBlockRules(4), SET_BLOCK_ANCHOR)).replace('# END PORTCULLIS\n', '');
    expect(withBlock(damaged, setBlockRules(4), SET_BLOCK_ANCHOR).ok).toBe(false);
    expect(withoutBlock(damaged).ok).toBe(false);
    expect(hasBlock(damaged)).toBe(false);
  });
});

describe('per-source logging block in after.rules / after6.rules', () => {
  for (const [file, family, chain] of [
    ['after.rules', 4, 'ufw-after-input'],
    ['after6.rules', 6, 'ufw6-after-input'],
  ] as const) {
    it(`${file}: comes before ufw's silent 137/138/139/445/67/68 skips, with a per-source hashlimit and Portcullis's prefix`, () => {
      const rules = perSourceLoggingRules(family);
      if (!rules.ok) throw new Error(rules.reason);
      const text = ok(withBlock(fixture(file), rules.rules, loggingAnchor(family)));
      const l = lines(text);
      const log = l.findIndex((x) => x.startsWith(`-A ${chain} `) && x.includes('-j LOG'));
      const firstUfwRule = l.findIndex((x) => x.startsWith(`-A ${chain} -p`));
      const commit = l.indexOf('COMMIT');
      expect(log).toBeGreaterThan(0);
      if (firstUfwRule >= 0) expect(log).toBeLessThan(firstUfwRule);
      expect(log).toBeLessThan(commit);
      expect(l[log]).toContain('--hashlimit-mode srcip');
      expect(l[log]).toContain(`--hashlimit-name portcullis${family}`);
      expect(l[log]).toContain('--log-prefix "[PORTCULLIS BLOCK] "');
      expect(ok(withoutBlock(text))).toBe(fixture(file));
    });
  }

  it('never mistakes the comment mentioning COMMIT for the COMMIT line', () => {
    const file = fixture('after6.rules');
    const rules = perSourceLoggingRules(6);
    if (!rules.ok) throw new Error(rules.reason);
    const text = ok(withBlock(file, rules.rules, loggingAnchor(6)));
    const l = lines(text);
    expect(l.findIndex((x) => x.includes('-j LOG'))).toBeLessThan(l.indexOf('COMMIT'));
    expect(l.findIndex((x) => x.includes('-j LOG'))).toBeGreaterThan(l.findIndex((x) => x.startsWith(':ufw6-after-input')));
  });

  it("the nflog variant logs the same packets through NFLOG to Portcullis's group (2048 bytes, one message per packet), and is told apart from the LOG form", () => {
    for (const family of [4, 6] as const) {
      const log = perSourceLoggingRules(family);
      const nflog = perSourceLoggingRules(family, { via: 'nflog' });
      if (!log.ok || !nflog.ok) throw new Error('rules');
      const rule = nflog.rules.find((l) => l.startsWith('-A '))!;
      expect(rule).toMatch(/ -j NFLOG --nflog-group 5417 --nflog-prefix "\[PORTCULLIS BLOCK\]" --nflog-size 2048 --nflog-threshold 1$/);
      // The same match as the LOG form: only the target differs.
      const logRule = log.rules.find((l) => l.startsWith('-A '))!;
      expect(rule.slice(0, rule.indexOf(' -j '))).toBe(logRule.slice(0, logRule.indexOf(' -j ')));
      expect(loggingViaOf(nflog.rules)).toBe('nflog');
      expect(loggingViaOf(log.rules)).toBe('log');
      expect(loggingViaOf(['# a comment only'])).toBe(null);
    }
  });

  it('refuses out-of-range budgets', () => {
    expect(perSourceLoggingRules(4, { ratePerMinute: 0 }).ok).toBe(false);
    expect(perSourceLoggingRules(4, { burst: 1.5 }).ok).toBe(false);
    const r = perSourceLoggingRules(4, { ratePerMinute: 30, burst: 50 });
    expect(r.ok && r.rules.join('\n')).toContain('--hashlimit-upto 30/min --hashlimit-burst 50');
  });
});

describe('before.init hook', () => {
  it('creates both sets under start) and is removable', () => {
    const orig = fixture('before.init');
    const text = ok(withBlock(orig, beforeInitBlock('/usr/sbin/ipset'), BEFORE_INIT_ANCHOR, '    '));
    const l = lines(text);
    const start = l.findIndex((x) => x.trim() === 'start)');
    expect(l[start + 1]!.trim()).toMatch(/^# BEGIN PORTCULLIS/);
    expect(blockBody(text)!.join('\n')).toMatch(/ipset -exist create portcullis-ban4 hash:ip family inet timeout 0 .*\|\| true/);
    expect(blockBody(text)!.join('\n')).toMatch(/ipset -exist create portcullis-ban6 hash:ip family inet6 timeout 0 .*\|\| true/);
    expect(ok(withoutBlock(text))).toBe(orig);
  });
});

describe('block editing, property-based', () => {
  it('for any file holding the anchor: withoutBlock(withBlock(x)) === x, and the body appears once', () => {
    const line = fc.string({ maxLength: 30 }).map((s) => s.replace(/[\n\r]/g, '').replace(/PORTCULLIS/g, 'P'));
    fc.assert(
      fc.property(fc.array(line, { maxLength: 20 }), fc.array(line, { maxLength: 20 }), fc.boolean(), (before, after, nl) => {
        const text = [...before, 'COMMIT', ...after].join('\n') + (nl ? '\n' : '');
        const body = ['-A x -j LOG'];
        const withB = ok(withBlock(text, body, { kind: 'beforeLine', line: 'COMMIT' }));
        expect(withB.split('\n').filter((l) => l === '-A x -j LOG')).toHaveLength(1);
        expect(ok(withoutBlock(withB))).toBe(text);
      }),
    );
  });
});
