/**
 * The log source `portcullis run` opens for a resolved `logs.source` (log-source-choice.ts resolves
 * auto's nflog), with what it resumes from: kmsg's stored position (and boot), journald's cursor,
 * a file's position; nflog's counter ledger. The state keys live here, with the only code that reads
 * and writes them.
 */
import { accessSync, constants } from 'node:fs';
import type { Framing } from '../shared/packet.ts';
import type { LogSourcePort } from '../engine/ports.ts';
import { DEFAULT_LOG_FILES, FileTailSource, JournalSource, journalUsable, type FilePosition } from '../engine/logs/index.ts';
import { KmsgSource, newestKmsgSeq } from '../engine/logs/kmsg.ts';
import { storedKmsgPosition } from '../engine/logs/kmsg-position.ts';
import { NflogSource } from '../engine/logs/nflog.ts';
import { NflogLedger, nflogRulesRebuilt, type LedgerState, type ReadCounters } from '../engine/logs/nflog-ledger.ts';
import { currentBootId } from '../node/boot-id.ts';
import { nflogReaderPath } from './nflog-reader-path.ts';
const KMSG_SEQ_KEY = 'kmsg.lastSeq';
/** The position and the boot it belongs to (kmsg-position.ts: the kernel numbers records from 0 again at every boot). */
const KMSG_KEYS = { seq: KMSG_SEQ_KEY, boot: 'kmsg.bootId' };
const JOURNAL_CURSOR_KEY = 'journal.cursor';
const FILE_POS_KEY = 'file.position';

export function canRead(p: string): boolean {
  try {
    accessSync(p, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/** An opened (not yet started) source, how its lines are framed, and kmsg's replay position. */
export interface OpenedSource {
  source: LogSourcePort;
  framing: Framing | 'auto';
  replayUpToSeq?: number | null;
}

/** The log source to use for a `logs.source` setting; an error with the reason when none is usable. */
export async function openSource(
  spec: string,
  state: { get(key: string): string | null; set(key: string, value: string): void; setMany(entries: Record<string, string>): void; queue(key: string, value: string): void },
  fromStart: boolean,
  /** nflog: the logging rules' counters (the helper's nflogCounters), to count what was logged while no reader was bound. */
  nflogCounters?: ReadCounters,
): Promise<OpenedSource | { error: string }> {
  if (spec === 'nflog') {
    // Binding an NFLOG group and a socket buffer past rmem_max both need CAP_NET_ADMIN.
    if (process.getuid?.() !== 0) return { error: 'nflog needs root (the reader binds an NFLOG group and forces its socket buffer: CAP_NET_ADMIN)' };
    const reader = nflogReaderPath();
    if ('error' in reader) return { error: reader.error };
    // Nothing to resume: NFLOG keeps nothing while no reader is bound — what the rules logged
    // meanwhile is counted from their counters (nflog-ledger.ts). 'nflog' framing: no text lines come.
    const ledger = new NflogLedger(state, nflogCounters ?? (async () => ({ error: 'no helper to read them' })), { bootId: currentBootId() });
    return { source: new NflogSource({ readerPath: reader.path, ledger }), framing: 'nflog' };
  }
  const kmsgOk = canRead('/dev/kmsg');
  if (spec === 'kmsg' || (spec === 'auto' && kmsgOk)) {
    if (!kmsgOk) return { error: '/dev/kmsg cannot be read (run as root)' };
    // Of another boot: -1, everything this boot logged is new (a ring that wrapped since boot lost the rest).
    const saved = storedKmsgPosition(state, KMSG_KEYS, currentBootId());
    if (saved === null) {
      // First run: start at the newest record, and write that position NOW (not with the first
      // batch): if this run is killed before its first flush, the next one still resumes from here
      // instead of from "now", which would lose what was logged in between.
      const newest = newestKmsgSeq() ?? 0;
      state.set(KMSG_SEQ_KEY, String(newest));
      return {
        source: new KmsgSource({ resumeAfterSeq: newest, onSeq: (seq) => state.queue(KMSG_SEQ_KEY, String(seq)) }),
        framing: 'kmsg',
        replayUpToSeq: null,
      };
    }
    return {
      // A saved position: read the whole ring. Records up to it rebuild the detection windows a
      // restart lost (replayed, not stored twice: the position is committed with the packets), the
      // rest are new.
      // The saved position only moves forward: while the ring's old records are re-read, a kill -9
      // must not leave a LOWER position behind (the records between would count as new twice).
      // Records between the saved position and the ring's oldest were overwritten while no one read
      // them: counted and reported (handledUpToSeq), not silently skipped.
      source: new KmsgSource({ startAt: 'oldest', handledUpToSeq: saved, onSeq: (seq) => seq > saved && state.queue(KMSG_SEQ_KEY, String(seq)) }),
      framing: 'kmsg',
      replayUpToSeq: saved,
    };
  }
  if (spec === 'journal' || spec === 'auto') {
    const why = journalUsable();
    if (why === null) {
      return {
        source: new JournalSource({ cursor: state.get(JOURNAL_CURSOR_KEY), onCursor: (c) => state.queue(JOURNAL_CURSOR_KEY, c) }),
        framing: 'journal',
      };
    }
    if (spec === 'journal') return { error: `journald: ${why}` };
  }
  const file = spec.startsWith('file:') ? spec.slice(5) : null;
  for (const f of file ? [file] : DEFAULT_LOG_FILES) {
    if (!canRead(f)) continue;
    const key = `${FILE_POS_KEY}:${f}`;
    let resume: FilePosition | null = null;
    try {
      resume = JSON.parse(state.get(key) ?? 'null') as FilePosition | null;
    } catch {
      resume = null;
    }
    return {
      source: new FileTailSource({ path: f, resume, fromStart, onPosition: (pos) => state.queue(key, JSON.stringify(pos)) }),
      framing: 'auto',
    };
  }
  return { error: file ? `${file} cannot be read` : 'no log source found: /dev/kmsg unreadable, no journald, no kernel log file' };
}

/** The runner switched a logging block to NFLOG at this start: the NFLOG ledger's baseline is new rules (nflog-ledger.ts). */
export function noteNflogRulesRebuilt(state: Pick<LedgerState, 'setMany'>): void {
  nflogRulesRebuilt(state, currentBootId());
}

/**
 * The nflog source reads this run: kmsg's stored position stops moving, so a later kmsg start would
 * count every record overwritten meanwhile as lost and take the ring's old records as new. Forgotten
 * now: kmsg then starts as on a first run, at the ring's newest record (what the ring held from this
 * period is not kmsg's to catch up on: the logging block sent it through NFLOG).
 */
export function forgetKmsgPosition(state: { set(key: string, value: string): void }): void {
  state.set(KMSG_SEQ_KEY, 'none');
}
