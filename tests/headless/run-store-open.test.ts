/**
 * `portcullis run` and its database: one that cannot be opened ends the start with its own exit
 * code (the unit's RestartPreventExitStatus=, no restart every 5 s) and a message naming the file
 * and what to do (tests/store/store-open.test.ts: the store's side).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EXIT_STORE_UNOPENABLE } from '../../electron/headless/runner.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const NODE = existsSync(path.join(ROOT, 'node_modules/.bin/node')) ? path.join(ROOT, 'node_modules/.bin/node') : process.execPath;

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(NODE, [path.join(ROOT, 'bin/portcullis.js'), ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'pc-open-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A dry run of an empty log file with the database `db`. */
function dryRun(d: string, db: string) {
  writeFileSync(path.join(d, 'empty.log'), '');
  writeFileSync(path.join(d, 'c.json'), '{}');
  return cli(['run', '--dry-run', '--source', `file:${path.join(d, 'empty.log')}`, '--from-start', '--config', path.join(d, 'c.json'), '--state-dir', path.join(d, 'state'), '--db', db]);
}

describe('portcullis run and its database', () => {
  it('a database that cannot be opened: its own exit code and the file named', async () => {
    const d = tmp();
    const db = path.join(d, 'broken.db');
    writeFileSync(db, 'hello this is not sqlite'.repeat(200));
    const r = await dryRun(d, db);
    expect(r.code).toBe(EXIT_STORE_UNOPENABLE);
    expect(r.stderr).toContain(`portcullis run: cannot open the database ${db}: file is not a database. If the file is damaged or not Portcullis's, move it aside`);
  }, 30_000);
});
