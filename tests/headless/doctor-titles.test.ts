/** Doctor titles read as written for people, not as ids with a capital letter ("Ufw installed", "Kmsg", "Set block"). */
import { describe, expect, it } from 'vitest';
import { helperOpsOf } from '../../electron/app/helper-adapter.ts';

describe('doctor titles', () => {
  it('every check the helper reports gets a title written for people', async () => {
    const ids = ['ufw-installed', 'ufw-status', 'ufw-enabled', 'ufw-logging', 'kmsg', 'per-source-logging', 'set-block', 'ipset', 'conntrack'];
    const ops = helperOpsOf((async (method: string) => {
      if (method !== 'doctor') throw new Error(method);
      return { checks: ids.map((id) => ({ id, ok: false, detail: 'x' })) };
    }) as never);
    const titles = (await ops.doctor()).map((c) => c.title);
    expect(titles).toEqual([
      'ufw is installed',
      'ufw answers',
      'The firewall is on',
      'ufw logs blocked packets',
      'The kernel log can be read',
      'Every scanner gets logged (per-source logging)',
      'Ready for fast bans (ipset block in ufw)',
      'ipset is installed (fast bans)',
      "conntrack is installed (cuts a banned host's open connections)",
    ]);
    for (const t of titles) expect(t).not.toMatch(/^(Ufw|Kmsg|Set block)/);
  });
});
