/** The settings file with the fleet's secrets must be 0600; `portcullis fleet status` prints no secret. */
import { chmodSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { serviceOnSettingsFile } from '../headless/settings-file-service.ts';
import { SettingsSchema } from '../../electron/shared/settings.ts';
import { secretsFileRefusal } from '../../electron/headless/fleet-config.ts';
import { fleetStatusLines } from '../../electron/headless/fleet-command.ts';
import { originMatches, redactFleet, REDACTED } from '../../electron/shared/fleet.ts';

const withSecrets = SettingsSchema.parse({ fleet: { crowdsec: { url: 'http://10.0.0.5:8080', machineId: 'web1', password: 'pw', bouncerKey: 'key' } } });

describe('fleet settings file', () => {
  it('a reload (SIGHUP) refuses a config file with secrets that others can read and keeps the running settings (F4)', async () => {
    const { file, service } = serviceOnSettingsFile({ detection: { maxretry: 4 } }, 'pc-reload-');
    await service.start();
    const refuse = (s: Parameters<typeof secretsFileRefusal>[1]) => secretsFileRefusal(file, s);
    writeFileSync(file, JSON.stringify({ detection: { maxretry: 9 }, fleet: { crowdsec: { url: 'http://10.0.0.5:8080', machineId: 'web1', password: 'pw', bouncerKey: 'key' } } }));
    chmodSync(file, 0o644);
    const r = service.reloadSettings(refuse);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(/other users can read it \(mode 644\): chmod 600 .*kept the running settings/);
    expect(service.getSettingsNow().detection.maxretry).toBe(4);
    expect(service.getSettingsNow().fleet.crowdsec).toBeNull();
    chmodSync(file, 0o600);
    expect(service.reloadSettings(refuse)).toEqual({ ok: true });
    expect(service.getSettingsNow().detection.maxretry).toBe(9);
    await service.stop();
  });

  it('refuses a settings file with secrets that others can read, names the fix', () => {
    expect(secretsFileRefusal('/etc/p.json', withSecrets, () => ({ mode: 0o100644 }))).toMatch(/other users can read it \(mode 644\): chmod 600 \/etc\/p.json/);
    expect(secretsFileRefusal('/etc/p.json', withSecrets, () => ({ mode: 0o100600 }))).toBeNull();
    expect(secretsFileRefusal('/etc/p.json', SettingsSchema.parse({}), () => ({ mode: 0o100644 }))).toBeNull();
  });

  it('redacts every secret and matches origins with *', () => {
    expect(redactFleet(withSecrets.fleet).crowdsec).toMatchObject({ password: REDACTED, bouncerKey: REDACTED, machineId: 'web1' });
    expect(withSecrets.fleet.crowdsec!.password).toBe('pw');
    expect(originMatches('portcullis@web2', ['portcullis@*'])).toBe(true);
    expect(originMatches('CAPI', ['portcullis@*', 'crowdsec', 'cscli'])).toBe(false);
    expect(originMatches('portcullis.x', ['portcullis@*'])).toBe(false);
  });

  it('fleet status says off, or the link health line by line', () => {
    expect(fleetStatusLines(undefined)).toEqual(['link         off (no fleet.crowdsec in the settings)']);
    const lines = fleetStatusLines({
      status: 'error',
      url: 'http://10.0.0.5:8080',
      machineId: 'web1',
      share: true,
      apply: true,
      login: { ok: true, error: null },
      pull: { ok: false, error: 'bouncer key refused', lastAt: null, lastFullAt: null },
      push: { ok: true, error: null, lastAt: 0, queued: 3 },
      fleetBans: 0,
      refused: { whitelisted: 0, overLimit: 0, unsupported: 0 },
      lastRefusals: [],
    });
    expect(lines.join('\n')).toMatch(/link\s+error\s+http:\/\/10.0.0.5:8080[\s\S]*pull\s+FAILED: bouncer key refused[\s\S]*3 queued/);
  });
});
