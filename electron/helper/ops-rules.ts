/**
 * The helper's changes of the user's ufw rules by number (add at a position, delete, move, edit),
 * apart from the dispatcher (ops.ts) that runs them in its ufw queue: the numbers are re-read inside
 * the queue and a change acts on the rule the client saw (never on a Portcullis ban rule); a move or
 * an edit whose re-insert fails puts the original rule back. They run no argv of their own beyond
 * the plans of rules.ts, through the dispatcher's recorded `ufw`.
 */
import { findExpectedRule, type RuleExpect, type RuleOp, type UfwRule } from '../shared/api.ts';
import { HelperError, PORTCULLIS_TAG } from '../shared/helper-protocol.ts';
import { displayCommand, planRuleOp, specFromRule } from './rules.ts';

export interface RuleOpsDeps {
  /** `ufw ARGS` through the dispatcher's recorded exec; rejects with ufw's own reason. */
  ufw(args: string[]): Promise<string>;
  numberedRules(): Promise<{ active: boolean; rules: UfwRule[] }>;
}

export function createRuleOps({ ufw, numberedRules }: RuleOpsDeps): {
  runPlan(plan: string[][], ran: string[]): Promise<void>;
  previewPlan(op: RuleOp): Promise<string[][]>;
  changeExisting(op: RuleOp & { kind: 'delete' | 'move' | 'edit' }, expect: RuleExpect | undefined): Promise<{ ran: string[] }>;
} {
  /** Finds the rule the client meant: the same number if it still matches, else the nearest matching rule. */
  function resolveRule(rules: UfwRule[], number: number, expect: RuleExpect | undefined): UfwRule {
    if (!expect) {
      const at = rules.find((r) => r.number === number);
      if (!at) throw new HelperError('not-found', `there is no rule ${number}`);
      return at;
    }
    const found = findExpectedRule(rules, number, expect);
    if (!found) throw new HelperError('conflict', `rule ${number} has changed since it was shown; refresh the rules`);
    return found;
  }

  async function runPlan(plan: string[][], ran: string[]): Promise<void> {
    for (const args of plan) {
      await ufw(args);
      ran.push(displayCommand(args));
    }
  }

  /** The change aimed at the rule the client saw, at that rule's number in `rules`; never a ban rule. */
  function currentChange(op: RuleOp & { kind: 'delete' | 'move' | 'edit' }, expect: RuleExpect | undefined, rules: UfwRule[]) {
    const rule = resolveRule(rules, op.number, expect);
    if (rule.portcullis) throw new HelperError('invalid', `rule ${rule.number} is a Portcullis ban rule (${PORTCULLIS_TAG}); unban the address instead`);
    const shift = rule.number - op.number;
    const current: RuleOp =
      op.kind === 'move'
        ? { ...op, number: rule.number, to: Math.max(1, op.to + shift) }
        : op.kind === 'edit' && op.to !== undefined
          ? { ...op, number: rule.number, to: Math.max(1, op.to + shift) }
          : { ...op, number: rule.number };
    return { rule, current };
  }

  /**
   * The commands a rule change will run, planned against the rules as they are now (read inside the
   * queue): a move or an edit re-creates the rule, which needs the current list; an insertion's
   * position depends on how many IPv4 rules there are.
   */
  async function previewPlan(op: RuleOp): Promise<string[][]> {
    if (op.kind === 'add' && !op.position) return planRuleOp(op);
    const { rules } = await numberedRules();
    if (op.kind === 'add') return planRuleOp(op, rules);
    const { expect, ...change } = op;
    return planRuleOp(currentChange(change, expect, rules).current, rules);
  }

  /** delete/move/edit: re-read the numbers inside the queue, act on the rule the client saw, never on a ban rule. */
  async function changeExisting(op: RuleOp & { kind: 'delete' | 'move' | 'edit' }, expect: RuleExpect | undefined) {
    const { rules } = await numberedRules();
    const { rule, current } = currentChange(op, expect, rules);
    const plan = planRuleOp(current, rules); // throws (runs nothing) if the insertion cannot be placed
    const ran: string[] = [];
    await runPlan(plan.slice(0, 1), ran);
    try {
      await runPlan(plan.slice(1), ran);
    } catch (e) {
      // The delete ran but the re-insert failed: put the original rule back where it was.
      if (op.kind !== 'delete') {
        const original = specFromRule(rule);
        if (typeof original !== 'string') {
          const restore = planRuleOp({ kind: 'add', rule: original, position: rule.number }, rules.filter((r) => r !== rule));
          await runPlan(restore, ran).catch(() => undefined);
        }
      }
      throw e;
    }
    return { ran };
  }

  return { runPlan, previewPlan, changeExisting };
}
