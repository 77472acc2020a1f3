/**
 * `portcullis replay <file|->`: what would have been detected and banned in a log — the
 * fail2ban-regex of Portcullis. Reads the input in big chunks, runs the real engine in EVENT time
 * (the records' own timestamps), prints a human summary, or with --json one JSON object per line:
 *
 *   {"type":"ban","ip":…,"at":ISO,"until":ISO|null,"strikes":n,"scanType":…,"ports":[…],"hits":n,"timeBase":…}
 *   {"type":"ban-deferred","ip":…,"at":ISO,"queued":n,"timeBase":…}      (held back by the per-minute cap)
 *   {"type":"unban","ip":…,"at":ISO,"why":"expired","timeBase":…}         (a ban ran out within the log's span)
 *   {"type":"summary","lines":…,"packets":…,"rejected":{…},"ignored":{…},"counted":…,"guestRecords":…,
 *    "distinctSources":…,"bans":[{"ip","at","until","scanType","ports","hits","strikes"}],
 *    "deferred":[ip…],"framing":…,"firstTime":…,"lastTime":…,"timeBase":…,
 *    "requireKernelTrust":false,"settings":{…}}     ← always the LAST line
 *
 * Times ("at", "until") are ISO-8601 UTC strings. Syslog stamps without a year take --year (default:
 * this year); kmsg/dmesg monotonic stamps count from boot (shown from 1970-01-01T00:00:00Z = boot)
 * unless --boot-time dates them: "timeBase" says which, "wall" or "boot".
 * Kernel trust is not required in a replay (a log file is spoofable by nature): said in the output.
 * Compressed input: gzip (rotated logs: ufw.log.2.gz) is recognised by its magic bytes, whatever the
 * name, from a file or standard input, and read through zlib; bzip2, xz and zstd are named in a clear
 * error instead of being replayed as binary lines.
 * Exit codes: 0 done, 1 input unreadable, 2 invalid flags.
 */
