/**
 * The unit starts after Docker when Docker is there: dockerd creates DOCKER-USER at its start, and the
 * runner's start adds the forward block's jumps to it only when it exists. Started before dockerd (no
 * After= on it: the usual boot, both are multi-user.target's), the runner found no chain, added no
 * jump, and banned scanners reached published container ports until something re-added them. After=
 * orders without pulling Docker in: on a host without Docker it means nothing.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const UNIT = path.resolve(import.meta.dirname, '../../build/server/portcullis.service');

/** The words of every `Key=` line of the unit (comments left out). */
function values(key: string): string[] {
  return readFileSync(UNIT, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(`${key}=`))
    .flatMap((l) => l.slice(key.length + 1).split(/\s+/))
    .filter(Boolean);
}

describe("the unit's order at boot", () => {
  it('starts after docker.service (DOCKER-USER exists by then)', () => {
    expect(values('After')).toContain('docker.service');
  });

  it('after ufw and the network as before', () => {
    expect(values('After')).toEqual(expect.arrayContaining(['ufw.service', 'network-online.target']));
  });

  it('does not pull Docker in (a host without it starts the same)', () => {
    for (const key of ['Wants', 'Requires', 'BindsTo', 'Requisite']) expect(values(key)).not.toContain('docker.service');
  });
});
