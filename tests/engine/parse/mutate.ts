/** Line mutations shared by the parser property tests (the fast lane against parseRecord, lines against random edits). */

export interface LineEdit {
  kind: 'replace' | 'insert' | 'dropToken' | 'repeatToken' | 'widen';
  at: number;
  text: string;
}

/**
 * Applies the edits in order: replace/insert text at a position, drop or repeat the token there,
 * or widen the value after the nearest '=' before it — the damage real logs get (cut, spliced,
 * repeated or overlong fields).
 */
export function applyLineEdits(line: string, edits: readonly LineEdit[]): string {
  let s = line;
  for (const e of edits) {
    const at = e.at % (s.length + 1);
    const tokenStart = s.lastIndexOf(' ', at - 1) + 1;
    let tokenEnd = s.indexOf(' ', at);
    if (tokenEnd < 0) tokenEnd = s.length;
    if (e.kind === 'replace') s = s.slice(0, at) + e.text + s.slice(at + e.text.length);
    else if (e.kind === 'insert') s = s.slice(0, at) + e.text + s.slice(at);
    else if (e.kind === 'dropToken') s = s.slice(0, tokenStart) + s.slice(tokenEnd + 1);
    else if (e.kind === 'repeatToken') s = s.slice(0, tokenEnd) + ' ' + s.slice(tokenStart, tokenEnd) + s.slice(tokenEnd);
    else {
      const eq = s.lastIndexOf('=', at);
      if (eq >= 0) s = s.slice(0, eq + 1) + e.text + s.slice(eq + 1);
    }
  }
  return s;
}
