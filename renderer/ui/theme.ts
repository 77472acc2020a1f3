/** The theme remembered between starts, read before the first paint by public/theme-boot.js (same key). */
export type Theme = 'system' | 'light' | 'dark';
const KEY = 'portcullis.theme';

export function rememberTheme(theme: Theme): void {
  try {
    if (theme === 'system') window.localStorage.removeItem(KEY);
    else window.localStorage.setItem(KEY, theme);
  } catch {
    /* storage disabled */
  }
}

/** Until the settings arrive: the remembered theme (so the first render agrees with theme-boot.js). */
export function initialTheme(): Theme {
  try {
    const t = window.localStorage.getItem(KEY);
    return t === 'dark' || t === 'light' ? t : 'system';
  } catch {
    return 'system';
  }
}
