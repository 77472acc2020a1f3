/**
 * A retired kmsg reading thread lets go of its hand-over ring: its pending Atomics.waitAsync (no
 * timeout) is settled at the thread's end, so that nothing holds the ring after it (a flood's
 * backlog touched its pages, which stayed resident). No device read: the thread is retired before
 * it is let go.
 */
import { closeSync, openSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startKmsgThread } from '../../electron/engine/logs/kmsg-thread.ts';
import { lastResortGc } from '../../electron/headless/rest-trim.ts';

const RING = 64 << 20;

describe('kmsg reading thread', () => {
  it('releases its ring once retired', async () => {
    const fd = openSync('/dev/null', 'r');
    try {
      const before = process.memoryUsage().arrayBuffers;
      // In a function of its own: once it returned, only the thread's own doings can hold the ring.
      const startAndRetire = async () => {
        const t = startKmsgThread(fd, { records: () => undefined, error: () => undefined }, RING);
        await t.ready;
        expect(process.memoryUsage().arrayBuffers - before).toBeGreaterThanOrEqual(RING);
        t.retire();
        await t.exited;
      };
      await startAndRetire();
      // The exit's own callbacks run first; then nothing may hold the ring.
      await new Promise((r) => setTimeout(r, 50));
      lastResortGc();
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(RING / 2);
    } finally {
      closeSync(fd);
    }
  });
});
