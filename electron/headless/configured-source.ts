/**
 * The `logs.source` a `portcullis run` would start with, read without starting one — for `doctor
 * --fix` with no running instance, which installs the logging blocks in the variant that source
 * would read (log-source-choice.ts). Where the settings are: `--config FILE` when given, else the
 * server package's file (the unit runs `run --config /etc/portcullis/portcullis.json`) when it
 * exists, else the state directory's database (opened read-only; `run` without --config keeps them
 * there). A `--config` the admin named that cannot be read, or names no valid source, is an error
 * (a typo must not install the blocks for another source); the package file or database that cannot
 * be read is the default, auto.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { LOG_SOURCE_PATTERN, LOG_SOURCE_VALUES } from '../shared/log-source.ts';

export const PACKAGE_CONFIG = '/etc/portcullis/portcullis.json';

function sourceOf(settings: unknown): string {
  const s = (settings as { logs?: { source?: unknown } } | null)?.logs?.source;
  return typeof s === 'string' && LOG_SOURCE_PATTERN.test(s) ? s : 'auto';
}

export function configuredSourceSpec(o: { config?: string; stateDir: string; packageConfig?: string }): { spec: string; from: string } {
  if (o.config !== undefined) {
    let settings: unknown;
    try {
      settings = JSON.parse(readFileSync(o.config, 'utf8'));
    } catch (e) {
      throw new Error(`--config ${o.config}: ${(e as Error).message}`);
    }
    const s = (settings as { logs?: { source?: unknown } } | null)?.logs?.source;
    if (s !== undefined && (typeof s !== 'string' || !LOG_SOURCE_PATTERN.test(s))) throw new Error(`--config ${o.config}: logs.source is ${LOG_SOURCE_VALUES} (got ${JSON.stringify(s)})`);
    return { spec: sourceOf(settings), from: o.config };
  }
  const file = existsSync(o.packageConfig ?? PACKAGE_CONFIG) ? (o.packageConfig ?? PACKAGE_CONFIG) : null;
  if (file) {
    try {
      return { spec: sourceOf(JSON.parse(readFileSync(file, 'utf8'))), from: file };
    } catch {
      return { spec: 'auto', from: `${file} (unreadable: the default)` };
    }
  }
  const db = path.join(o.stateDir, 'portcullis.db');
  if (!existsSync(db)) return { spec: 'auto', from: 'the default (no settings file, no database)' };
  try {
    const { DatabaseSync } = process.getBuiltinModule('node:sqlite');
    const conn = new DatabaseSync(db, { readOnly: true });
    try {
      const row = conn.prepare("SELECT value FROM settings WHERE key = 'settings'").get() as { value?: string } | undefined;
      return { spec: row?.value ? sourceOf(JSON.parse(row.value)) : 'auto', from: db };
    } finally {
      conn.close();
    }
  } catch {
    return { spec: 'auto', from: `${db} (unreadable: the default)` };
  }
}
