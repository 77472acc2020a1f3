/** Navigation icons as inline SVG (stroke = currentColor), so they follow the theme and need no font. */
import type { ScreenId } from '../store/store.ts';

const PATHS: Record<ScreenId, string> = {
  dashboard: 'M3 3h8v10H3zM13 3h8v6h-8zM13 11h8v10h-8zM3 15h8v6H3z',
  packets: 'M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18M5.6 5.6l12.8 12.8',
  offenders: 'M5 21V4M5 4h11l-2 4 2 4H5',
  rules: 'M4 6h16M4 12h16M4 18h10',
  whitelist: 'M12 3l8 3v6c0 5-3.5 8-8 9c-4.5-1-8-4-8-9V6zM8.5 12l2.5 2.5 4.5-5',
  thresholds: 'M4 20h16M7 20V10M12 20V4M17 20v-7',
  doctor: 'M12 21s-7-4.5-9-9.5C1.5 7.5 4 4 7.5 4c2 0 3.5 1 4.5 2.5C13 5 14.5 4 16.5 4C20 4 22.5 7.5 21 11.5c-2 5-9 9.5-9 9.5zM8 12h2l1.5-3 2 5 1.5-2h2',
  settings: 'M12 8.5a3.5 3.5 0 1 0 0 7a3.5 3.5 0 1 0 0-7M12 2v3M12 19v3M2 12h3M19 12h3M4.9 4.9l2.1 2.1M17 17l2.1 2.1M4.9 19.1L7 17M17 7l2.1-2.1',
};

export function NavIcon({ id }: { id: ScreenId }) {
  return (
    <svg viewBox="0 0 24 24" width="18" height="18" fill="none" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" strokeLinejoin="round" aria-hidden="true">
      <path d={PATHS[id]} />
    </svg>
  );
}
