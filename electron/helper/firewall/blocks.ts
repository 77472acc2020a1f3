/**
 * Pure text functions for Portcullis's managed blocks in ufw's files (before.rules, before6.rules,
 * after.rules, after6.rules, before.init). No I/O: everything here is unit-tested without root.
 *
 * A managed block is delimited by a line `# BEGIN PORTCULLIS …` and a line `# END PORTCULLIS`
 * (leading whitespace allowed, for the shell hook), so it can be found, replaced and removed without
 * touching a single byte of the user's own lines. Applying the same block twice gives the same file.
 */
import { PORTCULLIS_LOG_PREFIX, PORTCULLIS_NFLOG_GROUP, type LoggingVia } from '../../shared/settings.ts';

export const BLOCK_BEGIN = '# BEGIN PORTCULLIS';
export const BLOCK_END = '# END PORTCULLIS';
const MANAGED_NOTE = '(managed by Portcullis; it rewrites or removes this block, edit outside it)';

/**
 * Which managed block: the first blocks have no name (`# BEGIN PORTCULLIS`); a file that holds two
 * blocks (before.rules: the set block and the forward block) tells them apart by a name joined with a
 * dash (`# BEGIN PORTCULLIS-FORWARD`). A dash, not a space: `# BEGIN PORTCULLIS-FORWARD` is neither a
 * begin line nor an end line of the unnamed block, so each is found, replaced and removed alone — also
 * by an older Portcullis that knows only the unnamed one.
 */
export type BlockName = '' | 'FORWARD';
function delimiters(name: BlockName): { begin: string; end: string } {
  return name === '' ? { begin: BLOCK_BEGIN, end: BLOCK_END } : { begin: `${BLOCK_BEGIN}-${name}`, end: `${BLOCK_END}-${name}` };
}

export type TextResult = { ok: true; text: string } | { ok: false; reason: string };

/** Where a block goes. Lines are compared after trimming, and whole: "COMMIT" never matches a comment mentioning it. */
export type Anchor =
  /** Before the first line exactly equal to `line`. */
  | { kind: 'beforeLine'; line: string }
  /** Before the first line matching `pattern`; else before the line exactly equal to `fallbackLine`. */
  | { kind: 'beforeFirstMatch'; pattern: RegExp; fallbackLine: string }
  /** After the first line matching `pattern`. */
  | { kind: 'afterMatch'; pattern: RegExp };

/** ufw's marker in before.rules / before6.rules: the set match must come before the ESTABLISHED accept. */
export const ESTABLISHED_MARKER = '# quickly process packets for which we already have a connection';

export type Family = 4 | 6;
export const BAN_SET_NAMES = { 4: 'portcullis-ban4', 6: 'portcullis-ban6' } as const;
/** Prefix bans (a scanner rotating its address within a network): hash:net sets beside the address sets. */
export const BAN_NET_SET_NAMES = { 4: 'portcullis-net4', 6: 'portcullis-net6' } as const;
/** ufw names its IPv6 chains ufw6-… (ufw-before-input / ufw6-before-input). */
export const chainPrefix = (family: Family): string => (family === 4 ? 'ufw' : 'ufw6');

/**
 * `ipset create` arguments for a ban set: hash:ip of one family, per-element timeouts allowed with a
 * default of 0 (= no expiry), and a comment per element. Shared by the helper and the before.init hook
 * so `-exist` sees identical parameters (different ones would be an error).
 */
export function banSetCreateArgs(family: Family): string[] {
  return [BAN_SET_NAMES[family], 'hash:ip', 'family', family === 4 ? 'inet' : 'inet6', 'timeout', '0', 'maxelem', '1048576', 'comment'];
}

/** The same for a prefix-ban set: hash:net (networks of any length in one set). */
export function netSetCreateArgs(family: Family): string[] {
  return [BAN_NET_SET_NAMES[family], 'hash:net', 'family', family === 4 ? 'inet' : 'inet6', 'timeout', '0', 'maxelem', '65536', 'comment'];
}

interface BlockSpan {
  start: number;
  end: number; // index of the END line
}

function splitLines(text: string): { lines: string[]; trailingNewline: boolean } {
  const trailingNewline = text.endsWith('\n');
  const lines = (trailingNewline ? text.slice(0, -1) : text).split('\n');
  return { lines, trailingNewline };
}

function joinLines(lines: string[], trailingNewline: boolean): string {
  return lines.join('\n') + (trailingNewline ? '\n' : '');
}

