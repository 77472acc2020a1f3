/** The ufw rules: the list, preview of a change (the exact ufw commands), apply, policies, logging, on/off. */
import type { StateCreator } from 'zustand/vanilla';
import { type RuleOp, RuleOpSchema } from '../../electron/shared/api.ts';
import type { RendererApi } from '../api/index.ts';
import { act, load, pushNotice } from './actions.ts';
import type { AppState, RulesSlice } from './appState.ts';

export const createRulesSlice =
  (api: RendererApi): StateCreator<AppState, [], [], RulesSlice> =>
  (set, get) => ({
    rules: null,
    rulePreview: null,
    ruleApplied: { count: 0, origin: 'table' },
    loadRules: () => load(set, 'rules', () => api.call('getRules', {}), (rules) => ({ rules })),
    async previewRule(rawOp, origin = 'table') {
      // Refused here with the schema's reason before anything reaches the service.
      const parsed = RuleOpSchema.safeParse(rawOp);
      if (!parsed.success) {
        const fields: Record<string, string> = {};
        const parts: string[] = [];
        for (const i of parsed.error.issues) {
          const field = i.path.filter((p) => p !== 'rule').join('.') || 'rule';
          parts.push(`${field}: ${i.message}`);
          // The first reason of each field is shown at it.
          fields[field] ??= i.message;
        }
        return { ok: false, error: parts.join('; '), fields };
      }
      const op = parsed.data;
      const r = await act(set, 'rule', () => api.call('previewRule', { op: rawOp as RuleOp }));
      if (!r.ok) {
        // Refused because the rule changed meanwhile: show the list as it is now.
        if (op.kind !== 'add') void get().loadRules();
        return r;
      }
      set({ rulePreview: { op, preview: r.value, origin } });
      return { ok: true };
    },
    cancelRulePreview: () => set({ rulePreview: null }),
    async applyRule(confirm) {
      const pending = get().rulePreview;
      if (!pending) return { ok: false, error: 'preview the change first' };
      if (pending.preview.needsConfirmation && !confirm) return { ok: false, error: 'this change needs your explicit confirmation' };
      const r = await act(set, 'rule', () => api.call('applyRule', { op: pending.op, confirm }));
      if (!r.ok) {
        // Something changed since the preview (a session opened): preview again, so its warnings and the confirmation box show.
        if (r.needsConfirmation) await get().previewRule(pending.op, pending.origin);
        else if (pending.op.kind !== 'add') void get().loadRules();
        return r;
      }
      set((s) => ({ rules: r.value, rulePreview: null, ruleApplied: { count: s.ruleApplied.count + 1, origin: pending.origin } }));
      pushNotice(set, 'info', 'ufw rules updated');
      return { ok: true };
    },
    async setDefaultPolicy(direction, policy, confirm = false) {
      const r = await act(set, 'policy', () => api.call('setDefaultPolicy', { direction, policy, confirm }));
      if (!r.ok) return r;
      set({ rules: r.value });
      void get().loadState();
      return { ok: true };
    },
    async setLogging(level, confirm = false) {
      const r = await act(set, 'logging', () => api.call('setLogging', { level, confirm }));
      if (!r.ok) return r;
      set({ rules: r.value });
      void get().loadState();
      return { ok: true };
    },
    async setUfwEnabled(enabled, confirm) {
      const r = await act(set, 'ufw', () => api.call('setUfwEnabled', { enabled, confirm }));
      if (!r.ok) return r;
      set({ state: r.value });
      void get().loadRules();
      return { ok: true };
    },
  });
