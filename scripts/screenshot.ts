/**
 * `npm run screenshot -- REPORT.html OUT.png [WIDTH]`: a picture of an HTML report, taken in
 * Debian's Chromium (CHROMIUM_PATH, or /usr/bin/chromium) by puppeteer-core. The README's
 * picture of the run report is made with it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launch } from 'puppeteer-core';

const [html, png, width = '1280', height = '1800'] = process.argv.slice(2);
if (html === undefined || png === undefined || !png.endsWith('.png')) {
  process.stderr.write('usage: npm run screenshot -- REPORT.html OUT.png [WIDTH] [HEIGHT]\n');
  process.exit(2);
}
const browser = await launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  userDataDir: mkdtempSync(join(tmpdir(), 'nestsim-shot-')),
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: Number(width), height: Number(height) });
  await page.goto(pathToFileURL(resolve(html)).href, { waitUntil: 'load' });
  await page.screenshot({ path: png as `${string}.png` });
} finally {
  await browser.close();
}
process.stdout.write(`wrote ${png}\n`);
