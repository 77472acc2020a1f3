/**
 * Rule safety's lockout checks over ufw rules and the host's inbound sessions: which changes ask
 * first because they may cut someone connected now.
 */
import { describe, expect, it } from 'vitest';
import type { RuleOp, UfwRule } from '../../electron/shared/api.ts';
import { admittedByRules, allowedPortsFrom, lockoutRefusal, ruleChangeWarnings } from '../../electron/app/rule-safety.ts';

const rule = (number: number, over: Partial<UfwRule>): UfwRule => ({ number, v6: false, action: 'allow', direction: 'in', from: 'Anywhere', to: 'Anywhere', port: '', proto: 'any', comment: '', portcullis: false, ...over });
const SSH = [{ localPort: 22, remote: '203.0.113.5' }];
const edit = (number: number, r: Record<string, unknown>): RuleOp => ({ kind: 'edit', number, rule: { action: 'allow', direction: 'in', from: 'any', to: 'any', proto: 'any', comment: '', ...r } }) as RuleOp;
const cut = (op: RuleOp, rules: UfwRule[]) => ruleChangeWarnings(op, rules, SSH).map((w) => w.detail);
const CUT_22 = ['an open connection from 203.0.113.5 to port 22 may be cut'];

describe('an application profile rule (its ports unknown) never vouches for a session', () => {
  it('editing "allow OpenSSH" or "allow 22/tcp" into "allow Apache" asks (Apache may not cover port 22); a comment-only edit does not', () => {
    expect(cut(edit(1, { app: 'Apache' }), [rule(1, { app: 'OpenSSH' })])).toEqual(CUT_22);
    expect(cut(edit(1, { app: 'Apache' }), [rule(1, { port: '22', proto: 'tcp' })])).toEqual(CUT_22);
    // What let the session in stays: the same profile, the same interface.
    expect(cut(edit(1, { app: 'OpenSSH', comment: 'ssh' }), [rule(1, { app: 'OpenSSH' })])).toEqual([]);
    expect(cut(edit(1, { port: '22', proto: 'tcp', iface: 'wg0', comment: 'vpn' }), [rule(1, { port: '22', proto: 'tcp', iface: 'wg0' })])).toEqual([]);
    // Deleting a profile rule still asks: it may be what lets the session in.
    expect(cut({ kind: 'delete', number: 1 }, [rule(1, { app: 'OpenSSH' })])).toEqual(CUT_22);
  });

  it('narrowing a rule to one interface asks: the session may have come in on another', () => {
    expect(cut(edit(1, { port: '22', proto: 'tcp', iface: 'wg0' }), [rule(1, { port: '22', proto: 'tcp' })])).toEqual(CUT_22);
  });

  it('a default incoming deny with only "allow Apache" asks; with "allow 22/tcp" it does not', () => {
    const deny = (rules: UfwRule[]) => lockoutRefusal('a default incoming policy of deny', SSH, admittedByRules(rules, 'deny'));
    expect(deny([rule(1, { app: 'Apache' })])).toMatch(/refuses new connections to port 22/);
    expect(deny([rule(1, { port: '22', proto: 'tcp' })])).toBeNull();
  });
});

describe('a move changes which rule a session meets first', () => {
  const allowAdmin = rule(1, { port: '22', proto: 'tcp', from: '203.0.113.5' });
  const denyNet = rule(2, { action: 'deny', from: '203.0.113.0/24' });

  it('putting "deny 203.0.113.0/24" ahead of "allow 22 from 203.0.113.5" asks, whichever of them moves; the other way round, or past rules that do not touch the session, does not', () => {
    expect(cut({ kind: 'move', number: 2, to: 1 }, [allowAdmin, denyNet])).toEqual(CUT_22);
    expect(cut({ kind: 'move', number: 1, to: 2 }, [allowAdmin, denyNet])).toEqual(CUT_22);
    const denyFirst = [rule(1, { action: 'deny', from: '203.0.113.0/24' }), rule(2, { port: '22', proto: 'tcp', from: '203.0.113.5' })];
    expect(cut({ kind: 'move', number: 2, to: 1 }, denyFirst)).toEqual([]);
    expect(cut({ kind: 'move', number: 1, to: 2 }, denyFirst)).toEqual([]);
    expect(cut({ kind: 'move', number: 3, to: 1 }, [allowAdmin, denyNet, rule(3, { action: 'deny', port: '25', proto: 'tcp' })])).toEqual([]);
    // An allow that only may match (a profile) decides nothing: the deny after it may cut already.
    const app = [rule(1, { app: 'OpenSSH' }), rule(2, { action: 'deny', from: '203.0.113.0/24' }), rule(3, { port: '80', proto: 'tcp' })];
    expect(cut({ kind: 'move', number: 3, to: 1 }, app)).toEqual([]);
  });

  it('an edit given a new position below a deny asks, though the rule itself still lets the session in', () => {
    expect(cut({ ...edit(1, { port: '22', proto: 'tcp', from: '203.0.113.5', comment: 'admin' }), to: 2 } as RuleOp, [allowAdmin, denyNet])).toEqual(CUT_22);
  });
});

