/**
 * One Doctor (issue 13.2): every check and fix is declared once in shared/doctor.ts, and the service
 * (the API, and `portcullis doctor` through a running instance), `portcullis doctor` without one and
 * the helper all speak the table's ids — one spelling each (`ufw-logging`, never `logging` beside it).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dispatch, type DoctorCheck } from '../../electron/shared/api.ts';
import { DOCTOR_CHECKS, DOCTOR_FIXES, isDoctorCheckId, type DoctorCheckSpec } from '../../electron/shared/doctor.ts';
import { doctorWithoutInstance } from '../../electron/app/doctor.ts';
import { callViaDispatcher, helperOpsOf } from '../../electron/app/helper-adapter.ts';
import { PortcullisService } from '../../electron/app/service.ts';
import type { HelperOpsPort } from '../../electron/app/contracts.ts';
import { directDoctor } from '../../electron/headless/commands.ts';
import { createHelperDispatcher } from '../../electron/helper/ops.ts';
import { fakeDeps } from '../helper/fakes.ts';
import { FakeEngine, FakeFirewall, fakeParser, Journal, MemorySettings, MemoryStore, PushSource } from '../headless/fakes.ts';
import { ManualClock } from '../../electron/shared/domain.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SERVER = async (): Promise<DoctorCheck[]> => [
  { id: 'ipv6', title: 'IPv6 in ufw', level: 'ok', detail: 'test' },
  { id: 'forwarded-traffic', title: 'Forwarded traffic', level: 'ok', detail: 'test' },
];
const SYSCTL = () => '0';

/** The helper's real dispatcher over a fake exec and firewall (nothing runs on this machine). */
function realHelper(): { ops: HelperOpsPort; close(): void } {
  const { deps } = fakeDeps();
  const d = createHelperDispatcher(deps);
  return { ops: helperOpsOf(callViaDispatcher((r) => d.handle(r))), close: () => d.close() };
}

async function serviceWith(helper: HelperOpsPort | null) {
  const journal = new Journal();
  const clock = new ManualClock(1_700_000_000_000);
  const service = new PortcullisService({
    clock,
    settingsRepo: new MemorySettings({}),
    createEngine: (o, sink) => new FakeEngine(o, sink),
    parseLine: fakeParser(clock),
    store: new MemoryStore(journal),
    source: new PushSource(),
    firewall: helper ? new FakeFirewall(journal) : null,
    helper,
    readSysctl: SYSCTL,
    hostInfo: async () => ({ addresses: ['10.0.0.1'], interfaces: ['eth0'], gateways: [] }),
    tickMs: 3_600_000,
    serverChecks: SERVER,
  });
  await service.start();
  return service;
}

async function call<T>(service: PortcullisService, method: string, params: unknown): Promise<{ ok: true; result: T } | { ok: false; error: { code: string; message: string } }> {
  return (await dispatch(service.handlers(), method as never, params)) as never;
}

describe('the Doctor table', () => {
  it('declares each check id once, and every fix a check names', () => {
    const source = readFileSync(path.join(ROOT, 'electron/shared/doctor.ts'), 'utf8');
    const block = source.slice(source.indexOf('export const DOCTOR_CHECKS'), source.indexOf('} as const satisfies Record<string, DoctorCheckSpec>'));
    const declared = [...block.matchAll(/^\s+'?([a-z0-9-]+)'?: \{ title:/gm)].map((m) => m[1]!);
    expect(declared).toEqual(Object.keys(DOCTOR_CHECKS));
    expect(new Set(declared).size).toBe(declared.length);
    for (const [id, spec] of Object.entries(DOCTOR_CHECKS) as [string, DoctorCheckSpec][]) {
      if (spec.fix) expect(DOCTOR_FIXES, `${id}'s fix`).toHaveProperty(spec.fix);
    }
    // The old second spelling of the logging check is gone.
    expect(isDoctorCheckId('logging')).toBe(false);
  });

  it('every list the service gives holds only table ids, each once — with and without a helper', async () => {
    const h = realHelper();
    for (const helper of [h.ops, null]) {
      const service = await serviceWith(helper);
      const r = await call<DoctorCheck[]>(service, 'getDoctor', {});
      if (!r.ok) throw new Error(r.error.message);
      const ids = r.result.map((c) => c.id);
      expect(ids.filter((id) => !isDoctorCheckId(id))).toEqual([]);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toContain('ufw-logging');
      expect(ids).not.toContain('logging');
      // In the table's order.
      const order = Object.keys(DOCTOR_CHECKS);
      expect([...ids].sort((a, b) => order.indexOf(a) - order.indexOf(b))).toEqual(ids);
      await service.stop();
    }
    h.close();
  });

  it('`portcullis doctor` without an instance lists the same checks as the API (plus who runs, minus nothing)', async () => {
    const h = realHelper();
    const service = await serviceWith(h.ops);
    const api = await call<DoctorCheck[]>(service, 'getDoctor', {});
    if (!api.ok) throw new Error(api.error.message);
    const cli = await doctorWithoutInstance({ holder: null, helper: h.ops, missingHelper: 'x', ufwInstalled: () => true, kmsgReadable: true, readSysctl: SYSCTL, serverChecks: SERVER });
    expect(cli.map((c) => c.id)).toEqual(['instance', ...api.result.map((c) => c.id)]);
    // Same titles for the same ids: one table.
    for (const c of cli.slice(1)) expect(c.title).toBe(api.result.find((a) => a.id === c.id)!.title);
    // Without root (no helper) the CLI still names the same firewall checks the service falls back to.
    const noRoot = await doctorWithoutInstance({ holder: null, helper: null, missingHelper: 'not root', ufwInstalled: () => true, kmsgReadable: false, readSysctl: SYSCTL, serverChecks: SERVER });
    expect(noRoot.find((c) => c.id === 'helper')).toMatchObject({ level: 'error', detail: 'not root' });
    await service.stop();
    h.close();
  });

  it('a fix id the table does not know is refused with the list of known ones (API and CLI)', async () => {
    const h = realHelper();
    const service = await serviceWith(h.ops);
    const r = await call(service, 'runDoctorFix', { fixId: 'enable-firewall' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('invalid');
    for (const id of ['enable-ufw', 'logging-low', 'install-per-source-logging', 'install-set-block']) expect(r.error.message).toContain(id);
    expect(r.error.message).toMatch(/^unknown fix "enable-firewall"/);
    // The CLI refuses it before it takes the firewall lock or starts the helper.
    await expect(directDoctor('enable-firewall')).rejects.toThrow(r.error.message);
    // A known fix still runs through the same switch.
    const ok = await call<DoctorCheck[]>(service, 'runDoctorFix', { fixId: 'logging-low' });
    expect(ok.ok).toBe(true);
    await service.stop();
    h.close();
  });
});
