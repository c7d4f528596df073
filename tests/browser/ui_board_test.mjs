// The board with thousands of tasks, in headless Chromium: each column's heading counts every task of
// its status (as `task list --json` does), a column shows a bounded number of cards and "show more"
// brings the next ones, the search finds a task that was not shown (the server searches), the
// filter; the runs by state: each column counted as `run list --json` says, review oldest first, a page
// at a time, cards with their facts, the filters by runner, text and status, the place on the page kept
// over a live update; a year of runs on the usage page's chart over time; and the machine's agent
// slots show who holds them (as `doctor --json`).
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
const runs = cli('run', 'list', '--limit', '0');
const STATUSES = ['draft', 'ready', 'running', 'review', 'blocked', 'done'];
const count = (s) => tasks.filter((t) => t.status === s).length;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const page = await browser.newPage();
const cards = (s) => page.locator(`.column[data-status=${s}] .card`);
try {
  check('the store is big', tasks.length === 2000 && runs.length === 400, `${tasks.length} tasks, ${runs.length} runs`);
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

  // The runs by state: each column counted as its rules say (stdlib/sidecar/service/run_board.lua),
  // worked out here from `run list` of every run.
  const columnOf = (r) => {
    const undecided = !r.review_state || r.review_state === 'pending';
    if (['queued', 'preparing', 'running'].includes(r.status)) return r.attention && r.attention.state ? 'needs_you' : 'running';
    if (['budget_exceeded', 'outcome_unknown'].includes(r.status) && undecided) return 'needs_you';
    if (r.status === 'blocked') return undecided ? 'needs_you' : 'failed';
    if (r.status === 'review') return undecided ? 'review' : 'done';
    if (['failed', 'interrupted'].includes(r.status)) return 'failed';
    return 'done';
  };
  const labels = { needs_you: 'Needs you', running: 'Running', review: 'Review', failed: 'Blocked or failed', done: 'Done' };
  const countBy = (list) => Object.fromEntries(Object.keys(labels).map((c) => [c, list.filter((r) => columnOf(r) === c).length]));
  const counts = countBy(runs);
  const runHeadings = await page.locator('#run-board h3').allTextContents();
  check('the run columns: each counts its runs', JSON.stringify(runHeadings)
    === JSON.stringify(Object.entries(labels).map(([c, l]) => `${l} (${counts[c]})`)), runHeadings.join(', '));
  const col = (c) => page.locator(`#run-board [data-column=${c}] .run-card`);
  const reviewIds = await col('review').evaluateAll((cs) => cs.map((c) => c.dataset.run));
  const oldestReview = runs.filter((r) => columnOf(r) === 'review').reverse().map((r) => r.run_id);
  check('review: the oldest first, a page of them', reviewIds.length === 20
    && JSON.stringify(reviewIds) === JSON.stringify(oldestReview.slice(0, 20)), reviewIds.slice(0, 3).join(','));
  check('an empty column says none', await page.locator('#run-board [data-column=running] .none').textContent() === 'none');
  const first = runs.find((r) => r.run_id === reviewIds[0]);
  const facts = await page.locator(`#run-board .run-card[data-run=${first.run_id}]`).textContent();
  const title = tasks.find((t) => t.task_id === first.task_id).title;
  check('a card: id, task title, runner and model, tokens, cost', facts.includes(first.run_id) && facts.includes(title)
    && facts.includes(`${first.runner_type} · ${first.model}`) && facts.includes(`${first.usage.total.toLocaleString('en')} tokens`)
    && facts.includes('$0.02') && /\d+ (s|min|h|d) ago/.test(facts), facts);
  await page.focus('#more-review');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('#run-board [data-column=review] .run-card').length > 20);
  check('show more (from the keyboard): the next page of the column', await col('review').count() === Math.min(40, counts.review));
  check('the focus stays on it', await page.evaluate(() => document.activeElement && document.activeElement.id) === 'more-review');

  await page.fill('#runs-runner', 'claude');
  const claude = countBy(runs.filter((r) => r.runner_type === 'claude'));
  await page.waitForFunction((n) => document.querySelector('#run-board [data-column=done] h3').textContent === `Done (${n})`, claude.done);
  const runners = await page.locator('#run-board .run-card .facts').allTextContents();
  check('the runner filter: counts and cards of that runner', runners.length > 0 && runners.every((f) => f.startsWith('claude'))
    && (await page.locator('#run-board [data-column=failed] h3').textContent()) === `Blocked or failed (${claude.failed})`, runners[0]);
  await page.fill('#runs-runner', '');
  const oldestRun = runs.filter((r) => columnOf(r) === 'done').at(-1);
  await page.fill('#runs-q', oldestRun.run_id);
  await page.waitForSelector(`#run-board .run-card[data-run=${oldestRun.run_id}]`);
  check('the text filter finds a run no page showed', await page.locator('#run-board .run-card').count() === 1);
  await page.fill('#runs-q', '');
  await page.selectOption('#runs-status', 'failed');
  await page.waitForFunction(() => document.querySelectorAll('#run-board [data-column=done] .run-card').length === 0);
  const statuses = await page.locator('#run-board .run-card').evaluateAll((cs) => cs.map((c) => c.dataset.status));
  check('the status filter', statuses.length > 0 && statuses.every((st) => st === 'failed'), statuses.slice(0, 3).join(','));
  await page.selectOption('#runs-status', '');
  await page.evaluate(() => document.activeElement.blur());
  // A live update keeps the place: scrolled down to the done runs on a phone, a change of the store
  // (a task made by the CLI) redraws the page, and what was on the screen stays where it was.
  await page.setViewportSize({ width: 375, height: 700 });
  await page.waitForFunction(() => document.querySelectorAll('#run-board [data-column=done] .run-card').length > 0
    && !document.body.dataset.waiting);
  await page.evaluate(() => {
    document.querySelector('#run-board [data-column=done] h3').scrollIntoView();
    window.scrollBy(0, -100);
  });
  const place = () => page.evaluate(() => ({ y: Math.round(window.scrollY), rendered: Number(document.body.dataset.rendered),
    top: Math.round(document.querySelector('#run-board [data-column=done] h3').getBoundingClientRect().top) }));
  const before = await place();
  execFileSync(process.env.SIDECAR, ['task', 'create', '--title', 'made while scrolled', '--status', 'ready'], { cwd: process.env.REPO });
  await page.waitForFunction((n) => Number(document.body.dataset.rendered) > n, before.rendered);
  const after = await place();
  check('a live update keeps the scroll position', before.y > 1000 && after.y === before.y && after.top === before.top,
    JSON.stringify([before, after]));
  await page.setViewportSize({ width: 1280, height: 720 });

  // A year of runs on the usage page: a point per runner and day, placed by its date on an axis of
  // time, the dates under it few, evenly spaced, none over another, the first and the last day.
  const perDay = cli('usage', '--by', 'runner_day').rows;
  await page.goto(url.replace(/#.*$/, '') + '#/usage');
  await page.waitForSelector('#usage-runner-days circle');
  const chart = await page.evaluate(() => {
    const svg = document.getElementById('usage-runner-days');
    const box = (e) => { const b = e.getBBox(); return { left: b.x, right: b.x + b.width }; };
    return { points: [...svg.querySelectorAll('circle')].map((c) => ({ day: c.dataset.day, x: Number(c.getAttribute('cx')) })),
      labels: [...svg.querySelectorAll('text.day')].map((t) => ({ text: t.textContent, ...box(t) })),
      width: Number(svg.getAttribute('width')) };
  });
  const days = [...new Set(perDay.map((r) => r.group.slice(-10)))].sort();
  const dayMs = (d) => Date.parse(d + 'T00:00:00Z');
  const span = dayMs(days.at(-1)) - dayMs(days[0]);
  check('a year of runs: a point per runner and day', span >= 360 * 86400000 && chart.points.length === perDay.length,
    `${days[0]}..${days.at(-1)}, ${chart.points.length} points of ${perDay.length}`);
  check('each point placed by its date', chart.points.every((p) => p.x === 150 + Math.round(340 * (dayMs(p.day) - dayMs(days[0])) / span)),
    JSON.stringify(chart.points.slice(0, 3)));
  const apart = chart.labels.every((l, i) => i === 0 || chart.labels[i - 1].right + 4 <= l.left);
  check('the dates: the first and the last day, at most five, none over another, all inside', chart.labels.length >= 2
    && chart.labels.length <= 5 && chart.labels[0].text === days[0] && chart.labels.at(-1).text === days.at(-1) && apart
    && chart.labels.every((l) => l.left >= 0 && l.right <= chart.width), JSON.stringify(chart.labels));
  check('the table under it: a row per point', await page.locator('#usage-runner-days-table tbody tr').count() === perDay.length);
  await page.goto(url.replace(/#.*$/, '') + '#/');
  await page.waitForSelector('#agent-slots');
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
