/**
 * A service on the fake stack whose settings live in a real file (FileSettingsRepo) in a temp dir,
 * as `portcullis serve --config FILE` runs. Importing this module removes those temp dirs after
 * every test of the importing file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { FileSettingsRepo } from '../../electron/app/adapters.ts';
import { PortcullisService } from '../../electron/app/service.ts';
import { dispatch } from '../../electron/shared/api.ts';
import { ManualClock } from '../../electron/shared/domain.ts';
import { FakeEngine, FakeFirewall, FakeHelper, fakeParser, Journal, MemoryStore, PushSource } from './fakes.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Writes `initial` as the settings file (not started: the test calls service.start()). */
export function serviceOnSettingsFile(initial: unknown, tmpPrefix = 'pc-settings-') {
  const d = mkdtempSync(path.join(tmpdir(), tmpPrefix));
  dirs.push(d);
  const file = path.join(d, 'portcullis.json');
  writeFileSync(file, JSON.stringify(initial));
  const journal = new Journal();
  const clock = new ManualClock(1_700_000_000_000);
  const service = new PortcullisService({
    clock,
    settingsRepo: new FileSettingsRepo(file),
    createEngine: (o, sink) => new FakeEngine(o, sink),
    parseLine: fakeParser(clock),
    store: new MemoryStore(journal),
    source: new PushSource(),
    firewall: new FakeFirewall(journal),
    helper: new FakeHelper(),
    hostInfo: async () => ({ addresses: ['10.0.0.1'], interfaces: ['eth0'], gateways: [] }),
    tickMs: 3_600_000,
  });
  const call = (method: string, params: unknown = {}) => dispatch(service.handlers(), method, params);
  return { file, service, call };
}