import { closeSync, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline, Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { createGunzip } from 'node:zlib';
import type { EngineEvent } from '../shared/model.ts';
import type { Framing } from '../shared/packet.ts';
import { DEFAULT_SETTINGS, validateSettings, type Settings } from '../shared/settings.ts';
import { normalisePrefix } from '../engine/detect/classify.ts';
import { kmsgBootTimeMs } from '../engine/logs/kmsg.ts';
import { ReplaySession } from '../engine/replay.ts';
import type { CliCommand } from './cli-command.ts';
import { ParseWorkerError, ReplayPipeline } from './replay-pipeline.ts';
import { eventJson, humanReport, inputName, num, summaryJson } from './replay-report.ts';
import { compressionOf, discardEarlyParseWorker, isPlainFile, MAGIC_BYTES, REPLAY_OPTIONS, workerMinBytes } from './replay-start.ts';
import { StreamChoice } from './replay-stream-choice.ts';
import { errorText } from '../shared/errors.ts';

const FORMATS = ['auto', 'syslog', 'kmsg', 'journal', 'dmesg', 'pve', 'logread'] as const;
const CHUNK_BYTES = 1 << 20;

const HELP = `Usage: portcullis replay <file|-> [options]

Replays a firewall log through the Portcullis engine in event time and reports what it would
have detected and banned. Nothing is banned: this only reads the file ("-" reads standard input).
A gzip-compressed log (ufw.log.2.gz) is read as it is.

Options:
  --format F           auto (default), syslog, kmsg, journal, dmesg, pve (Proxmox VE
                       /var/log/pve-firewall.log) or logread (OpenWrt's logread). In a Proxmox VE
                       log a guest's records count: what a VM's or container's inbound chain
                       (tap100i0-IN, veth101i0-IN) logged is a probe of that guest, though the host
                       only bridged it (its outbound chain's records are the guest's own traffic,
                       not counted). Its drops are counted with --prefix "policy DROP"
  --kernel-only        count only the kernel's firewall lines, as the live engine does; others
                       are rejected as untrusted-transport. By default a replay counts every line
                       carrying netfilter LOG fields (IN= … SRC= …) whatever program wrote it: a
                       router's log forwarded to a syslog server under its own tag is the usual case
                       (--any-program, the old switch for that, is still accepted)
  --maxretry N         probes within the window that make a scan (default ${DEFAULT_SETTINGS.detection.maxretry})
  --findtime SEC       sliding window in seconds (default ${DEFAULT_SETTINGS.detection.findtimeSec})
  --min-ports N        distinct destination ports those probes must touch (default ${DEFAULT_SETTINGS.detection.minDistinctPorts})
  --ipv6-prefix N      IPv6 sources are also tracked by their /N network (48-128, default ${DEFAULT_SETTINGS.detection.ipv6PrefixLength};
                       128: addresses only); a network that scans is banned whole, with the addresses seen
  --ipv4-prefix N      the same for IPv4 /N networks (16-32, e.g. 24; default: addresses only)
  --whitelist CIDR     never count or ban these sources (repeatable; loopback always is)
  --open-port P[/tcp|/udp]  a port the firewall allows (repeatable): probes to it are not scan evidence,
                       like live mode, which asks ufw (default: both protocols; always both IPv4 and IPv6)
  --prefix TEXT        also count records with this log prefix as blocked, e.g. "PORT DENIED:" (repeatable;
                       counted by default: ${DEFAULT_SETTINGS.detection.prefixes.join(', ')})
  --bantime SEC        ban length (default ${DEFAULT_SETTINGS.ban.bantimeSec})
  --max-bans-per-minute N  cap on new bans per minute (default ${DEFAULT_SETTINGS.ban.maxNewBansPerMinute})
  --year YYYY          year of syslog stamps that have none (default: the year that keeps the first
                       stamp out of the future; a log across New Year rolls over)
  --boot-time T        when the machine booted, to date kmsg/dmesg stamps (which count from boot):
                       an ISO 8601 time, or "now" for this machine's own boot (its dmesg); without it
                       those times are shown as time since boot
  --json               one JSON object per line: each ban as it happens, the summary last;
                       "timeBase" says what their times count from: "wall" (dates), or "boot"
                       (kmsg/dmesg stamps without --boot-time: 1970-01-01T00:00:00Z is the boot)
  --single-thread      parse and detect in this thread only (by default a worker thread parses a
                       file of 48 MiB or more, or a plain stream past its first 8 MiB or 0.1 s,
                       while this one detects: a big file ~1.3x as fast on two cores, a pipe
                       ~1.1x, ~15 MB more memory; by default a smaller file, or a stream that
                       ends sooner, is one thread (PORTCULLIS_REPLAY_WORKER_BYTES=N sets both
                       sizes in bytes, 0 for any input), and gzip input always is)
  --help               this text

Kernel trust is not required in a replay: lines of a plain log file could have been written by any
local user, which the live engine refuses; the replay counts them to show what they contain.`;

type Flags = {
  format?: string;
  maxretry?: string;
  findtime?: string;
  'min-ports'?: string;
  'ipv6-prefix'?: string;
  'ipv4-prefix'?: string;
  whitelist?: string[];
  prefix?: string[];
  bantime?: string;
  'max-bans-per-minute'?: string;
  'open-port'?: string[];
  year?: string;
  'boot-time'?: string;
  json?: boolean;
  'single-thread'?: boolean;
  'any-program'?: boolean;
  'kernel-only'?: boolean;
  help?: boolean;
};

/** Settings paths shown as the flag the user typed. */
const FLAG_OF_PATH: [string, string][] = [
  ['detection.maxretry', '--maxretry'],
  ['detection.findtimeSec', '--findtime'],
  ['detection.minDistinctPorts', '--min-ports'],
  ['detection.ipv6PrefixLength', '--ipv6-prefix'],
  ['detection.ipv4PrefixLength', '--ipv4-prefix'],
  ['detection.prefixes', '--prefix'],
  ['whitelist.entries', '--whitelist'],
  ['ban.bantimeSec', '--bantime'],
  ['ban.maxbantimeSec', '--bantime'],
  ['ban.maxNewBansPerMinute', '--max-bans-per-minute'],
];

export { compressionOf } from './replay-start.ts';

export type ReplayArgs =
  | { ok: true; help: true }
  | { ok: false; error: string }
  | { ok: true; help: false; input: string; framing: Framing | 'auto'; year?: number; bootTimeMs?: number; json: boolean; singleThread: boolean; settings: Settings; openPorts: string[]; anyProgram?: boolean };

function wholeNumber(flag: string, text: string | undefined, out: string[]): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\s*-?\d+\s*$/.test(text)) {
    out.push(`${flag}: "${text}" is not a whole number`);
    return undefined;
  }
  const n = Number(text);
  if (!Number.isSafeInteger(n)) {
    // One clear refusal here, not the schema's two (a range and "expected int to be <= 9007199254740991").
    out.push(`${flag}: ${text.trim()} is far too large`);
    return undefined;
  }
  return n;
}

