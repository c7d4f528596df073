// The page in headless Chromium: board filter, a run started from the page reaching review while the
// page updates live (no reload), approve with a note (then `sidecar run show --json` agrees), and an
// agent's message with <script>, <img onerror> and a javascript: link rendered inert.
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

const url = process.argv[2];
const base = new URL(url).origin;
let passed = 0, failed = 0;
function check(name, ok, detail) {
  if (ok) passed++;
  else { failed++; console.log(`FAIL ${name}${detail ? ': ' + detail : ''}`); }
}

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const page = await browser.newPage();
const dialogs = [], foreign = [];
page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
page.on('request', (r) => { if (!r.url().startsWith(base)) foreign.push(r.url()); });
try {
  await page.goto(url);
  check('the token left the address bar', !page.url().includes('token='), page.url());
  await page.waitForSelector('.column[data-status=ready] .card[data-task=T-0001]');
  const counts = await page.locator('.column h3').allTextContents();
  check('counts per status', counts.includes('ready (1)') && counts.includes('draft (1)'), counts.join(','));
  await page.selectOption('#filter', 'draft');
  check('the filter hides the other statuses', await page.locator('.column[data-status=ready] .card').count() === 0);
  await page.selectOption('#filter', '');
  await page.fill('#search', 'draft');
  check('search', await page.locator('.card').count() === 1);
  await page.fill('#search', '');
  await page.locator('#main').click({ position: { x: 1, y: 1 } });

  const rendersBefore = Number(await page.getAttribute('body', 'data-rendered'));
  await page.fill('.card[data-task=T-0001] .runner', 'codex');
  await page.click('.card[data-task=T-0001] button');
  const runLink = page.locator('.card[data-task=T-0001] a');
  await runLink.waitFor();
  const run = await runLink.textContent();
  await page.locator('#main').click({ position: { x: 1, y: 1 } });
  // No reload: the review queue fills when the server's event says the store changed.
  await page.waitForSelector(`#review a[href="#/run/${run}"]`, { timeout: 60000 });
  check('the page updated itself', Number(await page.getAttribute('body', 'data-rendered')) > rendersBefore);

  await page.click(`#review a[href="#/run/${run}"]`);
  await page.waitForSelector('#message');
  const message = await page.locator('#message').textContent();
  check('the message is shown as text', message.includes('<script>alert(1)</script>') && message.includes('<img src=x onerror=alert(2)>'), message);
  check('no element came from it', await page.locator('#message script, #message img').count() === 0);
  check('bold is rendered', await page.locator('#message strong').count() === 1);
  const hrefs = await page.locator('#message a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  check('no javascript: link', hrefs.every((h) => !/^javascript:/i.test(h)), hrefs.join(','));
  await page.locator('#message span, #message a').first().click().catch(() => {});
  await page.waitForTimeout(300);

  await page.fill('#note', 'fine by me');
  await page.click('#approve');
  await page.waitForSelector('#said:has-text("approve: done")');
  const shown = JSON.parse(execFileSync(process.env.SIDECAR, ['run', 'show', run, '--json'], { cwd: process.env.REPO }));
  check('run show agrees: approved', shown.data.review_state === 'approved', shown.data.review_state);
  check('run show agrees: the note', shown.data.review_note === 'fine by me', shown.data.review_note);
  check('no dialog ever opened', dialogs.length === 0, dialogs.join(','));
  check('no request left the server', foreign.length === 0, foreign.join(','));
} catch (e) {
  failed++;
  console.log('FAIL ' + e.message);
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
