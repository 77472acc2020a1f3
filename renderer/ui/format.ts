/** Display formatting only. */
import { useEffect, useState } from 'react';

export function fmtTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms);
  return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

export function fmtDateTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms);
  return `${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${fmtTime(ms)}`;
}

export function fmtAge(ms: number | null | undefined, now: number): string {
  if (ms === null || ms === undefined) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** A duration for display; the number and its unit are joined by a no-break space (a narrow cell put "1" and "h" on two lines). */
export function fmtDuration(sec: number): string {
  // 0 is a multiple of a day too: it read "0 d".
  if (sec === 0) return '0\u00a0s';
  if (sec % 86400 === 0) return `${sec / 86400}\u00a0d`;
  if (sec % 3600 === 0) return `${sec / 3600}\u00a0h`;
  if (sec % 60 === 0) return `${sec / 60}\u00a0min`;
  return `${sec}\u00a0s`;
}

export function fmtCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** A clock for "x s ago" labels; display only. */
export function useNow(periodMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), periodMs);
    return () => clearInterval(t);
  }, [periodMs]);
  return now;
}