/** Parses and validates the command line; every refusal names the flag and why. */
export function parseReplayArgs(argv: string[]): ReplayArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: REPLAY_OPTIONS,
    });
  } catch (e) {
    return { ok: false, error: errorText(e) };
  }
  const f = parsed.values as Flags;
  if (f.help) return { ok: true, help: true };
  const errors: string[] = [];
  if (parsed.positionals.length === 0) errors.push('missing the log file to replay (a path, or "-" for standard input)');
  if (parsed.positionals.length > 1) errors.push(`one input at a time (got ${parsed.positionals.length}: ${parsed.positionals.join(' ')})`);
  const format = (f.format ?? 'auto').trim();
  if (!(FORMATS as readonly string[]).includes(format)) errors.push(`--format: "${format}" is not one of ${FORMATS.join(', ')}`);
  const maxretry = wholeNumber('--maxretry', f.maxretry, errors);
  const findtime = wholeNumber('--findtime', f.findtime, errors);
  const minPorts = wholeNumber('--min-ports', f['min-ports'], errors);
  const v6Prefix = wholeNumber('--ipv6-prefix', f['ipv6-prefix'], errors);
  const v4Prefix = wholeNumber('--ipv4-prefix', f['ipv4-prefix'], errors);
  const bantime = wholeNumber('--bantime', f.bantime, errors);
  const maxBans = wholeNumber('--max-bans-per-minute', f['max-bans-per-minute'], errors);
  const year = wholeNumber('--year', f.year, errors);
  if (year !== undefined && (year < 1970 || year > 9999)) errors.push(`--year: ${year} is not a year between 1970 and 9999`);
  let bootTimeMs: number | undefined;
  const bootText = f['boot-time']?.trim();
  if (bootText !== undefined) {
    bootTimeMs = bootText === 'now' ? kmsgBootTimeMs() : /^\d{4}-\d{2}-\d{2}T/.test(bootText) ? Date.parse(bootText) : NaN;
    if (!Number.isFinite(bootTimeMs)) errors.push(`--boot-time: "${f['boot-time']}" is not an ISO 8601 time (e.g. 2026-11-29T08:00:00Z) or "now"`);
  }
  const openPorts: string[] = [];
  for (const text of f['open-port'] ?? []) {
    const m = /^\s*(\d{1,5})(?:\/(tcp|udp))?\s*$/i.exec(text);
    const port = m ? Number(m[1]) : NaN;
    if (!m || port < 1 || port > 65535) errors.push(`--open-port: "${text}" is not a port (1-65535), optionally with /tcp or /udp`);
    else if (m[2]) openPorts.push(`${m[2].toLowerCase()}/${port}`);
    else openPorts.push(`tcp/${port}`, `udp/${port}`);
  }
  if (errors.length) return { ok: false, error: errors.join('\n') };
  openPorts.splice(0, openPorts.length, ...new Set(openPorts));

  const d = DEFAULT_SETTINGS;
  const input = {
    detection: {
      ...d.detection,
      ...(maxretry !== undefined ? { maxretry } : {}),
      ...(findtime !== undefined ? { findtimeSec: findtime } : {}),
      ...(minPorts !== undefined ? { minDistinctPorts: minPorts } : {}),
      ...(v6Prefix !== undefined ? { ipv6PrefixLength: v6Prefix } : {}),
      ...(v4Prefix !== undefined ? { ipv4PrefixLength: v4Prefix } : {}),
      // As the engine reads them (no brackets, no outer blanks), each once.
      prefixes: [...new Set([...d.detection.prefixes, ...(f.prefix ?? [])].map(normalisePrefix))],
      requireKernelTrust: false,
    },
    ban: {
      ...d.ban,
      ...(bantime !== undefined ? { bantimeSec: bantime, maxbantimeSec: Math.max(bantime, d.ban.maxbantimeSec) } : {}),
      ...(maxBans !== undefined ? { maxNewBansPerMinute: maxBans } : {}),
    },
    whitelist: { entries: f.whitelist ?? [], includeGateway: false },
  };
  const check = validateSettings(input);
  if (!check.ok) {
    let msg = check.error;
    for (const [path, flag] of FLAG_OF_PATH) msg = msg.split(path).join(flag);
    // "--whitelist.0: …" → "--whitelist: …" (the message quotes the value already).
    msg = msg.replace(/^(--[a-z-]+)\.\d+:/gm, '$1:');
    return { ok: false, error: msg };
  }
  const out: ReplayArgs = { ok: true, help: false, input: parsed.positionals[0]!, framing: format as Framing | 'auto', json: !!f.json, singleThread: !!f['single-thread'], settings: check.settings, openPorts };
  if (year !== undefined) out.year = year;
  // A replay analyses a file: lines any program wrote count (issue 12.3) unless --kernel-only.
  if (f['any-program'] && f['kernel-only']) return { ok: false, error: '--any-program and --kernel-only contradict each other' };
  if (!f['kernel-only']) out.anyProgram = true;
  if (bootTimeMs !== undefined) out.bootTimeMs = bootTimeMs;
  return out;
}

