/**
 * Append-only audit log of every firewall change the helper makes: JSON lines with who asked,
 * what op, its (already validated) args, the exact argv that ran, and the result.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

export const DEFAULT_AUDIT_PATH = '/var/log/portcullis/audit.log';

export interface AuditEntry {
  time: string;
  who: string;
  /** For calls of the UI API (api-audit.ts): how the client reached us, and who it is. */
  transport?: string;
  client?: string;
  op: string;
  args: unknown;
  /** Every program run for this change: absolute binary path then its argv. */
  argv: string[][];
  result: 'ok' | 'error';
  error?: { code: string; message: string };
  ms: number;
}

export interface AuditLog {
  append(entry: AuditEntry): Promise<void>;
}

/** A file audit log. Never throws: a full disk must not stop a ban; the failure goes to stderr. */
export function fileAuditLog(path: string = DEFAULT_AUDIT_PATH): AuditLog {
  let dirReady: Promise<unknown> | null = null;
  return {
    async append(entry) {
      try {
        dirReady ??= mkdir(dirname(path), { recursive: true, mode: 0o750 });
        await dirReady;
        await appendFile(path, JSON.stringify(entry) + '\n', { mode: 0o640 });
      } catch (e) {
        process.stderr.write(`portcullis-helper: audit log ${path} not written: ${(e as Error).message}\n`);
      }
    },
  };
}

/** For tests and in-memory use. */
export function memoryAuditLog(): AuditLog & { entries: AuditEntry[] } {
  const entries: AuditEntry[] = [];
  return { entries, append: async (e) => void entries.push(e) };
}
