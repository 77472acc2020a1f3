/**
 * An in-memory Portcullis service for renderer tests (and for looking at the UI in a browser before
 * a real `portcullis serve` is around). Calls go through the shared `dispatch()`, so params are
 * validated exactly as the real service validates them, and replies through `unwrapReply()`.
 */
import {
  retargetRuleOp,
  policyChangeQuestion,
  loggingChangeQuestion,
  type ApiEvent,
  ApiError,
  type ApiHandlers,
  type ApiMethod,
  type ApiParams,
  type ApiResult,
  type DoctorCheck,
  type PacketRow,
  type PortcullisApi,
  type RuleSpec,
  type RulesView,
  type State,
  type UfwRule,
  dispatch,
  unwrapReply,
} from '../../electron/shared/api.ts';
import ipaddr from 'ipaddr.js';
import type { BanRecord, Offender } from '../../electron/shared/model.ts';
import { DEFAULT_SETTINGS, type Settings, SettingsSchema, describeZodError } from '../../electron/shared/settings.ts';

function merge(base: unknown, patch: unknown): unknown {
  if (typeof base !== 'object' || base === null || Array.isArray(base) || typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(patch)) out[k] = merge((base as Record<string, unknown>)[k], v);
  return out;
}

export interface FakeApi extends PortcullisApi {
  calls: { method: string; params: unknown }[];
  emit(events: ApiEvent[]): void;
  /** A scan from `ip` over `ports`, as the service would report it; bans it when `ban` is true. */
  simulateScan(ip: string, ports: number[], ban?: boolean): void;
  data: {
    state: State;
    settings: Settings;
    packets: PacketRow[];
    offenders: Map<string, Offender>;
    active: BanRecord[];
    history: BanRecord[];
    rules: UfwRule[];
    doctor: DoctorCheck[];
    /** Established inbound sessions from outside (for the "would cut your connection" questions). */
    remoteSessions: { localPort: number; remote: string }[];
  };
  /** Make the next call of `method` fail with this error. */
  failNext(method: ApiMethod, error: ApiError): void;
  listenerCount(): number;
}

export function ruleCommand(spec: RuleSpec, position?: number): string {
  const parts = ['ufw'];
  if (position) parts.push('insert', String(position));
  parts.push(spec.action, spec.direction);
  if (spec.iface) parts.push('on', spec.iface);
  parts.push('from', spec.from, 'to', spec.to);
  if (spec.app) parts.push('app', spec.app);
  else if (spec.port) parts.push('port', spec.port);
  if (spec.proto !== 'any' && !spec.app) parts.push('proto', spec.proto);
  if (spec.comment) parts.push('comment', `'${spec.comment}'`);
  return parts.join(' ');
}

