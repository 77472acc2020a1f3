/**
 * Gate for tests that need root, network namespaces, ufw or Chromium. Outside CI they skip with a
 * message saying what is missing; in CI (CI=true or PORTCULLIS_REQUIRE_SYSTEM=1) a missing
 * requirement FAILS, so the root/namespace tests can never silently stop running there.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { NFLOG_READER } from '../../electron/headless/nflog-reader-path.ts';

export const systemTestsRequired = process.env.CI === 'true' || process.env.PORTCULLIS_REQUIRE_SYSTEM === '1';

export type Requirement = 'root' | 'netns' | 'ufw' | 'ipset' | 'conntrack' | 'chromium' | 'fail2ban' | 'nft' | 'dpkg' | 'systemd' | 'nflog-reader';

function has(cmd: string): boolean {
  return ['/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((d) => existsSync(`${d}/${cmd}`));
}

function missing(req: Requirement): string | null {
  switch (req) {
    case 'root':
      return process.getuid?.() === 0 ? null : 'not running as root';
    case 'netns':
      if (process.getuid?.() !== 0) return 'network namespaces need root';
      try {
        execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
      } catch {
        return 'iproute2 (ip netns) is not available';
      }
      // The lab (tests/support/netns.ts) serves port 22 and holds connections with socat.
      return has('socat') ? null : 'socat is not installed (apt-get install socat)';
    case 'ufw':
      return has('ufw') ? null : 'ufw is not installed (apt-get install ufw)';
    case 'ipset':
      return has('ipset') ? null : 'ipset is not installed (apt-get install ipset)';
    case 'conntrack':
      return has('conntrack') ? null : 'conntrack is not installed (apt-get install conntrack)';
    case 'nft':
      return has('nft') ? null : 'nftables is not installed (apt-get install nftables)';
    case 'chromium':
      return existsSync('/usr/bin/chromium') ? null : 'Chromium is not installed (apt-get install chromium)';
    case 'dpkg':
      return has('dpkg-deb') && has('dpkg') ? null : 'dpkg and dpkg-deb are not installed (a Debian system)';
    case 'systemd':
      return has('systemd-analyze') && has('systemd-notify') && has('setpriv') ? null : 'systemd (systemd-analyze, systemd-notify) or setpriv is not installed (apt-get install systemd util-linux)';
    case 'fail2ban':
      return has('fail2ban-server') ? null : 'fail2ban is not installed (apt-get install fail2ban)';
    case 'nflog-reader':
      // Built by `npm install`/`npm test` (scripts/build-native.ts) when gcc is there.
      return existsSync(NFLOG_READER) ? null : `the nflog reader was not built (${NFLOG_READER}: apt-get install gcc libc6-dev, then npm run build:cli)`;
  }
}

/**
 * Returns true when the tests may run. Use as `describe.runIf(requireSystem('root','ufw'))(…)`.
 * In CI a missing requirement throws, which fails the test file instead of skipping it.
 */
export function requireSystem(...reqs: Requirement[]): boolean {
  const problems = reqs.map(missing).filter((m): m is string => m !== null);
  if (problems.length === 0) return true;
  const msg = `system test needs: ${problems.join('; ')}`;
  if (systemTestsRequired) throw new Error(`${msg} — required in CI (CI=true), so this is a failure, not a skip`);
  console.warn(`SKIPPED: ${msg}`);
  return false;
}
