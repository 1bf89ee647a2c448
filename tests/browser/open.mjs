// Opens an HTML file in Debian's chromium (headless, through playwright-core), prints what the
// page shows as one JSON line, and saves a full-page screenshot.
//   node tests/browser/open.mjs <file.html> <screenshot.png>
import { chromium } from 'playwright-core';

const [file, shot] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
// Root (CI) cannot use chromium's sandbox.
const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
const page = await browser.newPage({ viewport: { width: 1000, height: 1200 } });
const errors = [];
page.on('pageerror', (e) => errors.push(String(e)));
page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
page.on('request', (r) => { if (!r.url().startsWith('file:')) errors.push(`fetched ${r.url()}`); });
await page.goto(`file://${file}`);
const seen = await page.evaluate(() => {
  const svgs = [...document.querySelectorAll('section.charts svg')];
  return {
    title: document.title,
    h1: document.querySelector('h1')?.textContent ?? null,
    svgs: svgs.length,
    bars: svgs[0] ? svgs[0].querySelectorAll('rect').length : 0,
    lines: svgs[1] ? svgs[1].querySelectorAll('polyline').length : 0,
    texts: svgs.map((s) => [...s.querySelectorAll('text')].map((t) => t.textContent)),
    boxes: svgs.map((s) => { const r = s.getBoundingClientRect(); return [r.width, r.height]; }),
    tables: document.querySelectorAll('table').length,
    scripts: document.querySelectorAll('script').length,
  };
});
await page.screenshot({ path: shot, fullPage: true });
await browser.close();
console.log(JSON.stringify({ ...seen, errors }));
