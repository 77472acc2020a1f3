/** Whether the window is narrow (the layout the sidebar folds in, styles.css): screens drop their least needed columns. */
import { useEffect, useState } from 'react';

export const NARROW_QUERY = '(max-width: 1000px)';

export function useNarrow(): boolean {
  const mq = typeof window !== 'undefined' && typeof window.matchMedia === 'function' ? window.matchMedia(NARROW_QUERY) : null;
  const [narrow, setNarrow] = useState(() => mq?.matches ?? false);
  useEffect(() => {
    if (!mq) return;
    const on = () => setNarrow(mq.matches);
    on();
    mq.addEventListener('change', on);
    return () => mq.removeEventListener('change', on);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return narrow;
}
