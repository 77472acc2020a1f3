/**
 * Where a firewall change made by a one-shot command (`doctor --fix` without a running instance,
 * `uninstall`) is audited: the state directory's audit.log, as `run`/`serve` write theirs, when that
 * directory exists; otherwise the helper's default log. Never an in-memory log that is thrown away.
 * The state directory is not created for this: a one-shot command must not set up an instance's home.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_AUDIT_PATH, fileAuditLog, type AuditLog } from '../helper/audit.ts';

export function cliAuditPath(stateDir: string): string {
  return existsSync(stateDir) ? path.join(stateDir, 'audit.log') : DEFAULT_AUDIT_PATH;
}

export function cliAuditLog(stateDir: string): AuditLog {
  return fileAuditLog(cliAuditPath(stateDir));
}