function findSpan(lines: string[], name: BlockName = ''): { ok: true; span: BlockSpan | null } | { ok: false; reason: string } {
  const { begin, end } = delimiters(name);
  const begins: number[] = [];
  const ends: number[] = [];
  lines.forEach((l, i) => {
    const t = l.trim();
    if (t === begin || t.startsWith(`${begin} `)) begins.push(i);
    else if (t === end) ends.push(i);
  });
  if (begins.length === 0 && ends.length === 0) return { ok: true, span: null };
  if (begins.length !== 1 || ends.length !== 1 || ends[0]! < begins[0]!) {
    return {
      ok: false,
      reason: `the file has a damaged Portcullis block (${begins.length} "${begin}" and ${ends.length} "${end}" lines); fix it by hand`,
    };
  }
  return { ok: true, span: { start: begins[0]!, end: ends[0]! } };
}

/** True when the text holds a (well-formed) Portcullis block. */
export function hasBlock(text: string, name: BlockName = ''): boolean {
  const r = findSpan(splitLines(text).lines, name);
  return r.ok && r.span !== null;
}

/** The lines inside the block (without the delimiters), or null when there is none. */
export function blockBody(text: string, name: BlockName = ''): string[] | null {
  const { lines } = splitLines(text);
  const r = findSpan(lines, name);
  if (!r.ok || !r.span) return null;
  return lines.slice(r.span.start + 1, r.span.end);
}

/** The text without its Portcullis block (unchanged when there is none). */
export function withoutBlock(text: string, name: BlockName = ''): TextResult {
  const { lines, trailingNewline } = splitLines(text);
  const r = findSpan(lines, name);
  if (!r.ok) return r;
  if (!r.span) return { ok: true, text };
  lines.splice(r.span.start, r.span.end - r.span.start + 1);
  return { ok: true, text: joinLines(lines, trailingNewline) };
}

function anchorIndex(lines: string[], anchor: Anchor): number | null {
  switch (anchor.kind) {
    case 'beforeLine': {
      const i = lines.findIndex((l) => l.trim() === anchor.line);
      return i < 0 ? null : i;
    }
    case 'beforeFirstMatch': {
      const i = lines.findIndex((l) => anchor.pattern.test(l.trim()));
      if (i >= 0) return i;
      const j = lines.findIndex((l) => l.trim() === anchor.fallbackLine);
      return j < 0 ? null : j;
    }
    case 'afterMatch': {
      const i = lines.findIndex((l) => anchor.pattern.test(l));
      return i < 0 ? null : i + 1;
    }
  }
}

function describeAnchor(anchor: Anchor): string {
  switch (anchor.kind) {
    case 'beforeLine':
      return `the line "${anchor.line}"`;
    case 'beforeFirstMatch':
      return `a line matching ${anchor.pattern} or the line "${anchor.fallbackLine}"`;
    case 'afterMatch':
      return `a line matching ${anchor.pattern}`;
  }
}

/**
 * The text with exactly one Portcullis block holding `body`, placed at `anchor` (an existing block is
 * removed first, so applying twice is the same as applying once). `indent` prefixes the delimiters
 * (for shell scripts).
 */
export function withBlock(text: string, body: readonly string[], anchor: Anchor, indent = '', name: BlockName = ''): TextResult {
  const stripped = withoutBlock(text, name);
  if (!stripped.ok) return stripped;
  const { lines, trailingNewline } = splitLines(stripped.text);
  const at = anchorIndex(lines, anchor);
  if (at === null) return { ok: false, reason: `cannot place the Portcullis block: ${describeAnchor(anchor)} is not in the file` };
  const { begin, end } = delimiters(name);
  lines.splice(at, 0, `${indent}${begin} ${MANAGED_NOTE}`, ...body, `${indent}${end}`);
  return { ok: true, text: joinLines(lines, trailingNewline) };
}

// ---- the blocks -------------------------------------------------------------------------------------

/** before.rules / before6.rules: drop everything from a banned source, ahead of ufw's ESTABLISHED accept. */
export function setBlockRules(family: Family): string[] {
  return [
    '# Drop every packet from a source in the Portcullis ban set, new or established (this runs before',
    "# ufw's ESTABLISHED accept below). Elements carry their own timeouts, so bans expire in the kernel.",
    `-A ${chainPrefix(family)}-before-input -m set --match-set ${BAN_SET_NAMES[family]} src -j DROP`,
    `-A ${chainPrefix(family)}-before-input -m set --match-set ${BAN_NET_SET_NAMES[family]} src -j DROP`,
  ];
}