export function createFakeApi(opts: { now?: () => number; packets?: number } = {}): FakeApi {
  const now = opts.now ?? (() => Date.now());
  const listeners = new Set<(e: ApiEvent[]) => void>();
  const failures = new Map<string, ApiError>();
  let nextPacketId = 1;
  let nextRule = 1;
  const t0 = now();
  const data: FakeApi['data'] = {
    state: {
      protection: 'on',
      pausedUntil: null,
      firewall: { installed: true, enabled: true, defaultIncoming: 'deny', defaultOutgoing: 'allow', defaultRouted: 'disabled', loggingLevel: 'low', perSourceLogging: false },
      helper: { connected: true },
      backend: 'set',
      counts: { blockedPackets: 0, scanners: 0, activeBans: 0, deferredBans: 0 },
      source: { kind: 'kmsg', description: '/dev/kmsg', kernelTrusted: true, lastRecordAt: t0 - 4000, linesPerMinute: 42, rejectsPerMinute: 0 },
      lastBanAt: null,
      version: '0.1.0',
      alwaysWhitelisted: [
        { cidr: '127.0.0.0/8', why: 'loopback' },
        { cidr: '::1/128', why: 'loopback' },
        { cidr: '10.0.0.2/32', why: 'this host (eth0)' },
        { cidr: '10.0.0.1/32', why: 'default gateway' },
      ],
    },
    settings: structuredClone(DEFAULT_SETTINGS),
    packets: [],
    offenders: new Map(),
    active: [],
    history: [],
    rules: [],
    doctor: [
      { id: 'ufw-installed', title: 'ufw installed', level: 'ok', detail: 'ufw 0.36.2' },
      { id: 'ufw-enabled', title: 'ufw enabled', level: 'ok', detail: 'Status: active' },
      { id: 'per-source-logging', title: 'Per-source logging rule', level: 'warn', detail: "ufw's shared log budget hides most scanners", fix: { id: 'install-per-source-logging', label: 'Install per-source logging' } },
      { id: 'log-source', title: 'Log source trusted', level: 'ok', detail: '/dev/kmsg (kernel records only)' },
    ],
    remoteSessions: [],
  };

  const addRule = (spec: RuleSpec, position?: number, portcullis = false): void => {
    const rule: UfwRule = {
      number: 0,
      v6: spec.from.includes(':') || spec.to.includes(':'),
      action: spec.action,
      direction: spec.direction,
      from: spec.from === 'any' ? 'Anywhere' : spec.from,
      to: spec.to === 'any' ? 'Anywhere' : spec.to,
      port: spec.port ?? '',
      proto: spec.proto,
      ...(spec.app ? { app: spec.app } : {}),
      ...(spec.iface ? { iface: spec.iface } : {}),
      comment: spec.comment,
      portcullis,
    };
    if (position) data.rules.splice(position - 1, 0, rule);
    else data.rules.push(rule);
    data.rules.forEach((r, i) => (r.number = i + 1));
    nextRule++;
  };
  addRule({ action: 'allow', direction: 'in', from: 'any', to: 'any', port: '22', proto: 'tcp', comment: 'SSH' });
  addRule({ action: 'allow', direction: 'in', from: 'any', to: 'any', port: '443', proto: 'tcp', comment: 'HTTPS' });

  const rulesView = (): RulesView => ({
    enabled: data.state.firewall.enabled,
    defaults: { incoming: data.state.firewall.defaultIncoming ?? 'deny', outgoing: data.state.firewall.defaultOutgoing ?? 'allow', routed: data.state.firewall.defaultRouted ?? 'disabled' },
    logging: data.state.firewall.loggingLevel ?? 'off',
    rules: data.rules.filter((r) => !r.portcullis),
    portcullisRules: data.rules.filter((r) => r.portcullis),
    appProfiles: ['OpenSSH', 'Nginx Full', 'Nginx HTTP', 'Nginx HTTPS'],
  });

  const emit = (events: ApiEvent[]) => {
    for (const l of [...listeners]) l(events);
  };

  const counts = () => {
    data.state.counts = {
      blockedPackets: data.packets.length,
      scanners: data.offenders.size,
      activeBans: data.active.length,
      deferredBans: 0,
    };
  };

  const ban = (ip: string, note?: string): BanRecord => {
    const o = data.offenders.get(ip);
    const strikes = (o?.strikes ?? 0) + 1;
    const b: BanRecord = {
      ip,
      at: now(),
      until: now() + data.settings.ban.bantimeSec * 1000,
      strikes,
      reason: { kind: note ? 'manual' : 'scan', ports: o?.ports ?? [], hits: o?.hits ?? 0, firstSeen: o?.firstSeen ?? now(), lastSeen: o?.lastSeen ?? now(), ...(note ? { note } : { scanType: o?.scanType ?? 'SYN' }) },
    };
    data.active = [...data.active.filter((x) => x.ip !== ip), b];
    if (o) data.offenders.set(ip, { ...o, state: 'banned', strikes, bannedUntil: b.until });
    // The backend in use (the service's state), not the settings': a switch there takes over at the next start.
    if (data.state.backend === 'ufw') {
      addRule({ action: 'deny', direction: 'in', from: ip as RuleSpec['from'], to: 'any', proto: 'any', comment: 'portcullis ban' }, 1, true);
    }
    data.state.lastBanAt = b.at;
    counts();
    return b;
  };

  /** The service's rule: a change that makes ufw refuse new connections to a port someone uses now needs confirmation. */
  const guardLockout = (what: string, admitted: (s: { localPort: number; remote: string }) => boolean, confirm: boolean) => {
    const cut = data.remoteSessions.filter((s) => !admitted(s));
    if (cut.length && !confirm) {
      throw new ApiError('needs-confirmation', `${what} refuses new connections to port ${cut[0]!.localPort}, which ${cut[0]!.remote} is connected through now, unless a rule allows it`);
    }
  };

  const handlers: ApiHandlers = {
    getState: async () => structuredClone(data.state),
    getDashboard: async ({ minutes }) => {
      const end = now();
      const perMinute = Array.from({ length: minutes }, (_, i) => {
        const t = Math.floor(end / 60000) * 60000 - (minutes - 1 - i) * 60000;
        return { t, count: data.packets.filter((p) => p.time >= t && p.time < t + 60000).length };
      });
      const ports = new Map<string, { port: number; proto: string; hits: number }>();
      for (const p of data.packets) {
        if (p.dpt === null) continue;
        const k = `${p.proto}/${p.dpt}`;
        const e = ports.get(k) ?? { port: p.dpt, proto: p.proto, hits: 0 };
        e.hits++;
        ports.set(k, e);
      }
      return {
        perMinute,
        topPorts: [...ports.values()].sort((a, b) => b.hits - a.hits).slice(0, 10),
        topOffenders: [...data.offenders.values()].sort((a, b) => b.hits - a.hits).slice(0, 10).map((o) => ({ ip: o.ip, hits: o.hits, state: o.state })),
      };
    },
    getPackets: async ({ offset, limit, filter }) => {
      const rows = data.packets.filter((p) => (!filter.src || p.src.startsWith(filter.src)) && (!filter.port || p.dpt === filter.port));
      const newest = rows.slice().reverse();
      return { total: rows.length, rows: newest.slice(offset, offset + limit) };
    },
    getOffenders: async ({ state, limit }) => [...data.offenders.values()].filter((o) => !state || o.state === state).slice(0, limit),
    getOffender: async ({ ip }) => {
      const offender = data.offenders.get(ip);
      if (!offender) throw new ApiError('invalid', `no offender ${ip}`);
      const timeline = data.packets.filter((p) => p.src === ip);
      const ports = new Map<number, number>();
      for (const p of timeline) if (p.dpt !== null) ports.set(p.dpt, (ports.get(p.dpt) ?? 0) + 1);
      return {
        offender,
        ports: [...ports].map(([port, hits]) => ({ port, proto: 'TCP', hits })),
        timeline: timeline.slice(-200),
        bans: [...data.active, ...data.history].filter((b) => b.ip === ip),
      };
    },
    getBans: async () => ({ active: data.active, history: data.history }),
    getRules: async () => rulesView(),
    getSettings: async () => structuredClone(data.settings),
    getDoctor: async () => data.doctor,
    setProtection: async ({ enabled }) => {
      data.state.protection = enabled ? 'on' : 'off';
      data.state.pausedUntil = null;
      data.settings.protectionEnabled = enabled;
      return structuredClone(data.state);
    },
    pauseProtection: async ({ minutes }) => {
      data.state.protection = 'paused';
      data.state.pausedUntil = now() + minutes * 60000;
      return structuredClone(data.state);
    },
    ban: async ({ ip, note }) => ban(ip, note ?? 'manual'),
    banMany: async ({ ips, note }) => {
      for (const ip of ips) ban(ip, note ?? 'manual');
      return { banned: ips.length, refused: [] };
    },
    unban: async ({ ip }) => {
      const b = data.active.find((x) => x.ip === ip);
      if (!b) throw new ApiError('invalid', `${ip} is not banned`);
      data.active = data.active.filter((x) => x.ip !== ip);
      data.history = [{ ...b, ended: { at: Date.now(), why: 'manual' } }, ...data.history];
      data.rules = data.rules.filter((r) => !(r.portcullis && r.from === ip));
      data.rules.forEach((r, i) => (r.number = i + 1));
      const o = data.offenders.get(ip);
      if (o) data.offenders.set(ip, { ...o, state: 'expired', bannedUntil: null });
      counts();
      return { ok: true as const };
    },
    whitelistAdd: async ({ cidr }) => {
      if (!data.settings.whitelist.entries.includes(cidr)) data.settings.whitelist.entries.push(cidr);
      return structuredClone(data.settings);
    },
    whitelistRemove: async ({ cidr }) => {
      data.settings.whitelist.entries = data.settings.whitelist.entries.filter((c) => c !== cidr);
      return structuredClone(data.settings);
    },
    updateSettings: async ({ patch }) => {
      const r = SettingsSchema.safeParse(merge(data.settings, patch));
      if (!r.success) throw new ApiError('invalid', describeZodError(r.error));
      data.settings = r.data;
      // As the service: the backend in use stays until the next start; the state names the saved one beside it.
      if (data.settings.ban.backend === data.state.backend) delete data.state.backendAfterRestart;
      else data.state.backendAfterRestart = data.settings.ban.backend;
      return structuredClone(data.settings);
    },
    testFleet: async ({ crowdsec }) =>
      crowdsec.bouncerKey === 'good-key'
        ? { ok: true, checks: [{ what: 'bouncer key', ok: true, detail: `${String(crowdsec.url)} answers and accepts the bouncer key` }] }
        : { ok: false, checks: [{ what: 'bouncer key', ok: false, detail: 'bouncer key refused: check fleet.crowdsec.bouncerKey (cscli bouncers list)' }] },
    testThresholds: async ({ patch }) => {
      const r = SettingsSchema.safeParse(merge(data.settings, patch));
      if (!r.success) throw new ApiError('invalid', describeZodError(r.error));
      const d = r.data.detection;
      const whitelisted = (ip: string) =>
        r.data.whitelist.entries.some((c) => {
          const [net, bits] = ipaddr.parseCIDR(c);
          const a = ipaddr.parse(ip);
          return a.kind() === net.kind() && a.match(net, bits);
        });
      const wouldBan = [...data.offenders.values()]
        .filter((o) => o.hits >= d.maxretry && o.distinctPorts >= d.minDistinctPorts && !whitelisted(o.ip))
        .map((o) => ({ ip: o.ip, at: o.lastSeen, ports: o.ports, scanType: o.scanType }));
      // As the service: the window's packets a flood kept out of the store (here: all the state counts).
      const notStored = data.state.counts.packetsNotStored ?? 0;
      return { packets: data.packets.length, ...(notStored > 0 ? { packetsNotStored: notStored } : {}), sources: data.offenders.size, wouldBan };
    },
    previewRule: async ({ op: asked }) => {
      // Aimed at the rule the user saw, as the service does (refused when it is gone).
      const op = retargetRuleOp(asked, data.rules);
      const commands =
        op.kind === 'add' ? [ruleCommand(op.rule, op.position)]
        : op.kind === 'delete' ? [`ufw --force delete ${op.number}`]
        : op.kind === 'edit' ? [`ufw --force delete ${op.number}`, ruleCommand(op.rule, op.number)]
        : [`ufw --force delete ${op.number}`, `ufw insert ${op.to} …`];
      const cutsSsh = op.kind === 'delete' && data.rules[op.number - 1]?.port === '22';
      return {
        commands,
        warnings: cutsSsh ? [{ kind: 'cuts-own-connection' as const, detail: 'you are connected through tcp/22 (SSH); deleting this rule cuts that connection' }] : [],
        needsConfirmation: cutsSsh,
      };
    },
    applyRule: async ({ op: asked, confirm }) => {
      const op = retargetRuleOp(asked, data.rules);
      if (op.kind === 'delete' && data.rules[op.number - 1]?.port === '22' && !confirm) throw new ApiError('needs-confirmation', 'this would cut your own connection');
      if (op.kind === 'add') addRule(op.rule, op.position);
      else if (op.kind === 'delete') data.rules.splice(op.number - 1, 1);
      else if (op.kind === 'edit') {
        data.rules.splice(op.number - 1, 1);
        addRule(op.rule, op.number);
      } else {
        const [r] = data.rules.splice(op.number - 1, 1);
        if (r) data.rules.splice(op.to - 1, 0, r);
      }
      data.rules.forEach((r, i) => (r.number = i + 1));
      return rulesView();
    },
    setUfwEnabled: async ({ enabled, confirm }) => {
      if (enabled && !data.state.firewall.enabled) guardLockout('turning ufw on', () => false, confirm);
      data.state.firewall.enabled = enabled;
      return structuredClone(data.state);
    },
    setDefaultPolicy: async ({ direction, policy, confirm }) => {
      const question = confirm ? null : policyChangeQuestion(direction, policy, data.state.firewall.enabled);
      if (question) throw new ApiError('needs-confirmation', question);
      if (direction === 'incoming' && policy !== 'allow') {
        guardLockout(`a default incoming policy of ${policy}`, (s) => data.rules.some((r) => r.action === 'allow' && r.port === String(s.localPort)), confirm);
      }
      if (direction === 'incoming') data.state.firewall.defaultIncoming = policy;
      else if (direction === 'outgoing') data.state.firewall.defaultOutgoing = policy;
      else data.state.firewall.defaultRouted = policy;
      return rulesView();
    },
    setLogging: async ({ level, confirm }) => {
      const question = confirm ? null : loggingChangeQuestion(level, data.state.firewall.perSourceLogging);
      if (question) throw new ApiError('needs-confirmation', question);
      data.state.firewall.loggingLevel = level;
      return rulesView();
    },
    setPerSourceLogging: async ({ installed }) => {
      data.state.firewall.perSourceLogging = installed;
      return structuredClone(data.state);
    },
    runDoctorFix: async ({ fixId, confirm }) => {
      if (fixId === 'enable-ufw') {
        guardLockout('turning ufw on', () => false, confirm);
        data.state.firewall.enabled = true;
      }
      data.doctor = data.doctor.map((c) => (c.fix?.id === fixId ? { id: c.id, title: c.title, level: 'ok', detail: 'fixed' } : c));
      if (fixId === 'install-per-source-logging') data.state.firewall.perSourceLogging = true;
      return data.doctor;
    },
  };

  const calls: FakeApi['calls'] = [];

  const simulateScan = (ip: string, ports: number[], doBan = true) => {
    const rows: PacketRow[] = ports.map((dpt, i) => ({
      id: nextPacketId++,
      time: now() + i,
      src: ip,
      dst: '10.0.0.2',
      proto: 'TCP',
      spt: 40000 + i,
      dpt,
      prefix: 'UFW BLOCK',
      in: 'eth0',
      flags: 'SYN',
    }));
    data.packets.push(...rows);
    const prev = data.offenders.get(ip);
    const all = new Set([...(prev?.ports ?? []), ...ports]);
    const offender: Offender = {
      ip,
      hits: (prev?.hits ?? 0) + ports.length,
      distinctPorts: all.size,
      ports: [...all].slice(0, 20),
      firstSeen: prev?.firstSeen ?? rows[0]!.time,
      lastSeen: rows[rows.length - 1]!.time,
      scanType: 'SYN',
      state: 'watching',
      strikes: prev?.strikes ?? 0,
    };
    data.offenders.set(ip, offender);
    counts();
    const events: ApiEvent[] = [{ type: 'packets', rows }, { type: 'offenders', offenders: [offender] }];
    if (doBan && all.size >= data.settings.detection.minDistinctPorts) events.push({ type: 'ban', ban: ban(ip) });
    events.push({ type: 'state', state: structuredClone(data.state) });
    emit(events);
  };

  for (let i = 0; i < (opts.packets ?? 0); i++) {
    const ip = `198.51.100.${(i % 200) + 1}`;
    data.packets.push({ id: nextPacketId++, time: t0 - (opts.packets! - i) * 200, src: ip, dst: '10.0.0.2', proto: i % 7 === 0 ? 'UDP' : 'TCP', spt: 30000 + (i % 3000), dpt: 1 + ((i * 37) % 1024), prefix: 'UFW BLOCK', in: 'eth0', flags: i % 7 === 0 ? '' : 'SYN' });
  }

  return {
    calls,
    data,
    emit,
    simulateScan,
    failNext: (method, error) => void failures.set(method, error),
    listenerCount: () => listeners.size,
    async call<M extends ApiMethod>(method: M, params: ApiParams<M>): Promise<ApiResult<M>> {
      calls.push({ method, params });
      const f = failures.get(method);
      if (f) {
        failures.delete(method);
        throw f;
      }
      const reply = await dispatch(handlers, method, params);
      // The wire is JSON: make the fake's replies go through the same shape.
      return unwrapReply(method, JSON.parse(JSON.stringify(reply)));
    },
    onEvents(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}
