import { describe, expect, it } from 'vitest';
import { displayCommand, planRuleOp, ruleBody, specFromRule, UfwRuleBuilder } from '../../electron/helper/rules.ts';
import { parseUfwStatus } from '../../electron/helper/ufw-status.ts';
import { RuleSpecSchema } from '../../electron/shared/api.ts';
import { fixture } from './fakes.ts';

const spec = (x: Record<string, unknown>) => RuleSpecSchema.parse(x);

describe('UfwRuleBuilder', () => {
  it('builds fixed argv templates, one word per element', () => {
    expect(UfwRuleBuilder.add(spec({ action: 'allow', port: '22', proto: 'tcp' }))).toEqual(['allow', 'in', 'proto', 'tcp', 'from', 'any', 'to', 'any', 'port', '22']);
    expect(UfwRuleBuilder.add(spec({ action: 'deny', direction: 'out', to: '198.51.100.0/24', comment: 'no smtp relay' }))).toEqual(['deny', 'out', 'from', 'any', 'to', '198.51.100.0/24', 'comment', 'no smtp relay']);
    expect(UfwRuleBuilder.add(spec({ action: 'allow', iface: 'eth0', from: '10.0.0.1', app: 'WWW Full' }))).toEqual(['allow', 'in', 'on', 'eth0', 'from', '10.0.0.1', 'to', 'any', 'app', 'WWW Full']);
    expect(UfwRuleBuilder.add(spec({ action: 'allow', direction: 'fwd', iface: 'eth0', port: '80', proto: 'tcp' }))).toEqual(['route', 'allow', 'in', 'on', 'eth0', 'proto', 'tcp', 'from', 'any', 'to', 'any', 'port', '80']);
    // A route rule without an interface has no `in`: ufw refuses `route allow in from …` ("Invalid interface clause").
    expect(UfwRuleBuilder.add(spec({ action: 'allow', direction: 'fwd', port: '8443', proto: 'tcp' }))).toEqual(['route', 'allow', 'proto', 'tcp', 'from', 'any', 'to', 'any', 'port', '8443']);
  });

  it('host addresses are written as ufw prints them back', () => {
    expect(ruleBody(spec({ action: 'deny', from: '2001:db8::1' }))).toContain('2001:db8::1');
    expect(ruleBody(spec({ action: 'deny', from: '10.1.2.3' }))).toContain('10.1.2.3');
    expect(ruleBody(spec({ action: 'deny', from: '10.1.2.0/24' }))).toContain('10.1.2.0/24');
  });

  it('position 1 uses prepend (insert 1 fails for IPv6), others insert N', () => {
    expect(UfwRuleBuilder.insert(1, spec({ action: 'deny', from: '2001:db8::7' }))).toEqual(['prepend', 'deny', 'in', 'from', '2001:db8::7', 'to', 'any']);
    expect(UfwRuleBuilder.insert(3, spec({ action: 'deny', from: '10.0.0.7' }))).toEqual(['insert', '3', 'deny', 'in', 'from', '10.0.0.7', 'to', 'any']);
  });

  it('with counts: a v6 rule cannot go among v4 rules, first v6 slot prepends, past the end appends', () => {
    const counts = { v4: 5, total: 9 };
    expect(() => UfwRuleBuilder.insert(3, spec({ action: 'deny', from: '2001:db8::7' }), counts)).toThrow(/IPv4 rules/);
    expect(UfwRuleBuilder.insert(6, spec({ action: 'deny', from: '2001:db8::7' }), counts)[0]).toBe('prepend');
    expect(UfwRuleBuilder.insert(8, spec({ action: 'deny', from: '2001:db8::7' }), counts)).toEqual(['insert', '8', 'deny', 'in', 'from', '2001:db8::7', 'to', 'any']);
    expect(UfwRuleBuilder.insert(10, spec({ action: 'deny', from: '2001:db8::7' }), counts)[0]).toBe('deny');
    expect(UfwRuleBuilder.insert(6, spec({ action: 'deny', from: '10.0.0.7' }), counts)[0]).toBe('deny');
  });

  it('delete/enable are non-interactive; default and logging templates', () => {
    expect(UfwRuleBuilder.delete(4)).toEqual(['--force', 'delete', '4']);
    expect(UfwRuleBuilder.enable()).toEqual(['--force', 'enable']);
    expect(UfwRuleBuilder.setDefault('incoming', 'deny')).toEqual(['default', 'deny', 'incoming']);
    expect(UfwRuleBuilder.setLogging('medium')).toEqual(['logging', 'medium']);
  });

  it('refuses what ufw would reject or misread', () => {
    expect(() => ruleBody(spec({ action: 'allow', port: '8000:8100' }))).toThrow(/tcp or udp/);
    expect(() => ruleBody(spec({ action: 'allow', app: 'WWW', proto: 'tcp' }))).toThrow(/profile/);
    expect(() => ruleBody(spec({ action: 'allow', from: '10.0.0.1', to: '2001:db8::1' }))).toThrow(/family/);
    expect(() => ruleBody(spec({ action: 'allow', comment: 'portcullis-ban x' }))).toThrow(/reserved/);
  });

  it('display strings quote what a shell would split', () => {
    expect(displayCommand(['insert', '2', 'allow', 'in', 'from', 'any', 'to', 'any', 'port', '22', 'comment', 'web server'])).toBe("ufw insert 2 allow in from any to any port 22 comment 'web server'");
    expect(displayCommand(['allow', 'app', 'WWW Full'])).toBe("ufw allow app 'WWW Full'");
  });

  it('plans move/edit as delete + insert, from the parsed rules', () => {
    const rules = parseUfwStatus(fixture('ufw-status-numbered.txt')).rules;
    expect(planRuleOp({ kind: 'move', number: 12, to: 1 }, rules)).toEqual([['--force', 'delete', '12'], ['prepend', 'allow', 'in', 'proto', 'udp', 'from', 'any', 'to', 'any', 'port', '5353']]);
    expect(planRuleOp({ kind: 'edit', number: 1, rule: spec({ action: 'limit', port: '22', proto: 'tcp' }) }, rules)).toEqual([['--force', 'delete', '1'], ['prepend', 'limit', 'in', 'proto', 'tcp', 'from', 'any', 'to', 'any', 'port', '22']]);
    expect(() => planRuleOp({ kind: 'move', number: 99, to: 1 }, rules)).toThrow(/no rule 99/);
  });

  it('rules the editor cannot re-create are not moved', () => {
    const rules = parseUfwStatus(fixture('ufw-status-numbered.txt')).rules;
    for (const n of [3, 9, 13, 14, 17]) expect(typeof specFromRule(rules.find((r) => r.number === n)!)).toBe('string');
    expect(specFromRule(rules.find((r) => r.number === 2)!)).toMatchObject({ action: 'allow', port: '8080', proto: 'tcp', iface: 'lo', comment: 'local dev' });
  });

  it('an edit of a rule the editor cannot re-create is refused, with the reason (it would drop the logging, source port, outgoing interface, protocol)', () => {
    const rules = parseUfwStatus(fixture('ufw-status-numbered.txt')).rules;
    const edit = (number: number) => () => planRuleOp({ kind: 'edit', number, rule: spec({ action: 'allow', port: '22', proto: 'tcp', comment: 'edited' }) }, rules);
    expect(edit(14)).toThrow('rule 14 has per-rule logging (log), which the rule editor cannot re-create');
    expect(edit(13)).toThrow('rule 13 has a source port (53)');
    expect(edit(9)).toThrow('rule 9 has an outgoing interface (eth1)');
    expect(edit(17)).toThrow('rule 17 has protocol esp');
    // A rule on an interface is re-created with what the editor sends, the interface included.
    expect(planRuleOp({ kind: 'edit', number: 2, rule: spec({ action: 'allow', port: '8080', proto: 'tcp', iface: 'lo', comment: 'dev' }) }, rules)[1]).toEqual(['insert', '2', 'allow', 'in', 'on', 'lo', 'proto', 'tcp', 'from', 'any', 'to', 'any', 'port', '8080', 'comment', 'dev']);
  });
});
