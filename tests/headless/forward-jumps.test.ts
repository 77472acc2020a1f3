/**
 * The forward block's DOCKER-USER jumps are checked on the status refresh's cadence, by the service
 * both shells run: dockerd recreating the chain (a Docker restart, a boot where it started after
 * Portcullis) or a ufw reload flushing it took them away, and only the next start of Portcullis or
 * the Doctor's fix put them back — banned scanners reached published container ports meanwhile.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../electron/shared/domain.ts';
import { PortcullisService } from '../../electron/app/service.ts';
import { FakeEngine, FakeFirewall, FakeHelper, fakeParser, Journal, MemorySettings, MemoryStore, PushSource } from './fakes.ts';

/** A helper whose status says the forward block is installed (or not), and whose jump check answers from a script. */
class ForwardHelper extends FakeHelper {
  forwardBlock = true;
  /** What each repairForwardJumps call answers, in turn (an Error: it fails); then nothing missing. */
  answers: (('v4' | 'v6')[] | Error)[] = [];
  repairs = 0;
  override async status() {
    const s = await super.status();
    return { ...s, firewall: { ...s.firewall, forwardBlock: this.forwardBlock } };
  }
  async repairForwardJumps(): Promise<('v4' | 'v6')[]> {
    this.repairs++;
    const a = this.answers.shift() ?? [];
    if (a instanceof Error) throw a;
    return a;
  }
}

function setup(helper: FakeHelper) {
  const journal = new Journal();
  const clock = new ManualClock(1_700_000_000_000);
  const logs: string[] = [];
  const service = new PortcullisService({
    clock,
    settingsRepo: new MemorySettings({}),
    createEngine: (o, sink) => new FakeEngine(o, sink),
    parseLine: fakeParser(clock),
    store: new MemoryStore(journal),
    source: new PushSource(),
    firewall: new FakeFirewall(journal),
    helper,
    hostInfo: async () => ({ addresses: ['10.0.0.1'], interfaces: ['eth0'], gateways: [] }),
    tickMs: 3_600_000,
    statusRefreshMs: 30_000,
    log: (level, message) => logs.push(`${level}: ${message}`),
  });
  return { clock, service, logs };
}

describe("the service's DOCKER-USER jump check", () => {
  it('runs with each status refresh while the forward block is installed, and says when it had to put the jumps back', async () => {
    const helper = new ForwardHelper();
    helper.answers = [[], ['v4', 'v6']];
    const t = setup(helper);
    await t.service.start();
    await t.service.tick(); // not yet a refresh: no check
    expect(helper.repairs).toBe(0);
    t.clock.advance(30_000);
    await t.service.tick();
    expect(helper.repairs).toBe(1);
    expect(t.logs.filter((l) => l.includes('DOCKER-USER'))).toEqual([]); // nothing was missing: nothing said
    t.clock.advance(10_000);
    await t.service.tick();
    expect(helper.repairs).toBe(1); // one check per refresh, not per tick
    t.clock.advance(20_000);
    await t.service.tick();
    expect(helper.repairs).toBe(2);
    expect(t.logs.filter((l) => l.includes('DOCKER-USER'))).toEqual([
      "warn: Docker's DOCKER-USER chain had lost Portcullis's forward-block jumps (IPv4, IPv6): re-added. Until now banned sources could reach published container ports (Docker restarted or recreated the chain, or a ufw reload flushed it).",
    ]);
    await t.service.stop();
  });

  it('asks nothing while the forward block is not installed, nor of a helper that may change nothing (a dry run)', async () => {
    const off = new ForwardHelper();
    off.forwardBlock = false;
    const t = setup(off);
    await t.service.start();
    t.clock.advance(30_000);
    await t.service.tick();
    expect(off.repairs).toBe(0);
    await t.service.stop();
    // FakeHelper has no repairForwardJumps, as the dry run's read-only helper has none.
    const readOnly = Object.assign(new FakeHelper(), {
      async status() {
        const s = await FakeHelper.prototype.status.call(readOnly);
        return { ...s, firewall: { ...s.firewall, forwardBlock: true } };
      },
    });
    const r = setup(readOnly);
    await r.service.start();
    r.clock.advance(30_000);
    await expect(r.service.tick()).resolves.toBeUndefined();
    await r.service.stop();
  });

  it('a failing check is said once, not at every refresh, and again after it worked in between', async () => {
    const helper = new ForwardHelper();
    helper.answers = [new Error('helper gone'), new Error('helper gone'), [], new Error('helper gone')];
    const t = setup(helper);
    await t.service.start();
    for (let i = 0; i < 4; i++) {
      t.clock.advance(30_000);
      await t.service.tick();
    }
    expect(helper.repairs).toBe(4);
    expect(t.logs.filter((l) => l.includes('DOCKER-USER'))).toEqual([
      "warn: forward block: cannot check Docker's DOCKER-USER jumps: helper gone",
      "warn: forward block: cannot check Docker's DOCKER-USER jumps: helper gone",
    ]);
    await t.service.stop();
  });
});
