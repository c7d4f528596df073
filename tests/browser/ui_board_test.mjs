// The board with thousands of tasks, in headless Chromium: each column's heading counts every task of
// its status (as `task list --json` does), a column shows a bounded number of cards and "show more"
// brings the next ones, the search finds a task that was not shown (the server searches), the
// filter, the review queue lists the oldest waiting runs first with how many wait in all (as
// `run review --json`), and the machine's agent slots show who holds them (as `doctor --json`).
import { createRequire } from 'node:module';
import { execFileSync, spawnSync } from 'node:child_process';
const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

const url = process.argv[2];
let passed = 0, failed = 0;
function check(name, ok, detail) {
  if (ok) passed++;
  else { failed++; console.log(`FAIL ${name}${detail ? ': ' + detail : ''}`); }
}
const cli = (...args) => JSON.parse(execFileSync(process.env.SIDECAR, [...args, '--json'], { cwd: process.env.REPO, maxBuffer: 1 << 26 })).data;

const tasks = cli('task', 'list');
const waiting = cli('run', 'review').map((i) => i.run.run_id);
const STATUSES = ['draft', 'ready', 'running', 'review', 'blocked', 'done'];
const count = (s) => tasks.filter((t) => t.status === s).length;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const page = await browser.newPage();
const cards = (s) => page.locator(`.column[data-status=${s}] .card`);
try {
  check('the store is big', tasks.length === 2000 && waiting.length > 50, `${tasks.length} tasks, ${waiting.length} waiting`);
  await page.goto(url);
  await page.waitForSelector('.column[data-status=done] .card');
  const headings = await page.locator('.column h3').allTextContents();
  check('each heading counts all its tasks', STATUSES.every((s) => headings.includes(`${s} (${count(s)})`)), headings.join(', '));
  const shown = await cards('done').count();
  check('a column shows a bounded number of cards', shown > 0 && shown < 100 && shown < count('done'), String(shown));
  const newest = tasks.filter((t) => t.status === 'done').slice(0, shown).map((t) => t.task_id);
  const ids = await cards('done').evaluateAll((cs) => cs.map((c) => c.dataset.task));
  check('the newest cards first', JSON.stringify(ids) === JSON.stringify(newest), ids.slice(0, 3).join(','));

  await page.click('.column[data-status=done] button.more');
  await page.waitForFunction((n) => document.querySelectorAll('.column[data-status=done] .card').length > n, shown);
  check('show more brings the next cards', await cards('done').count() === 2 * shown, String(await cards('done').count()));
  check('the other columns stay as they were', await cards('ready').count() === Math.min(shown, count('ready')));

  const oldest = tasks.filter((t) => t.status === 'done').at(-1);
  check('the oldest done task is not shown', await page.locator(`.card[data-task=${oldest.task_id}]`).count() === 0);
  await page.fill('#search', oldest.task_id);
  await page.waitForSelector(`.card[data-task=${oldest.task_id}]`);
  check('the search finds it (the server searched)', await page.locator('.card').count() === 1);
  await page.fill('#search', '');
  await page.waitForFunction((n) => document.querySelectorAll('.card').length > n, 1);

  await page.selectOption('#filter', 'ready');
  check('the filter shows one status', await cards('done').count() === 0 && await cards('ready').count() > 0);
  await page.selectOption('#filter', '');

  const queue = await page.locator('#review li a').allTextContents();
  check('the review queue: the oldest first', JSON.stringify(queue) === JSON.stringify(waiting.slice(0, queue.length)), queue.slice(0, 3).join(','));
  check('the review queue is bounded', queue.length > 0 && queue.length < waiting.length, String(queue.length));
  check('its heading counts every waiting run', (await page.locator('h2:has-text("Review (")').textContent()) === `Review (${waiting.length})`);
  check('it says how many more wait', (await page.locator('#review-more').textContent()).includes(String(waiting.length - queue.length)));
  // The machine's agent slots: one held by another process (the test's holder), as doctor says.
  const slots = await page.locator('#agent-slots').textContent();
  // doctor exits 1 where no agent CLI is on PATH: its report is what counts here.
  const doctor = JSON.parse(spawnSync(process.env.SIDECAR, ['doctor', '--json'], { cwd: process.env.REPO }).stdout).data.agent_slots;
  check('the agent slots: taken of the cap, and where the cap comes from', slots.includes(
    `Agent slots: ${doctor.holders.length} of ${doctor.cap} taken (max_agents)`) && doctor.cap === 5, slots);
  check('who holds them', await page.locator('#agent-slots .holders a').allTextContents().then((a) => a.join()) === 'R-0001'
    && slots.includes('claude since'), slots);
  check('a runner capped on its own', (await page.locator('#agent-slots li[data-runner=claude]').textContent())
    === 'claude: 1 of 2 (max_agents_per_runner.claude)');
} catch (e) {
  failed++;
  console.log('FAIL ' + e.message);
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
