/** The toasts: a short list, the same message again replacing the earlier one. */
export interface Notice {
  id: number;
  level: 'info' | 'warn' | 'error';
  message: string;
  /** An action offered with the message (e.g. "Undo" after a removal). */
  action?: { label: string; run: () => void };
}

export const MAX_NOTICES = 5;

let noticeSeq = 0;

/** The notices with one more; the same message again replaces the earlier one (no stack of copies). */
export function withNotice(notices: Notice[], level: Notice['level'], message: string, action?: Notice['action']): Notice[] {
  const n: Notice = action ? { id: ++noticeSeq, level, message, action } : { id: ++noticeSeq, level, message };
  return [...notices.filter((x) => x.level !== level || x.message !== message), n].slice(-MAX_NOTICES);
}