describe('the rule that let an open session in, when its match cannot be told', () => {
  it('moving a deny ahead of the profile or interface allow that admits the session asks (the session is there: that allow let it in)', () => {
    const denyNet = rule(2, { action: 'deny', from: '203.0.113.0/24' });
    expect(cut({ kind: 'move', number: 2, to: 1 }, [rule(1, { app: 'OpenSSH' }), denyNet])).toEqual(CUT_22);
    expect(cut({ kind: 'move', number: 2, to: 1 }, [rule(1, { port: '22', proto: 'tcp', iface: 'eth0' }), denyNet])).toEqual(CUT_22);
    // "allow Apache" (ports unknown) ahead of the "allow 22/tcp" that surely lets it in: a deny moved between them cuts it.
    expect(cut({ kind: 'move', number: 3, to: 2 }, [rule(1, { app: 'Apache' }), rule(2, { port: '22', proto: 'tcp' }), rule(3, { action: 'deny', from: '203.0.113.0/24' })])).toEqual(CUT_22);
    expect(cut({ kind: 'move', number: 3, to: 2 }, [rule(1, { iface: 'wg0' }), rule(2, { port: '22', proto: 'tcp' }), rule(3, { action: 'deny', from: '203.0.113.0/24' })])).toEqual(CUT_22);
    // The deny was ahead already (the session came in anyway): moving the allow further down changes nothing for it.
    expect(cut({ kind: 'move', number: 3, to: 2 }, [rule(1, { action: 'deny', from: '198.51.100.0/24' }), rule(2, { port: '80', proto: 'tcp' }), rule(3, { app: 'OpenSSH' })])).toEqual([]);
  });

  it('a rule with a source port, a source profile or one destination address does not vouch for a session', () => {
    const deny = (rules: UfwRule[]) => lockoutRefusal('a default incoming policy of deny', SSH, admittedByRules(rules, 'deny'));
    expect(deny([rule(1, { port: '22', proto: 'tcp', fromPort: '53' })])).toMatch(/port 22/);
    expect(deny([rule(1, { port: '22', proto: 'tcp', fromApp: 'DNS' })])).toMatch(/port 22/);
    expect(deny([rule(1, { port: '22', proto: 'tcp', to: '10.9.9.9' })])).toMatch(/port 22/);
    expect(deny([rule(1, { port: '22', proto: 'tcp', to: 'Anywhere' })])).toBeNull();
  });

  it('a port allowed on one interface, to one address or from one source port is not "allowed": its blocked probes count', () => {
    expect(allowedPortsFrom([rule(1, { port: '22', proto: 'tcp', iface: 'wg0' })])(4, 'tcp', 22)).toBe(false);
    expect(allowedPortsFrom([rule(1, { port: '22', proto: 'tcp', to: '10.9.9.9' })])(4, 'tcp', 22)).toBe(false);
    expect(allowedPortsFrom([rule(1, { port: '22', proto: 'tcp', fromPort: '53' })])(4, 'tcp', 22)).toBe(false);
    expect(allowedPortsFrom([rule(1, { port: '22', proto: 'tcp' })])(4, 'tcp', 22)).toBe(true);
  });
});
