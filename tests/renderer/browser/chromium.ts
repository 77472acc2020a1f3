/**
 * Browser-test plumbing: build the renderer, launch Debian's Chromium through playwright-core,
 * and save screenshots under test-artifacts/screenshots/. Not a test file itself.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type Page, chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const DIST = path.join(ROOT, 'renderer/dist');
export const SHOTS = path.join(ROOT, 'test-artifacts/screenshots');

export async function buildRenderer(): Promise<void> {
  const { build } = await import('vite');
  await build({ configFile: path.join(ROOT, 'renderer/vite.config.ts'), logLevel: 'warn' });
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

/** The navigation labels, in order (the screens' names). */
export const SCREENS = ['Dashboard', 'Blocked packets', 'Offenders', 'Rules', 'Whitelist', 'Thresholds', 'Doctor', 'Settings'] as const;

export async function openScreen(page: Page, label: (typeof SCREENS)[number]): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: label, exact: true }).click();
  await page.getByRole('heading', { level: 1, name: label, exact: true }).waitFor();
}

export function slug(label: string): string {
  return label.toLowerCase().replace(/\s+/g, '-');
}