class UnsupportedCompression extends Error {}

function unsupported(input: string, c: { other: string; tool: string }): UnsupportedCompression {
  const name = input === '-' ? 'FILE' : input;
  return new UnsupportedCompression(`${c.other}-compressed; only gzip is read directly. Decompress it first: ${c.tool} ${name} | portcullis replay -`);
}

/** How the input is named in messages. */

/**
 * A plain regular file (isPlainFile) read into ONE reused buffer (the splitter copies what it keeps
 * of a partial line; stream chunks would each linger until the next GC, ~10 MB more peak RSS).
 */
function pushRegularFile(input: string, push: (chunk: Uint8Array) => void): void {
  const fd = openSync(input, 'r');
  try {
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    for (let n = readSync(fd, buf, 0, CHUNK_BYTES, null); n > 0; n = readSync(fd, buf, 0, CHUNK_BYTES, null)) push(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
}

/** The size of the regular file standard input is redirected from, or null (a pipe, a terminal, none). */
function stdinFileSize(): number | null {
  try {
    const st = fstatSync(0);
    return st.isFile() ? st.size : null;
  } catch {
    return null;
  }
}

async function* stdinChunks(): AsyncGenerator<Uint8Array> {
  for await (const chunk of process.stdin) yield typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
}

/**
 * The input's bytes in chunks: gunzipped when they start as gzip, refused when another compressor
 * made them. The first chunks are gathered until they hold a whole magic number: a pipe may hand
 * over a single byte first (`ssh host cat log.gz |`).
 */
async function* decompressed(input: string, chunks: AsyncIterable<Uint8Array>, kindKnown: (gzip: boolean) => void): AsyncGenerator<Uint8Array> {
  const it = chunks[Symbol.asyncIterator]();
  const rest: AsyncIterable<Uint8Array> = { [Symbol.asyncIterator]: () => it };
  const heads: Uint8Array[] = [];
  let have = 0;
  while (have < MAGIC_BYTES) {
    const next = await it.next();
    if (next.done) break;
    heads.push(next.value);
    have += next.value.length;
  }
  if (have === 0) return;
  const first = heads.length === 1 ? heads[0]! : Buffer.concat(heads);
  const kind = compressionOf(first);
  if (kind === 'gzip' || kind === 'plain') kindKnown(kind === 'gzip');
  if (kind === 'plain') {
    yield first;
    yield* rest;
    return;
  }
  if (kind !== 'gzip') throw unsupported(input, kind);
  async function* raw(): AsyncGenerator<Uint8Array> {
    yield first;
    yield* rest;
  }
  // Several gzip members one after another (`cat a.gz b.gz`) are read as one stream, like zcat does.
  // Output in 256 KiB pieces: zlib's default 16 KiB made every piece a parse and a batch of its own
  // (a 1M-line gzip took ~2.5 s; now ~1.5 s), and 1 MiB pieces held ~10 MB more for nothing.
  // pipeline(): an error of either side ends both, and reaches the loop reading the output (with
  // pipe(), an input closed after a gzip error was an unhandled 'error' event).
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  pipeline(Readable.from(raw()), gunzip, () => undefined);
  yield* gunzip as AsyncIterable<Uint8Array>;
}

/**
 * Standard input, a pipe, a FIFO, a compressed file: opened once and streamed (opening a pipe a
 * second time would lose what the first read took, or wait for a writer forever), gunzipped when
 * it is gzip.
 */
async function streamInput(input: string, consumer: (gzip: boolean) => (chunk: Uint8Array) => Promise<void>): Promise<void> {
  const stream = input === '-' ? process.stdin : createReadStream(input, { highWaterMark: CHUNK_BYTES });
  try {
    const chunks = input === '-' ? stdinChunks() : (stream as AsyncIterable<Uint8Array>);
    let push: ((chunk: Uint8Array) => Promise<void>) | null = null;
    for await (const chunk of decompressed(input, chunks, (gzip) => (push = consumer(gzip)))) await push!(chunk);
  } finally {
    // Done or failed, the input is closed: a writer still holding the pipe open (a refused or
    // broken gzip, then `sleep`) must not keep the command waiting for it.
    stream.destroy();
  }
}

function readError(input: string, e: unknown): string {
  if (e instanceof UnsupportedCompression) return `portcullis replay: cannot read ${inputName(input)}: ${e.message}`;
  // Not the input's fault: the parse worker itself failed or stopped (--single-thread replays without it).
  if (e instanceof Error && !(e instanceof ParseWorkerError) && e.message.startsWith('the parse worker ')) {
    return `portcullis replay: ${e.message} (--single-thread replays without it)`;
  }
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  // A read or gzip error carries a code (ENOENT, EIO, Z_DATA_ERROR…); anything else is ours, not the input's.
  if (typeof code !== 'string') return `portcullis replay: internal error while replaying ${inputName(input)}: ${errorText(e)}`;
  const why =
    code === 'ENOENT' ? 'no such file' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : errorText(e);
  return `portcullis replay: cannot read ${inputName(input)}: ${why}`;
}

export const replayCommand: CliCommand = {
  summary: 'What would have been detected and banned in a log (the fail2ban-regex of Portcullis)',
  async run(argv: string[]): Promise<number> {
    try {
      return await replay(argv);
    } finally {
      // A parse worker started early (replay-start.ts) that this replay did not take.
      await discardEarlyParseWorker();
    }
  },
};

async function replay(argv: string[]): Promise<number> {
  const args = parseReplayArgs(argv);
  if (!args.ok) {
    console.error(`portcullis replay: ${args.error.split('\n').join('\nportcullis replay: ')}\nRun \`portcullis replay --help\` for the options.`);
    return 2;
  }
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  const { input, json } = args;
  /** The input's size when it is a regular file (given by name, or standard input redirected from one), else null. */
  let fileSize: number | null = null;
  if (input !== '-') {
    try {
      const st = await stat(input);
      if (st.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
      if (st.isFile()) fileSize = st.size;
    } catch (e) {
      console.error(readError(input, e));
      return 1;
    }
  }
  // Standard input redirected from a file (`< ufw.log`) is read as that file, as a file given by name
  // is (its stream of 64 KiB reads through the thread pool made it the slowest way in).
  if (input === '-') fileSize = stdinFileSize();
  const readPath = input === '-' && fileSize !== null ? '/dev/stdin' : input;
  const pending: string[] = [];
  const open = new Set(args.openPorts);
  const session = new ReplaySession({
    settings: args.settings,
    // Open to IPv4 and IPv6 alike: the log of another host says nothing of its rules' families, and a
    // port opened by hand is usually open to both (ufw's `allow 22` is); live mode asks per family.
    ...(open.size ? { isAllowedPort: (_family: 4 | 6, proto: 'tcp' | 'udp', port: number) => open.has(`${proto}/${port}`) } : {}),
    framing: args.framing,
    ...(args.year !== undefined ? { year: args.year } : {}),
    ...(args.bootTimeMs !== undefined ? { bootTimeMs: args.bootTimeMs } : {}),
    ...(args.anyProgram ? { anyProgram: true } : {}),
    ...(json
      ? {
          onEvent: (e: EngineEvent) => {
            const j = eventJson(e, session.timeBase);
            if (j) pending.push(JSON.stringify(j));
          },
        }
      : {}),
  });
  const flushEvents = () => {
    if (pending.length) {
      // Bans are printed as they happen (per chunk), not held until the end.
      process.stdout.write(pending.join('\n') + '\n');
      pending.length = 0;
    }
  };
  let failure: unknown = null;
  const pushNow = (chunk: Uint8Array) => {
    session.push(chunk);
    flushEvents();
  };
  const pushHere = async (chunk: Uint8Array) => pushNow(chunk);
  // (set inside the stream's consumer too, hence not narrowed to null)
  let pipeline = null as ReplayPipeline | null;
  try {
    if (fileSize !== null && isPlainFile(readPath)) {
      // A small file: one thread (replay-start.ts, WORKER_MIN_BYTES).
      if (args.singleThread || fileSize < workerMinBytes()) pushRegularFile(readPath, pushNow);
      else {
        // A worker thread reads and parses the file while this one runs the engine
        // (replay-pipeline.ts); bans are printed as the records reach the engine.
        pipeline = new ReplayPipeline(session, readPath, flushEvents);
        await pipeline.end(false);
      }
    } else {
      // A stream, or a compressed file. A plain stream is parsed by a worker too (this thread
      // reads it and runs the engine). Gunzipping is this thread's, and with it the engine alone
      // keeps it busy: a gzip input stays on one thread (measured: as fast, ~30 MB less memory).
      // A small stream stays on this thread too, once it shows it is small (replay-stream-choice.ts).
      let inputFailure: unknown = null;
      let choice = null as StreamChoice | null;
      try {
        await streamInput(input, (gzip) => {
          if (gzip || args.singleThread) return pushHere;
          const startPipeline = () => {
            const p = (pipeline = new ReplayPipeline(session, undefined, flushEvents));
            return (chunk: Uint8Array) => p.push(chunk);
          };
          const c = (choice = new StreamChoice(pushHere, startPipeline, workerMinBytes(true)));
          return (chunk) => c.push(chunk);
        });
      } catch (e) {
        inputFailure = e;
      }
      // What was read before a failure is still parsed and counted.
      await choice?.end();
      await pipeline?.end();
      if (inputFailure !== null) throw inputFailure;
    }
  } catch (e) {
    failure = e;
    await pipeline?.abort();
  }
  const summary = session.end();
  const message = failure === null ? null : readError(input, failure);
  if (message !== null && summary.lines === 0) {
    console.error(message);
    return 1;
  }
  // Input that fails part-way (a cut gzip, a read error): what was read is still reported, and said to be partial.
  if (json) {
    const s = summaryJson(summary, args.settings, session.whitelist(), args.openPorts);
    if (message !== null) s['error'] = message.replace(/^portcullis replay: /, '');
    pending.push(JSON.stringify(s));
    process.stdout.write(pending.join('\n') + '\n');
  } else {
    process.stdout.write(humanReport(input, summary, args.settings, session.whitelist(), args.openPorts) + '\n');
  }
  if (process.env.PORTCULLIS_REPLAY_TIMING === '1') printTiming(pipeline);
  if (message !== null) {
    console.error(`${message}\nportcullis replay: the summary covers the ${num(summary.lines)} line(s) read before that.`);
    return 1;
  }
  return 0;
}

/**
 * PORTCULLIS_REPLAY_TIMING=1 (the engine bench sets it): one line on standard error saying where
 * the time went, in ms since the process started — when the output was written, and with a parse
 * worker when this thread had loaded the command and started the pipeline, when its first records reached the engine, how long the engine worked on records, when
 * the worker was done and how long it waited for the engine. The bench takes the rest (start-up,
 * exit) from its own clock around the whole process.
 */
function printTiming(pipeline: ReplayPipeline | null): void {
  const round = (n: number | null) => (n === null ? null : Math.round(n));
  const t = pipeline?.timing;
  const timing = {
    outputAt: round(performance.now()),
    ...(t
      ? { startAt: round(t.startAt), firstBatchAt: round(t.firstBatchAt), parseReadyAt: round(t.parseReadyAt), detectMs: round(t.detectMs), batches: t.batches, parseEndedAt: round(t.parseEndedAt), parseWaitedMs: round(t.parseWaitedMs) }
      : {}),
  };
  process.stderr.write(`portcullis replay timing: ${JSON.stringify(timing)}\n`);
}
