/**
 * The service's port to the root helper (helper-adapter.ts) over the REAL dispatcher, with ufw faked:
 * what a rule change from the UI becomes at the root boundary.
 */
import { describe, expect, it } from 'vitest';
import { callViaDispatcher, helperOpsOf } from '../../electron/app/helper-adapter.ts';
import { createHelperDispatcher } from '../../electron/helper/ops.ts';
import { fakeDeps } from '../helper/fakes.ts';

describe('helper adapter: rule changes', () => {
  it('a rule change from the service reaches the helper with the rule the user saw (found again after numbers shifted)', async () => {
    const { deps, calls } = fakeDeps();
    const d = createHelperDispatcher(deps);
    try {
      const ops = helperOpsOf(callViaDispatcher((r) => d.handle(r)));
      // The user saw "2222/tcp LIMIT IN" as rule 6; in the fixture it is rule 7 now.
      const { number: _n, ...shown } = (await ops.status()).rules.rules.find((r) => r.port === '2222' && r.action === 'limit' && !r.v6)!;
      await ops.applyRule({ kind: 'delete', number: 6, expect: shown });
      expect(calls.at(-1)).toEqual({ bin: 'ufw', args: ['--force', 'delete', '7'] });
      await expect(ops.applyRule({ kind: 'delete', number: 6, expect: { ...shown, port: '9999' } })).rejects.toThrow(/has changed since it was shown/);
    } finally {
      d.close();
    }
  });
});