export const SET_BLOCK_ANCHOR: Anchor = { kind: 'beforeLine', line: ESTABLISHED_MARKER };

/** before.init hook: ufw runs it before loading before.rules, so the sets exist even at boot. */
export function beforeInitBlock(ipsetPath: string): string[] {
  return [
    "    # before.rules matches Portcullis's ban sets; ufw cannot load its rules unless they exist.",
    "    # '|| true': a set that already exists (with any type) must never stop ufw from starting.",
    `    ${ipsetPath} -exist create ${banSetCreateArgs(4).join(' ')} || true`,
    `    ${ipsetPath} -exist create ${banSetCreateArgs(6).join(' ')} || true`,
    `    ${ipsetPath} -exist create ${netSetCreateArgs(4).join(' ')} || true`,
    `    ${ipsetPath} -exist create ${netSetCreateArgs(6).join(' ')} || true`,
  ];
}

export const BEFORE_INIT_ANCHOR: Anchor = { kind: 'afterMatch', pattern: /^\s*start\)\s*$/ };

export interface PerSourceLoggingOptions {
  /** Log lines per source per minute once the burst is spent. */
  ratePerMinute?: number;
  /** Lines a source may produce at once before the rate applies. */
  burst?: number;
  /** LOG (default: kernel records) or NFLOG to Portcullis's group (the nflog source reads it). */
  via?: LoggingVia;
}

/**
 * The block's target: LOG, or its NFLOG twin for the nflog source — the same prefix (the per-source
 * block's by default; the forward block passes its own), the packet's
 * first 2048 bytes (all LOG prints, past any IPv6 extension headers: see the reader's COPY_RANGE), one message per packet sent at once (threshold 1).
 */
export function loggingTarget(via: LoggingVia = 'log', prefix: string = PORTCULLIS_LOG_PREFIX): string {
  return via === 'nflog'
    ? `-j NFLOG --nflog-group ${PORTCULLIS_NFLOG_GROUP} --nflog-prefix "[${prefix}]" --nflog-size 2048 --nflog-threshold 1`
    : `-j LOG --log-prefix "[${prefix}] "`;
}

/** Which target an installed block's lines log through (null: no logging rule in them). */
export function loggingViaOf(body: readonly string[]): LoggingVia | null {
  const rule = body.find((l) => l.startsWith('-A ') && / -j (NFLOG|LOG) /.test(l));
  if (!rule) return null;
  return / -j NFLOG /.test(rule) ? 'nflog' : 'log';
}

export type LoggingRulesResult = { ok: true; rules: string[] } | { ok: false; reason: string };

/**
 * after.rules / after6.rules: log NEW inbound packets that ufw is about to drop, with a budget PER
 * SOURCE (hashlimit, mode srcip) instead of ufw's single `--limit 3/min --limit-burst 10` for all
 * sources. Placed at the START of ufw-after-input: packets accepted by the user's rules never get
 * there, and ufw's own lines below it send 137/138/139/445/67/68 and broadcasts to the policy without
 * logging — a block after them would never see a scan of 445. `--dst-type LOCAL` keeps broadcast and
 * multicast noise out, as ufw does.
 */
export function perSourceLoggingRules(family: Family, opts: PerSourceLoggingOptions = {}): LoggingRulesResult {
  const rate = opts.ratePerMinute ?? 10;
  const burst = opts.burst ?? 20;
  if (!Number.isInteger(rate) || rate < 1 || rate > 10_000) return { ok: false, reason: 'ratePerMinute must be a whole number from 1 to 10000' };
  if (!Number.isInteger(burst) || burst < 1 || burst > 10_000) return { ok: false, reason: 'burst must be a whole number from 1 to 10000' };
  return {
    ok: true,
    rules: [
      "# Log inbound packets about to be dropped with a per-source budget, so one noisy source cannot",
      "# use up the log budget of every other scanner (ufw's own LOG rule shares one budget).",
      `-A ${chainPrefix(family)}-after-input -m conntrack --ctstate NEW -m addrtype --dst-type LOCAL -m hashlimit --hashlimit-mode srcip --hashlimit-upto ${rate}/min --hashlimit-burst ${burst} --hashlimit-name portcullis${family} ${loggingTarget(opts.via)}`,
    ],
  };
}

export function loggingAnchor(family: Family): Anchor {
  const chain = `${chainPrefix(family)}-after-input`;
  return { kind: 'beforeFirstMatch', pattern: new RegExp(`^-A ${chain}\\s`), fallbackLine: 'COMMIT' };
}
