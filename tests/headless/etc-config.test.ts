/**
 * Issue 11.6: the server reads /etc/portcullis/portcullis.json (--config). The UI's changes are
 * written to that file, a hand edit since the service read it wins (the UI's change is refused, not
 * written over it), and `systemctl reload` (SIGHUP → reloadSettings) loads a hand edit without a
 * restart — or refuses an invalid one with the field and the reason, keeping the running settings.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { serviceOnSettingsFile } from './settings-file-service.ts';

function setup(initial: unknown) {
  const { file, service, call } = serviceOnSettingsFile(initial, 'pc-etc-');
  const onDisk = () => JSON.parse(readFileSync(file, 'utf8')) as { detection?: { maxretry?: number } };
  return { file, service, call, onDisk };
}

describe('settings in /etc/portcullis/portcullis.json', () => {
  it("a change from the UI is written to the file, so the file says what runs", async () => {
    const t = setup({ detection: { maxretry: 4 } });
    await t.service.start();
    await t.call('updateSettings', { patch: { detection: { maxretry: 7 } } });
    expect(t.onDisk().detection?.maxretry).toBe(7);
    expect(t.service.getSettingsNow().detection.maxretry).toBe(7);
    await t.service.stop();
  });

  it('a hand edit since the service read the file wins: the UI change is refused (conflict) and changes nothing', async () => {
    const t = setup({ detection: { maxretry: 4 } });
    await t.service.start();
    writeFileSync(t.file, JSON.stringify({ detection: { maxretry: 9 } }));
    expect(await t.call('updateSettings', { patch: { detection: { maxretry: 7 } } })).toMatchObject({ ok: false, error: { code: 'conflict', message: expect.stringMatching(/edited since Portcullis read it/) } });
    expect(t.onDisk().detection?.maxretry).toBe(9);
    expect(t.service.getSettingsNow().detection.maxretry).toBe(4);
    // After a reload (systemctl reload → SIGHUP) the hand edit runs and the UI may change it again.
    expect(t.service.reloadSettings()).toEqual({ ok: true });
    expect(t.service.getSettingsNow().detection.maxretry).toBe(9);
    await t.call('updateSettings', { patch: { detection: { maxretry: 6 } } });
    expect(t.onDisk().detection?.maxretry).toBe(6);
    await t.service.stop();
  });

  it('a reload refuses an invalid file with the field and the reason, and keeps the running settings', async () => {
    const t = setup({ detection: { maxretry: 4 } });
    await t.service.start();
    writeFileSync(t.file, JSON.stringify({ detection: { maxretry: -1 } }));
    const r = t.service.reloadSettings();
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(/detection\.maxretry/);
    expect(t.service.getSettingsNow().detection.maxretry).toBe(4);
    await t.service.stop();
  });

  it('an invalid file refuses the start with the field and the reason', async () => {
    const t = setup({ ban: { backend: 'iptables' } });
    await expect(t.service.start()).rejects.toThrow(/ban\.backend/);
  });
});
