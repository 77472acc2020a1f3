/**
 * The UI end to end in a real browser: Debian's Chromium (playwright-core) against a real
 * `portcullis serve` — real engine, real kernel log, real ufw — protecting a network namespace lab.
 *
 * `serve` listens on 127.0.0.1 of the firewall namespace, and it checks that the Host header names
 * its own port, so the browser runs inside that namespace too (a two-line wrapper around
 * /usr/bin/chromium; playwright talks to it over a pipe, which crosses namespaces).
 * Screenshots of every screen, light and dark, go to test-artifacts/screenshots/.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Browser, type BrowserContext, type Locator, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Lab, createLab } from '../support/netns.ts';
import { requireSystem } from '../support/system.ts';
import { ROOT, SCREENS, buildRenderer, openScreen, screenshot, slug } from '../renderer/browser/chromium.ts';

const NODE = path.join(ROOT, 'node_modules/.bin/node');
const URL_LINE = /^(http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)$/m;

interface Serve {
  child: ChildProcess;
  url: string;
  output: () => string;
}

function startServe(lab: Lab, stateDir: string): Promise<Serve> {
  const child = spawn(
    '/usr/sbin/ip',
    ['netns', 'exec', lab.fwNs, NODE, path.join(ROOT, 'bin/portcullis.js'), 'serve', '--port', '0', '--state-dir', stateDir, '--source', 'kmsg', '--backend', 'ufw'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve printed no URL in 60 s:\n${out}`)), 60_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = URL_LINE.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, output: () => out });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}:\n${out}`));
    });
  });
}

function stopServe(s: Serve | undefined): Promise<void> {
  if (!s || s.child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => s.child.kill('SIGKILL'), 10_000);
    s.child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    s.child.kill('SIGTERM');
  });
}

/** Retries a vitest assertion until it holds (the page updates asynchronously). */
function eventually(check: () => Promise<void>, timeout = 10_000): Promise<void> {
  return vi.waitFor(check, { timeout, interval: 100 });
}
const textOf = (l: Locator) => l.innerText({ timeout: 2000 }).catch(() => '');
const attrOf = (l: Locator, name: string) => l.getAttribute(name, { timeout: 2000 });

