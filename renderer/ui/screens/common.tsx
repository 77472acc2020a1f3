/** Small pieces shared by several screens. */
import { useRef, useState, type ReactNode } from 'react';
import type { Result } from '../../store/store.ts';
import { useVirtualizer } from '@tanstack/react-virtual';
import type { Offender, OffenderState } from '../../../electron/shared/model.ts';
import { selectStateLabel } from '../../store/selectors.ts';
import { useApp } from '../context.ts';

const STATE_CLASS: Record<OffenderState, string> = {
  watching: 'badge-warn',
  banned: 'badge-error',
  whitelisted: 'badge-ok',
  expired: 'badge-muted',
};

export function StateBadge({ state, label }: { state: OffenderState; label?: string }) {
  return <span className={`badge ${STATE_CLASS[state]}`}>{label ?? state}</span>;
}

/** An offender's state as every screen shows it: a lifted ban reads "unbanned", one that ran out "expired". */
export function OffenderStateBadge({ o }: { o: Pick<Offender, 'ip' | 'state'> }) {
  const label = useApp(selectStateLabel(o));
  return <StateBadge state={o.state} label={label} />;
}

export interface Column<T> {
  key: string;
  label: string;
  /** CSS grid track, e.g. "120px" or "1fr". */
  width: string;
  render: (row: T) => ReactNode;
  className?: string;
}

/**
 * A virtualised table: only the rows in view exist in the DOM, every row has the same fixed
 * height (no layout jumps while rows stream in), and 100k rows scroll like 100.
 */
/** Row padding and column gap of .vtable-row (styles.css). */
const VTABLE_PADDING_PX = 24;
const VTABLE_GAP_PX = 10;

/** The narrowest a row can be: each column's minimum (`96px`, or the first size of `minmax(130px, 1fr)`), gaps and padding. */
export function minTableWidth(widths: string[]): number {
  let sum = VTABLE_PADDING_PX + VTABLE_GAP_PX * Math.max(0, widths.length - 1);
  for (const w of widths) {
    const m = /^(?:minmax\(\s*)?(\d+(?:\.\d+)?)px/.exec(w.trim());
    sum += m ? Number(m[1]) : 0;
  }
  return sum;
}

export function VirtualTable<T>({
  rows,
  columns,
  rowKey,
  label,
  height,
  rowHeight = 32,
  empty,
  testId,
}: {
  rows: readonly T[];
  columns: Column<T>[];
  rowKey: (row: T) => string | number;
  label: string;
  height: number | string;
  rowHeight?: number;
  empty?: ReactNode;
  testId?: string;
}) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => rowHeight,
    overscan: 12,
    getItemKey: (i) => rowKey(rows[i]!),
  });
  const template = columns.map((c) => c.width).join(' ');
  // In a narrow window the columns keep their minimum widths and the table scrolls sideways: the
  // rows are at least this wide, and the header follows the body's horizontal scroll (it stayed
  // put, so "Source" ended up above the timestamps).
  const minWidth = minTableWidth(columns.map((c) => c.width));
  const headRef = useRef<HTMLDivElement>(null);
  return (
    <div className="vtable" role="table" aria-label={label} aria-rowcount={rows.length + 1} data-testid={testId}>
      <div className="vtable-head" role="rowgroup" ref={headRef}>
        <div className="vtable-row" role="row" style={{ gridTemplateColumns: template, minWidth }}>
          {columns.map((c) => (
            <div key={c.key} role="columnheader" className={c.className}>
              {c.label}
            </div>
          ))}
        </div>
      </div>
      <div
        className="vtable-body"
        ref={scrollRef}
        style={{ height }}
        role="rowgroup"
        tabIndex={0}
        aria-label={`${label} rows`}
        onScroll={(e) => {
          if (headRef.current) headRef.current.scrollLeft = e.currentTarget.scrollLeft;
        }}
      >
        {rows.length === 0 && empty ? <div className="vtable-empty muted">{empty}</div> : null}
        <div style={{ height: virtualizer.getTotalSize(), position: 'relative', minWidth }}>
          {virtualizer.getVirtualItems().map((v) => {
            const row = rows[v.index]!;
            return (
              <div
                key={v.key}
                className={`vtable-row ${v.index % 2 ? 'odd' : ''}`}
                role="row"
                aria-rowindex={v.index + 2}
                style={{ gridTemplateColumns: template, height: rowHeight, transform: `translateY(${v.start}px)` }}
              >
                {columns.map((c) => (
                  <div key={c.key} role="cell" className={c.className}>
                    {c.render(row)}
                  </div>
                ))}
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}

export function Field({ label, error, hint, children, id }: { label: string; error?: string | null; hint?: string; children: ReactNode; id: string }) {
  return (
    <div className={`field ${error ? 'field-invalid' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children}
      {/* Reserved line: an error appearing does not push the form around. */}
      <div className="field-msg" id={`${id}-msg`} role={error ? 'alert' : undefined}>
        {error ?? hint ?? ''}
      </div>
    </div>
  );
}

/** A change the service refused until the user confirms it: its reason, and the button that applies it anyway. */
export interface PendingConfirmation {
  message: string;
  label: string;
  run: () => Promise<Result>;
}

/**
 * Runs a change unconfirmed; when the service answers that it needs confirmation (it would cut a
 * connection), keeps the question so `<ConfirmAsk>` can show it.
 */
export function useConfirmable(): [PendingConfirmation | null, (label: string, run: (confirm: boolean) => Promise<Result>) => Promise<void>, () => void] {
  const [ask, setAsk] = useState<PendingConfirmation | null>(null);
  const attempt = async (label: string, run: (confirm: boolean) => Promise<Result>) => {
    const r = await run(false);
    setAsk(!r.ok && r.needsConfirmation ? { message: r.error, label, run: () => run(true) } : null);
  };
  return [ask, attempt, () => setAsk(null)];
}

export function ConfirmAsk({ ask, onDone, testId }: { ask: PendingConfirmation | null; onDone: () => void; testId?: string }) {
  if (!ask) return null;
  return (
    <div className="confirm-ask row gap wrap" role="alert" data-testid={testId}>
      <span className="warn-text">{ask.message.charAt(0).toUpperCase() + ask.message.slice(1)}.</span>
      <button
        type="button"
        className="danger"
        onClick={async () => {
          if ((await ask.run()).ok) onDone();
        }}
      >
        {ask.label}
      </button>
      <button type="button" className="ghost" onClick={onDone}>
        Cancel
      </button>
    </div>
  );
}
