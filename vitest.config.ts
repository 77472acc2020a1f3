import { defineConfig } from 'vitest/config';

// Two projects: fast unit tests in parallel, and system tests (root, network namespaces, real ufw,
// real Chromium) one file at a time, because they share the kernel log and the machine's CPU. The
// system project starts only when the unit project is done (groupOrder): unit files hogging both
// cores made time-bound system checks (a ban within its deadline, a session cut) flaky in CI.
export default defineConfig({
  test: {
    // Local times in UTC in the test processes whatever the machine's zone (the programs the system
    // tests start get their own environment): a property test builds syslog stamps from local
    // wall-clock times, and one inside a daylight-saving zone's repeated autumn hour parses back to its
    // other occurrence (~6% of runs under Europe/Berlin). What the parser does in such a zone is
    // tested on its own, in a child process in Europe/Berlin (tests/engine/parse/local-time-dst.test.ts).
    env: { TZ: 'UTC' },
    setupFiles: ['tests/support/fast-check-seed.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['tests/**/*.test.{ts,tsx}'],
          exclude: ['tests/system/**', 'node_modules/**'],
          testTimeout: 20_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'system',
          include: ['tests/system/**/*.test.{ts,tsx}'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
