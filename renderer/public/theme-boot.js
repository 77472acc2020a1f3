// Runs before the first paint (a plain script in <head>, allowed by the page's script-src 'self'):
// applies the theme the app last used, so a forced dark theme does not flash light while the
// settings load. The app keeps it current (renderer/ui/theme.ts).
(function () {
  try {
    var t = window.localStorage.getItem('portcullis.theme');
    if (t === 'dark' || t === 'light') document.documentElement.dataset.theme = t;
  } catch (e) {
    /* storage disabled: the app applies the theme once the settings arrive */
  }
})();