describe.runIf(requireSystem('chromium', 'root', 'netns', 'ufw'))('the UI in Chromium against portcullis serve (real engine, real ufw)', () => {
  let lab: Lab;
  let serve: Serve | undefined;
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;
  let tmp: string;
  const pageErrors: string[] = [];

  const ufwStatus = () => lab.ufw('status', 'numbered');
  const text = (testId: string) => page.getByTestId(testId).innerText();

  beforeAll(async () => {
    await buildRenderer();
    lab = await createLab({ scanners: 1, ufw: true });
    tmp = mkdtempSync(path.join(os.tmpdir(), 'portcullis-ui-'));
    serve = await startServe(lab, path.join(tmp, 'state'));
    const wrapper = path.join(tmp, 'chromium-in-netns');
    writeFileSync(wrapper, `#!/bin/sh\nexec /usr/sbin/ip netns exec ${lab.fwNs} /usr/bin/chromium "$@"\n`);
    chmodSync(wrapper, 0o755);
    browser = await chromium.launch({
      executablePath: wrapper,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light', acceptDownloads: true });
    page = await ctx.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await stopServe(serve);
    await lab?.cleanup();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('loads the dashboard from the printed URL, and the token leaves the address bar', async () => {
    await page.goto(serve!.url);
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    await eventually(async () => expect(await textOf(page.getByTestId('firewall-state'))).toBe('active'), 20_000);
    expect(await attrOf(page.getByRole('switch', { name: 'Protection' }), 'aria-checked')).toBe('true');
    expect(page.url()).not.toContain('token=');
    // Connected: no "connecting" banner, even though the socket opened before the page listened.
    expect(await page.getByText('Connecting to the Portcullis service').count()).toBe(0);
    // A request without the token is refused by serve.
    const bare = serve!.url.replace(/\?token=.*$/, 'api/call');
    const status = await page.evaluate(async (u) => (await fetch(u, { method: 'POST', credentials: 'omit', body: '{}' })).status, bare);
    expect(status).toBe(401);
    await screenshot(page, 'serve-light-dashboard');
  });

  it('toggles protection with one click, both ways', async () => {
    const sw = page.getByRole('switch', { name: 'Protection' });
    await sw.click();
    await eventually(async () => expect(await attrOf(sw, 'aria-checked')).toBe('false'));
    expect(await textOf(page.getByTestId('protection-status'))).toContain('Off');
    await sw.click();
    await eventually(async () => expect(await attrOf(sw, 'aria-checked')).toBe('true'));
    expect(await textOf(page.getByTestId('protection-status'))).toContain('On');
  });

  it('shows a live scan in Blocked packets and the scanner banned in Offenders, in ufw too; unban lifts it', async () => {
    const scanner = lab.scanner.v4;
    await openScreen(page, 'Blocked packets');
    await page.getByLabel('Source', { exact: true }).fill(scanner);
    const ports = Array.from({ length: 12 }, (_, i) => 2000 + i * 7);
    await lab.probeMany(lab.scanner.ns, lab.scanner.fwV4, ports, { timeoutMs: 200 });
    // Live rows arrive through the WebSocket event stream; the filter keeps only the scanner's.
    const table = page.getByTestId('packets-table');
    await eventually(async () => expect(await textOf(table)).toContain(scanner), 20_000);
    expect(Number((await textOf(page.getByTestId('packets-shown'))).replace(/,/g, ''))).toBeGreaterThan(0);
    await screenshot(page, 'serve-light-blocked-packets');

    await openScreen(page, 'Offenders');
    const row = page.getByTestId('offenders-table').getByRole('row').filter({ hasText: scanner });
    await eventually(async () => expect(await textOf(row)).toContain('banned'), 20_000);
    // The ban is a real ufw rule (serve runs with --backend ufw), inserted before the allow rules.
    await eventually(async () => expect(await ufwStatus()).toMatch(new RegExp(`\\[ ?1\\] .*DENY IN\\s+${scanner.replaceAll('.', '\\.')}`)), 20_000);

    await page.getByRole('button', { name: `Details of ${scanner}` }).click();
    await eventually(async () => expect(await textOf(page.getByTestId('offender-detail'))).toContain(`${ports[0]}/tcp`));
    await screenshot(page, 'serve-light-offenders');

    await row.getByRole('button', { name: `Unban ${scanner}` }).click();
    await eventually(async () => expect(await textOf(row)).toContain('unbanned'), 20_000); // lifted, not run out
    await eventually(async () => expect(await ufwStatus()).not.toContain(scanner), 20_000);
  });

  it('whitelist: an invalid CIDR shows the reason and changes nothing; a valid one is added', async () => {
    await openScreen(page, 'Whitelist');
    const entries = page.getByTestId('whitelist-entries');
    const before = await textOf(entries);
    await page.getByLabel('Address or CIDR').fill('10.20.30.400/24');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await eventually(async () => expect(await textOf(page.getByTestId('whitelist-error'))).toContain('not an address or CIDR'));
    expect(await textOf(entries)).toBe(before);
    await page.getByLabel('Address or CIDR').fill('198.18.0.0/15');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await eventually(async () => expect(await textOf(entries)).toContain('198.18.0.0/15'));
    expect(await textOf(page.getByTestId('whitelist-error'))).toBe('');
    await screenshot(page, 'serve-light-whitelist');
  });

  it('changes a threshold, refuses an invalid one, and the change survives a reload', async () => {
    await openScreen(page, 'Thresholds');
    const bantime = page.getByLabel('Ban time (seconds)', { exact: true });
    const maxretry = page.getByLabel('Max retry (probes)', { exact: true });
    const save = page.getByRole('button', { name: 'Save' });
    await bantime.fill('0');
    await page.getByText('bantime must be more than 0 seconds').waitFor();
    expect(await save.isDisabled()).toBe(true);
    await bantime.fill('5400');
    await maxretry.fill('7');
    await save.click();
    await page.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
    await page.getByRole('button', { name: 'Test against my recent log' }).click();
    await page.getByTestId('threshold-test').waitFor({ timeout: 30_000 });
    await screenshot(page, 'serve-light-thresholds');
    await page.reload();
    await openScreen(page, 'Thresholds');
    await eventually(async () => expect(await maxretry.inputValue()).toBe('7'));
    expect(await bantime.inputValue()).toBe('5400');
  });

  it('adds and deletes a ufw rule in the editor, showing the exact command first, and ufw status agrees', async () => {
    await openScreen(page, 'Rules');
    await page.getByRole('button', { name: 'HTTP', exact: true }).click();
    await page.getByLabel('Comment').fill('ui test web');
    await page.getByRole('button', { name: 'Preview command' }).click();
    const commands = page.getByTestId('rule-commands');
    await eventually(async () => expect(await textOf(commands)).toMatch(/^ufw .*80/m));
    expect(await ufwStatus()).not.toContain('ui test web');
    await screenshot(page, 'serve-light-rules');
    await page.getByRole('button', { name: 'Apply' }).click();
    const table = page.getByTestId('rules-table');
    await eventually(async () => expect(await textOf(table)).toContain('ui test web'), 20_000);
    expect(await ufwStatus()).toMatch(/80\/tcp\s+ALLOW IN\s+Anywhere\s+# ui test web/);

    // ufw keeps a v4 and a v6 rule for it: delete each row the editor shows, previewing every time.
    for (let i = 0; i < 3; i++) {
      const row = table.getByRole('row').filter({ hasText: 'ui test web' }).first();
      if ((await row.count()) === 0) break;
      await row.getByRole('button', { name: /^Delete rule/ }).click();
      await eventually(async () => expect(await textOf(commands)).toContain('delete'));
      const confirm = page.getByLabel(/I understand/);
      if (await confirm.count()) await confirm.check();
      await page.getByRole('button', { name: 'Apply' }).click();
      await eventually(async () => expect(await commands.count()).toBe(0), 20_000);
    }
    expect(await textOf(table)).not.toContain('ui test web');
    expect(await ufwStatus()).not.toContain('ui test web');
  });

  it('Rules: ArrowDown on a firewall dropdown runs nothing until Apply (focus stays); ↑ moves a rule through a preview beside it, and ufw agrees', async () => {
    await openScreen(page, 'Rules');
    const verbose = () => lab.ufw('status', 'verbose');
    const before = await verbose();
    const outgoing = page.getByLabel('Default outgoing');
    await outgoing.focus();
    await page.keyboard.press('ArrowDown');
    await page.getByTestId('firewall-change').waitFor();
    expect(await textOf(page.getByTestId('firewall-command'))).toMatch(/^ufw default (deny|reject) outgoing$/);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('policy-outgoing');
    expect(await verbose()).toBe(before);
    await page.getByTestId('firewall-change').getByRole('button', { name: 'Cancel' }).click();
    expect(await verbose()).toBe(before);
    // Routed: what ufw says (a fresh namespace forwards nothing).
    expect(before).toContain('disabled (routed)');
    expect(await page.getByLabel('Default routed').inputValue()).toBe('disabled');

    // Three IPv4 rules: 22 (the lab's), then two added here; move the third to the top and back.
    for (const port of ['8081', '8082']) await lab.ufw('allow', `${port}/tcp`);
    await page.reload();
    await openScreen(page, 'Rules');
    const v4Ports = async () => (await lab.ufw('status', 'numbered')).split('\n').filter((l) => /^\[ ?\d+\]/.test(l) && !l.includes('(v6)')).map((l) => l.match(/(\d+)\/tcp/)?.[1]);
    expect(await v4Ports()).toEqual(['22', '8081', '8082']);
    const table = page.getByTestId('rules-table');
    for (const [button, want] of [['Move rule 3 up', ['22', '8082', '8081']], ['Move rule 2 up', ['8082', '22', '8081']]] as const) {
      await table.getByRole('button', { name: button }).click();
      const preview = page.getByTestId('rule-preview');
      await preview.waitFor();
      // Beside the row, in view, focused.
      expect(await table.locator('[data-testid="rule-preview"]').count()).toBe(1);
      expect(await preview.isVisible()).toBe(true);
      // The focus moves in an effect after the preview is painted.
      await eventually(async () => expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? document.activeElement?.tagName)).toBe('rule-preview'), 5_000);
      const box = (await preview.boundingBox())!;
      expect(box.y).toBeGreaterThanOrEqual(0);
      expect(box.y + Math.min(box.height, 100)).toBeLessThanOrEqual(800);
      await preview.getByRole('button', { name: 'Apply' }).click();
      await eventually(async () => expect(await v4Ports()).toEqual([...want]), 20_000);
      // The next click must be on the list as it is now (a click on a stale row acts on the rule it showed).
      await eventually(async () => expect(await table.getByRole('row').nth(2).innerText()).toContain(want[1]), 20_000);
      await eventually(async () => expect(await page.getByTestId('rule-preview').count()).toBe(0), 20_000);
    }
    await screenshot(page, 'serve-light-rules-moved');
  });

  it('is usable from the keyboard alone: Tab reaches every screen of the navigation, Enter opens it, Space flips the switch', async () => {
    // A fresh page: sequential focus navigation starts at the document's start (after a blur()
    // Chromium would go on from the element that last had focus, somewhere in the content).
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    const focused = () => page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      return el ? `${el.getAttribute('role') ?? el.tagName.toLowerCase()}:${el.getAttribute('aria-label') ?? el.textContent?.trim() ?? ''}` : '';
    });
    const seen: string[] = [];
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press('Tab');
      seen.push(await focused());
    }
    for (const s of SCREENS) expect(seen.some((f) => f.endsWith(`:${s}`)), `${s} reachable by Tab in ${seen.join(' | ')}`).toBe(true);

    // Walk back to "Offenders" (Shift+Tab) and open it with Enter.
    for (let i = 0; i < 12 && !(await focused()).endsWith(':Offenders'); i++) await page.keyboard.press('Shift+Tab');
    expect(await focused()).toMatch(/:Offenders$/);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Offenders' }).waitFor();

    await openScreen(page, 'Dashboard');
    const sw = page.getByRole('switch', { name: 'Protection' });
    const before = await attrOf(sw, 'aria-checked');
    await sw.focus();
    await page.keyboard.press('Space');
    await eventually(async () => expect(await attrOf(sw, 'aria-checked')).not.toBe(before));
    // The switch ignores a press while its change is in flight (aria-busy; tests/renderer/ui.test.tsx):
    // on a busy machine the first change can still be in flight when aria-checked has turned.
    await eventually(async () => expect(await attrOf(sw, 'aria-busy')).toBeNull());
    await page.keyboard.press('Space');
    await eventually(async () => expect(await attrOf(sw, 'aria-checked')).toBe(before));
  });

  it('every screen renders, light and dark, without page errors', async () => {
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const s of SCREENS) {
        await openScreen(page, s);
        await page.waitForTimeout(300);
        await screenshot(page, `serve-${scheme}-${slug(s)}`);
      }
    }
    expect(pageErrors).toEqual([]);
  });
});
