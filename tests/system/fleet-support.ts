/**
 * A two-host fleet lab: host A and host B are two firewall namespaces (each a full lab from
 * tests/support/netns.ts, with real ufw), a private CrowdSec LAPI runs in a third namespace linked to
 * both, and ONE scanner — lab A's scanner namespace, with one address — reaches A on its own link
 * and B through a second veth (routed with the same source address), so B can block the very
 * address A caught without ever having seen a probe of it.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { createLab, type Lab } from '../support/netns.ts';
import { startLapi, type Lapi } from '../support/lapi.ts';
import { ControlClient, controlSocketPath } from '../../electron/headless/control.ts';
import { removeDir, startCli, tempStateDir, type RunningCli } from './runner-support.ts';

const execFileP = promisify(execFile);
const ip = (...args: string[]) => execFileP('/usr/sbin/ip', args);

export interface Host {
  name: 'hostA' | 'hostB';
  lab: Lab;
  /** The LAPI as this host reaches it. */
  lapiUrl: string;
  stateDir: string;
  cli: RunningCli | null;
  /** The address of this host the scanner probes. */
  target: string;
  bouncerKey: string;
  password: string;
}

export interface FleetLab {
  a: Host;
  b: Host;
  lapi: Lapi;
  lapiNs: string;
  /** The scanner: lab A's scanner namespace and its one IPv4 address. */
  scannerNs: string;
  scannerIp: string;
  control(h: Host): ControlClient;
  cleanup(): Promise<void>;
}

export function hostConfig(h: Host, extra: { whitelist?: string[]; fleet?: Record<string, unknown>; crowdsec?: Record<string, unknown> } = {}) {
  return {
    detection: { findtimeSec: 60, maxretry: 5, minDistinctPorts: 3 },
    ban: { backend: 'set', bantimeSec: 600, maxbantimeSec: 3600, increment: false, maxNewBansPerMinute: 10000 },
    whitelist: { entries: extra.whitelist ?? [] },
    logs: { source: 'kmsg' },
    fleet: { crowdsec: { url: h.lapiUrl, machineId: h.name, password: h.password, bouncerKey: h.bouncerKey, pullIntervalMs: 200, ...extra.crowdsec }, ...extra.fleet },
  };
}

/** Writes the config (0600: it holds the fleet's secrets) and starts `portcullis run` in the host's namespace. */
export async function startHost(h: Host, config: unknown): Promise<RunningCli> {
  const file = path.join(h.stateDir, 'config.json');
  writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 });
  chmodSync(file, 0o600);
  h.cli = await startCli(h.lab, ['run', '--source', 'kmsg', '--backend', 'set', '--config', file], h.stateDir);
  return h.cli;
}

export async function createFleetLab(): Promise<FleetLab> {
  const id = randomBytes(3).toString('hex');
  const labA = await createLab();
  let labB: Lab | null = null;
  let lapi: Lapi | null = null;
  const lapiNs = `pc-lapi-${id}`;
  const octet = 16 + (randomBytes(1)[0]! % 200);
  try {
    labB = await createLab();
    // The LAPI's namespace, linked to each firewall namespace by a /30 of its own.
    await ip('netns', 'add', lapiNs);
    await ip('netns', 'exec', lapiNs, 'ip', 'link', 'set', 'lo', 'up');
    const links: [Lab, string, string, string][] = [
      [labA, `pl${id}a`, `10.231.${octet}.1`, `10.231.${octet}.2`],
      [labB, `pl${id}b`, `10.231.${octet}.5`, `10.231.${octet}.6`],
    ];
    for (const [lab, name, lapiAddr, hostAddr] of links) {
      await ip('link', 'add', `${name}l`, 'netns', lapiNs, 'type', 'veth', 'peer', 'name', `${name}h`, 'netns', lab.fwNs);
      await ip('netns', 'exec', lapiNs, 'ip', 'addr', 'add', `${lapiAddr}/30`, 'dev', `${name}l`);
      await ip('netns', 'exec', lapiNs, 'ip', 'link', 'set', `${name}l`, 'up');
      await ip('netns', 'exec', lab.fwNs, 'ip', 'addr', 'add', `${hostAddr}/30`, 'dev', `${name}h`);
      await ip('netns', 'exec', lab.fwNs, 'ip', 'link', 'set', `${name}h`, 'up');
    }
    // One scanner for both hosts: lab A's scanner reaches B over a second veth with its same address.
    const scannerIp = labA.scanner.v4;
    const bTarget = `10.232.${octet}.1`;
    await ip('link', 'add', `ps${id}s`, 'netns', labA.scanner.ns, 'type', 'veth', 'peer', 'name', `ps${id}b`, 'netns', labB.fwNs);
    await ip('netns', 'exec', labA.scanner.ns, 'ip', 'link', 'set', `ps${id}s`, 'up');
    await ip('netns', 'exec', labA.scanner.ns, 'ip', 'route', 'add', `${bTarget}/32`, 'dev', `ps${id}s`, 'src', scannerIp);
    await ip('netns', 'exec', labB.fwNs, 'ip', 'addr', 'add', `${bTarget}/32`, 'dev', `ps${id}b`);
    await ip('netns', 'exec', labB.fwNs, 'ip', 'link', 'set', `ps${id}b`, 'up');
    await ip('netns', 'exec', labB.fwNs, 'ip', 'route', 'add', `${scannerIp}/32`, 'dev', `ps${id}b`);

    const port = 20000 + (randomBytes(2).readUInt16BE(0) % 20000);
    lapi = await startLapi({ ns: lapiNs, host: `10.231.${octet}.1`, port });
    const mk = async (name: 'hostA' | 'hostB', lab: Lab, lapiAddr: string, target: string): Promise<Host> => {
      const password = `pw-${name}-${randomBytes(6).toString('hex')}`;
      const bouncerKey = `key-${name}-${randomBytes(8).toString('hex')}`;
      await lapi!.addMachine(name, password);
      await lapi!.addBouncer(`portcullis-${name}`, bouncerKey);
      return { name, lab, lapiUrl: `http://${lapiAddr}:${port}`, stateDir: tempStateDir(), cli: null, target, bouncerKey, password };
    };
    const a = await mk('hostA', labA, `10.231.${octet}.1`, labA.scanner.fwV4);
    const b = await mk('hostB', labB, `10.231.${octet}.5`, bTarget);
    const clients: ControlClient[] = [];
    return {
      a,
      b,
      lapi,
      lapiNs,
      scannerNs: labA.scanner.ns,
      scannerIp,
      control: (h) => {
        const c = new ControlClient(controlSocketPath(h.stateDir));
        clients.push(c);
        return c;
      },
      cleanup: async () => {
        for (const c of clients) c.close();
        for (const h of [a, b]) {
          await h.cli?.stop('SIGKILL');
          removeDir(h.stateDir);
        }
        await lapi!.cleanup();
        await ip('netns', 'delete', lapiNs).catch(() => undefined);
        await labB!.cleanup();
        await labA.cleanup();
      },
    };
  } catch (e) {
    await lapi?.cleanup();
    await ip('netns', 'delete', lapiNs).catch(() => undefined);
    await labB?.cleanup();
    await labA.cleanup();
    throw e;
  }
}
