/**
 * Whole numbers written with thousands separators ("3,600,000"), as `n.toLocaleString('en-US')`
 * writes them. Why not toLocaleString: its first call loads ICU's number formatting, ~27 ms and
 * ~10 MB of RSS, and the settings schemas call it while their module loads — in every process that
 * imports them (`portcullis run` at idle, every replay) for a handful of error messages.
 */
export function groupDigits(n: number): string {
  // Anything but a safe whole number (never the case here) keeps the exact en-US text.
  if (!Number.isSafeInteger(n)) return n.toLocaleString('en-US');
  const digits = String(Math.abs(n));
  let out = digits.slice(0, ((digits.length - 1) % 3) + 1);
  for (let i = out.length; i < digits.length; i += 3) out += ',' + digits.slice(i, i + 3);
  return n < 0 ? '-' + out : out;
}
