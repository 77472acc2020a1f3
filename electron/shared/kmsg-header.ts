/**
 * The header of a /dev/kmsg record: "prio,seq,usec,flags[,…];message\n" then optional " KEY=value"
 * dictionary lines; only the first line is the record, prio = facility*8 + level. One reading of
 * the format for the root helper (which passes on kernel-facility records only) and the engine's
 * kmsg source; reading the device stays in each of them (no I/O here).
 */

export interface KmsgRecord {
  facility: number;
  level: number;
  seq: number;
  /** µs since boot. */
  usec: number;
  /** The record's first line ("prio,seq,usec,flags;message"), at most `maxLine` characters. */
  line: string;
}

/** Longest record line the engine passes on; the kernel's own limit is 1 KiB of text (8 KiB with dictionary). */
export const MAX_KMSG_LINE = 8192;

/** The header of a raw record, or null when its first line is not "prio,seq,usec,flags;…". */
export function parseKmsgHeader(raw: string, maxLine: number = MAX_KMSG_LINE): KmsgRecord | null {
  const nl = raw.indexOf('\n');
  const line = (nl < 0 ? raw : raw.slice(0, nl)).slice(0, maxLine);
  const semi = line.indexOf(';');
  if (semi < 0) return null;
  const head = line.slice(0, semi).split(',');
  if (head.length < 4) return null;
  const [prioText, seqText, usecText] = head as [string, string, string];
  if (!/^\d{1,4}$/.test(prioText) || !/^\d{1,20}$/.test(seqText) || !/^\d{1,20}$/.test(usecText)) return null;
  const prio = Number(prioText);
  return { facility: prio >> 3, level: prio & 7, seq: Number(seqText), usec: Number(usecText), line };
}
