/**
 * The push queue when another process takes the database's write lock while a request is on the
 * wire: head() found the file writable before it, but what the LAPI's answer makes the queue write
 * (the item's removal, its alert id, a supersede's delete) then finds it locked. Those writes wait in
 * memory, in order, like any change: the item is not sent again (a second decision of this host's at
 * the LAPI), and the pump never throws (pumpAll runs from a timer: a rejection would end the service).
 */
import { describe, expect, it } from 'vitest';
import { holdWriteLock } from '../support/db-locks.ts';
import { tempDirsPerTest } from '../support/temp-dirs.ts';
import type { FleetLink } from '../../electron/engine/fleet/link.ts';
import { manualLink } from './manual-link.ts';

const tempDir = tempDirsPerTest('pc-fleet-race-');
const isAlertPost = (url: string, init: { method?: string }) => init.method === 'POST' && url.endsWith('/v1/alerts');
const setup = (through: Parameters<typeof manualLink>[1]) => manualLink(tempDir(), through);

describe('the push queue when the lock is taken while a request is in flight', () => {
  it('a ban is pushed once, not twice: its removal and its alert id wait for the lock and are written before anything is sent', async () => {
    let lock: ReturnType<typeof holdWriteLock> | null = null;
    const t = setup((file, lapi) => async (url, init) => {
      const reply = await lapi.fetch(url, init);
      // A backup takes the write lock while the POST is on the wire (after head() found it writable).
      if (isAlertPost(url, init) && lock === null) lock = holdWriteLock(file);
      return reply;
    });
    try {
      t.link.enqueueBan({ ip: '198.51.100.1', until: t.clock.now() + 3_600_000, ports: [22, 23, 25], hits: 5, kind: 'scan', scanType: 'SYN' });
      expect(await t.link.pumpOnce()).toBe('sent');
      expect(t.queue.waitingChanges, "the answer's writes wait").toBeGreaterThan(0);
    } finally {
      lock!.release();
    }
    for (let i = 0; i < 10 && (await t.link.pumpOnce()) !== 'empty'; i++);
    expect(t.lapi.log.filter((l) => l === 'POST /v1/alerts')).toHaveLength(1);
    expect(t.lapi.active().filter((d) => d.origin === 'portcullis@hostA')).toHaveLength(1);
    expect(t.queue.alertsOf('198.51.100.1'), 'its alert id is recorded (an unban deletes its decision)').toHaveLength(1);
    expect(t.queue.size()).toBe(0);
    t.queue.close();
  });

  it('a ban lifted while its push is on the wire and the lock is taken: its decision is deleted once the lock goes', async () => {
    let lock: ReturnType<typeof holdWriteLock> | null = null;
    let link: FleetLink | null = null;
    const t = setup((file, lapi) => async (url, init) => {
      const reply = await lapi.fetch(url, init);
      if (isAlertPost(url, init) && lock === null) {
        lock = holdWriteLock(file);
        link!.enqueueUnban('198.51.100.1'); // waits for the lock, ahead of what the answer writes
      }
      return reply;
    });
    link = t.link;
    try {
      t.link.enqueueBan({ ip: '198.51.100.1', until: t.clock.now() + 3_600_000, ports: [22, 23, 25], hits: 5, kind: 'scan', scanType: 'SYN' });
      expect(await t.link.pumpOnce()).toBe('sent');
    } finally {
      lock!.release();
    }
    for (let i = 0; i < 10 && (await t.link.pumpOnce()) !== 'empty'; i++);
    expect(t.lapi.log.filter((l) => l === 'POST /v1/alerts')).toHaveLength(1);
    expect(t.lapi.active().filter((d) => d.origin === 'portcullis@hostA'), 'the unban deleted the decision the push made').toEqual([]);
    t.queue.close();
  });

  it('an item refused for the 8th time while the lock is taken: the pump answers, it does not throw, and the item is dropped once the lock goes', async () => {
    let posts = 0;
    let lock: ReturnType<typeof holdWriteLock> | null = null;
    const t = setup((file, lapi) => async (url, init) => {
      if (!isAlertPost(url, init)) return lapi.fetch(url, init);
      if (++posts === 8) lock = holdWriteLock(file);
      return { status: 400, text: async () => JSON.stringify({ message: 'validation failure list: invalid' }) } as never;
    });
    t.link.enqueueBan({ ip: '198.51.100.1', until: t.clock.now() + 3_600_000, ports: [22], hits: 5, kind: 'scan' });
    const answers: string[] = [];
    try {
      for (let i = 0; i < 8; i++) answers.push(await t.link.pumpOnce());
    } finally {
      lock!.release();
    }
    expect(answers).toEqual(Array(8).fill('failed'));
    expect(await t.link.pumpOnce()).toBe('empty');
    expect(posts).toBe(8);
    t.queue.close();
  });
});
