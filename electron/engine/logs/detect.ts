/**
 * Picks the log source: kmsg → journald → a log file (/var/log/kern.log, ufw.log, syslog,
 * messages), the first that is usable, and says why each earlier one was skipped (the Doctor shows
 * it). kmsg and journald are kernel-trusted; a file is a spoofable fallback.
 */
import { accessSync, closeSync, constants, existsSync, openSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Framing } from '../../shared/packet.ts';
import type { LogSourcePort } from '../ports.ts';
import { FileTailSource, type FilePosition } from './file.ts';
import { JournalSource } from './journal.ts';
import { KmsgSource, type KmsgFeed } from './kmsg.ts';
import { errorText } from './stats.ts';

export const DEFAULT_LOG_FILES = ['/var/log/kern.log', '/var/log/ufw.log', '/var/log/syslog', '/var/log/messages'];

export type SourceKind = 'kmsg' | 'journal' | 'file';

export interface DetectOptions {
  /** settings.logs.source: auto, kmsg, journal or file:/absolute/path. Default auto. */
  spec?: string;
  kmsgPath?: string;
  /** A feed of raw kmsg records (the helper's stream) instead of reading kmsgPath. */
  kmsgFeed?: KmsgFeed;
  journalctl?: string;
  /** Where a running journald keeps its socket (its presence means journald runs). */
  journaldSocket?: string;
  /** Directories holding journal files. */
  journalDirs?: string[];
  /** Extra journalctl arguments (e.g. --directory=…). */
  journalArgs?: string[];
  files?: string[];
  /** Saved positions from the store. */
  resume?: { kmsgSeq?: number | null; journalCursor?: string | null; file?: { path: string; position: FilePosition } | null };
  onKmsgSeq?: (seq: number) => void;
  onJournalCursor?: (cursor: string) => void;
  onFilePosition?: (path: string, position: FilePosition) => void;
}

export interface Detected {
  source: LogSourcePort | null;
  kind: SourceKind | null;
  /** What to tell the parser (ParseOptions.framing); files may hold any syslog flavour. */
  framing: Framing | 'auto';
  /** Why the sources before the chosen one (or all of them) were not used. */
  skipped: { kind: SourceKind; target: string; reason: string }[];
  /** When nothing is usable: one sentence for the user. */
  error?: string;
}

function readable(p: string): string | null {
  try {
    accessSync(p, constants.R_OK);
    return null;
  } catch (e) {
    return errorText(e);
  }
}

/** Can this process read kernel records from kmsgPath? (dmesg_restrict=1 refuses non-root with EPERM.) */
export function kmsgUsable(kmsgPath = '/dev/kmsg'): string | null {
  try {
    closeSync(openSync(kmsgPath, constants.O_RDONLY | constants.O_NONBLOCK));
    return null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EPERM' || code === 'EACCES') return `${kmsgPath} is not readable by this user (kernel.dmesg_restrict): run as root or through the Portcullis helper`;
    if (code === 'ENOENT') return `${kmsgPath} does not exist (not Linux, or a container without it)`;
    return `${kmsgPath}: ${errorText(e)}`;
  }
}

/** Is journald running here with a journal we can read? */
export function journalUsable(
  journalctl = '/usr/bin/journalctl',
  socket = '/run/systemd/journal/socket',
  dirs = ['/run/log/journal', '/var/log/journal'],
): string | null {
  if (!existsSync(journalctl)) return `${journalctl} is not installed`;
  if (!existsSync(socket)) return `journald is not running (no ${socket})`;
  for (const d of dirs) {
    let entries: string[];
    try {
      entries = readdirSync(d);
    } catch {
      continue;
    }
    for (const e of entries) {
      const sub = path.join(d, e);
      try {
        if (readdirSync(sub).some((f) => f.endsWith('.journal')) && readable(sub) === null) return null;
      } catch {
        /* not a directory we can read */
      }
    }
  }
  return `no readable journal files in ${dirs.join(' or ')} (journald keeps none, or this user is not in the systemd-journal group)`;
}

export function detectSource(opts: DetectOptions = {}): Detected {
  const spec = opts.spec ?? 'auto';
  const skipped: Detected['skipped'] = [];
  const kmsgPath = opts.kmsgPath ?? '/dev/kmsg';
  const none = (error: string): Detected => ({ source: null, kind: null, framing: 'auto', skipped, error });

  if (spec === 'auto' || spec === 'kmsg') {
    const why = opts.kmsgFeed ? null : kmsgUsable(kmsgPath);
    if (why === null) {
      const o: ConstructorParameters<typeof KmsgSource>[0] = { resumeAfterSeq: opts.resume?.kmsgSeq ?? null };
      if (opts.kmsgFeed) o.feed = opts.kmsgFeed;
      if (opts.onKmsgSeq) o.onSeq = opts.onKmsgSeq;
      return { source: new KmsgSource(o), kind: 'kmsg', framing: 'kmsg', skipped };
    }
    skipped.push({ kind: 'kmsg', target: kmsgPath, reason: why });
    if (spec === 'kmsg') return none(why);
  }

  if (spec === 'auto' || spec === 'journal') {
    const journalctl = opts.journalctl ?? '/usr/bin/journalctl';
    const why = journalUsable(journalctl, opts.journaldSocket, opts.journalDirs);
    if (why === null) {
      const o: ConstructorParameters<typeof JournalSource>[0] = { journalctl, cursor: opts.resume?.journalCursor ?? null };
      if (opts.journalArgs) o.extraArgs = opts.journalArgs;
      if (opts.onJournalCursor) o.onCursor = opts.onJournalCursor;
      return { source: new JournalSource(o), kind: 'journal', framing: 'journal', skipped };
    }
    skipped.push({ kind: 'journal', target: journalctl, reason: why });
    if (spec === 'journal') return none(why);
  }

  const explicit = spec.startsWith('file:') ? spec.slice(5) : null;
  if (explicit === null && spec !== 'auto') return none(`unknown log source "${spec}" (auto, kmsg, journal or file:/absolute/path)`);
  if (explicit !== null && !path.isAbsolute(explicit)) return none(`log file ${explicit} must be an absolute path`);
  const candidates = explicit ? [explicit] : (opts.files ?? DEFAULT_LOG_FILES);
  for (const f of candidates) {
    const why = existsSync(f) ? readable(f) : 'does not exist';
    if (why !== null) {
      skipped.push({ kind: 'file', target: f, reason: why });
      continue;
    }
    const saved = opts.resume?.file;
    const o: ConstructorParameters<typeof FileTailSource>[0] = { path: f, resume: saved && saved.path === f ? saved.position : null };
    const onPos = opts.onFilePosition;
    if (onPos) o.onPosition = (p) => onPos(f, p);
    return { source: new FileTailSource(o), kind: 'file', framing: 'auto', skipped };
  }
  return none(
    explicit
      ? `log file ${explicit} cannot be read: ${skipped.at(-1)?.reason ?? 'unknown'}`
      : 'no log source found: /dev/kmsg is not readable, journald is not running and no kernel log file exists',
  );
}
