// The page in headless Chromium: board filter, a run started from the page reaching review while the
// page updates live (no reload), approve with a note (then `sidecar run show --json` agrees), an
// agent's message with <script>, <img onerror> and a javascript: link rendered inert, a replay with
// a reason and its lineage links followed both ways, a writing run's diff and its apply, a prompt
// compiled from a card with its budget report (shown though the board was redrawn while it was
// out), a preset run from its form with its report, the usage charts checked against the figures
// the store holds, a silent run flagged stuck on its page and in the board's "needs you" column, a
// blocked run's page (summary line, gates and validation tables, its diff as text), and each view
// at 1400 and 375 px: a screenshot kept (ARTIFACTS) and axe-core's check (no serious or critical
// violation).
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

const url = process.argv[2];
const cli = (...args) => JSON.parse(execFileSync(process.env.SIDECAR, args, { cwd: process.env.REPO }));
const base = new URL(url).origin;
let passed = 0, failed = 0;
function check(name, ok, detail) {
  if (ok) passed++;
  else { failed++; console.log(`FAIL ${name}${detail ? ': ' + detail : ''}`); }
}
// Holds the page's requests whose URL (a URL object) matches: next() resolves once one waits (or
// fails after a minute), release() lets those waiting through, stop() ends the holding and lets
// every one through (before the route goes: without routes the browser lets held ones go itself).
async function hold(page, match) {
  const waiting = [];
  let wake = () => {}, stopped = false;
  const handler = (route) => { if (stopped) return route.continue(); waiting.push(route); wake(); };
  const release = () => Promise.all(waiting.splice(0).map((r) => r.continue()));
  const next = () => (waiting.length ? Promise.resolve() : new Promise((resolve, reject) => {
    wake = resolve;
    setTimeout(() => reject(new Error('no request came to be held')), 60000);
  }));
  await page.route(match, handler);
  return { next, release, stop: async () => { stopped = true; await release(); await page.unroute(match, handler); } };
}
// A change of the store as the server sees one (its files' times), which the page redraws for.
function touchStore() {
  const now = new Date();
  utimesSync(`${process.env.REPO}/.agent/sidecar.db`, now, now);
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
  const tasks = cli('task', 'list', '--json').data;
  const want = ['draft', 'ready', 'review'].map((st) => `${st} (${tasks.filter((t) => t.status === st).length})`);
  check('counts per status', want.every((w) => counts.includes(w)) && counts.includes('draft (1)'), counts.join(',') + ' / ' + want.join(','));
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
  // No reload: the board's review column fills when the server's event says the store changed.
  await page.waitForSelector(`#run-board [data-column=review] a[href="#/run/${run}"]`, { timeout: 60000 });
  check('the page updated itself', Number(await page.getAttribute('body', 'data-rendered')) > rendersBefore);

  await page.click(`#run-board [data-column=review] a[href="#/run/${run}"]`);
  await page.waitForSelector('#message');
  const message = await page.locator('#message').textContent();
  check('the message is shown as text', message.includes('<script>alert(1)</script>') && message.includes('<img src=x onerror=alert(2)>'), message);
  check('no element came from it', await page.locator('#message script, #message img').count() === 0);
  check('bold is rendered', await page.locator('#message strong').count() === 1);
  check('an escape sequence and a bidi override shown, not obeyed', message.includes('^[[2J') && message.includes('<U+202E>evil')
    && !/[\u001b\u202e]/.test(message), JSON.stringify(message.slice(-40)));
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

  // Replay with a reason; the new run links back to this one, and this one on to it. The reason is
  // typed while a redraw is under way (its run record held until then): the redraw waits for the
  // user, as a change that comes while they type does, and what they typed stays.
  const records = await hold(page, (u) => u.pathname === '/api/runs/' + run);
  touchStore();
  await records.next();
  await page.fill('#note', 'try the other way');
  const drawn = Number(await page.getAttribute('body', 'data-rendered'));
  await records.stop();
  // That redraw has ended: drawn over the page, or waiting for the user.
  await page.waitForFunction((n) => 'waiting' in document.body.dataset || Number(document.body.dataset.rendered) > n, drawn);
  const typed = await page.inputValue('#note');
  check('the typed reason outlives a redraw under way', typed === 'try the other way', typed);
  await page.click('#replay');
  const replayLink = page.locator('#said #replay-link');
  await replayLink.waitFor();
  const replay = await replayLink.textContent();
  await replayLink.click();
  await page.waitForSelector(`h2:has-text("${replay}")`);
  await page.waitForSelector('#review-state:has-text("pending")', { timeout: 60000 });
  check('the replay shows its reason', (await page.locator('#replay-reason').textContent()).includes('try the other way'));
  check('run show agrees: the reason', cli('run', 'show', replay, '--json').data.replay_reason === 'try the other way');
  await page.click(`#replay-of a[href="#/run/${run}"]`);
  await page.waitForSelector(`h2:has-text("${run}")`);
  await page.click(`#replayed-as a[href="#/run/${replay}"]`);
  await page.waitForSelector(`h2:has-text("${replay}")`);
  check('the lineage links lead both ways', page.url().endsWith('#/run/' + replay), page.url());

  // A writing run: its diff, then its change applied from the page.
  const writing = cli('run', 'list', '--task', 'T-0003', '--json').data[0].run_id;
  await page.goto(base + '/#/run/' + writing);
  await page.waitForSelector('#diff');
  check('the diff is shown', (await page.locator('#diff').textContent()).includes('+from-the-agent'));
  await page.click('#apply');
  await page.waitForSelector('#said:has-text("apply: done")');
  check('the change reached the work tree', execFileSync('cat', ['new.txt'], { cwd: process.env.REPO }).toString().trim() === 'from-the-agent');

  // A prompt compiled from its card, with the budget report of --explain. A compile changes the
  // store, which redraws the board while the answer is still out: the answer must reach the card
  // drawn last, not the one clicked. Its prompt file is held until a redraw (one made sure of by a
  // touch of the store) has replaced the card; redraws are then held until the answer shows.
  await page.goto(base + '/#/');
  await page.waitForSelector('.card[data-task=T-0002]');
  const prompts = await hold(page, (u) => u.pathname.endsWith('/files/prompt.md'));
  await page.click('.card[data-task=T-0002] .compile');
  await prompts.next();
  await page.$eval('.card[data-task=T-0002]', (c) => c.setAttribute('data-clicked', ''));
  const boards = await hold(page, (u) => u.pathname === '/api/board');
  touchStore();
  await boards.next(); // redraws come one at a time: this is the only one under way
  const renders = Number(await page.getAttribute('body', 'data-rendered'));
  await boards.release();
  await page.waitForFunction((n) => Number(document.body.dataset.rendered) > n, renders);
  check('the card was redrawn while the compile was out', await page.locator('.card[data-task=T-0002][data-clicked]').count() === 0);
  await prompts.stop();
  await page.waitForSelector('.card[data-task=T-0002] .compiled .budget');
  await boards.stop();
  check('the budget report', /^tokens: \d+ estimated/.test(await page.locator('.card[data-task=T-0002] .budget').textContent()));
  check('the compiled prompt', (await page.locator('.card[data-task=T-0002] .prompt').textContent()).includes('a draft'));

  // A preset run from the form its declarations made.
  await page.goto(base + '/#/presets');
  await page.click('details[data-name=greet] summary');
  check('a required parameter is marked', await page.locator('form[data-preset=greet] input[name=param-who][required]').count() === 1);
  check('a default fills its input', await page.inputValue('form[data-preset=greet] input[name=param-times]') === '2');
  await page.fill('form[data-preset=greet] input[name=param-who]', 'ann');
  await page.fill('form[data-preset=greet] input[name=param-times]', '3');
  await page.click('form[data-preset=greet] button[type=submit]');
  await page.waitForSelector('form[data-preset=greet] .preset-text', { timeout: 60000 });
  check('the preset report', (await page.locator('form[data-preset=greet] .preset-text').textContent()) === 'hello ann\nhello ann\nhello ann\n');

  // The usage chart against the store's figures: `big` is one run of 700 + 50 tokens.
  await page.goto(base + '/#/usage');
  await page.waitForSelector('#usage-runner-tokens rect');
  const rows = cli('usage', '--by', 'runner', '--json').data.rows;
  const bars = await page.locator('#usage-runner-tokens rect').evaluateAll((rs) => rs.map((r) => ({
    group: r.getAttribute('data-group'), value: Number(r.getAttribute('data-value')), width: Number(r.getAttribute('width')) })));
  const big = bars.find((b) => b.group === 'big');
  check('the big runner has its tokens', big && big.value === 750, JSON.stringify(bars));
  const max = Math.max(...rows.map((r) => r.usage.total || 0));
  check('a bar per runner', bars.length === rows.length, JSON.stringify(bars));
  for (const r of rows) {
    const b = bars.find((x) => x.group === r.group);
    check(`bar ${r.group} is its figure`, b && b.value === (r.usage.total || 0) && b.width === Math.round(300 * (r.usage.total || 0) / max), JSON.stringify(b));
  }
  const labels = await page.locator('#usage-runner-tokens text.figure').allTextContents();
  check('the labels are the figures', labels.includes('750'), labels.join(','));
  check('the per-task ledger', (await page.locator('#ledger tr:has-text("T-0004")').textContent()).includes('750'));
  // Over time: a line per runner, a point per (runner, day) with the store's figure.
  const perDay = cli('usage', '--by', 'runner_day', '--json').data.rows;
  const points = await page.locator('#usage-runner-days circle').evaluateAll((cs) => cs.map((c) => ({
    series: c.getAttribute('data-series'), day: c.getAttribute('data-day'), value: Number(c.getAttribute('data-value')) })));
  check('a point per runner and day', points.length === perDay.length && perDay.length > 0, JSON.stringify(points));
  for (const r of perDay) {
    const p = points.find((x) => `${x.series} ${x.day}` === r.group);
    check(`point ${r.group} is its figure`, p && p.value === (r.usage.total || 0), JSON.stringify(p));
  }
  const spent = await page.locator('#budgets li[data-budget="per task T-0004 tokens"]').textContent();
  check('a budget against its limit: the task over it first', spent.startsWith('per task T-0004: 750 tokens of 500 tokens (150%)')
    && (await page.locator('#budgets li').first().getAttribute('data-budget')) === 'per task T-0004 tokens'
    && (await page.locator('#budgets li[data-budget="per task T-0004 tokens"] meter').getAttribute('max')) === '500', spent);
  const seriesCount = new Set(perDay.map((r) => r.group.slice(0, -11))).size;
  check('a line per runner', await page.locator('#usage-runner-days polyline').count() === seriesCount);
  check('the bars: an axis with its ticks and unit', (await page.locator('#usage-runner-tokens .tick').count()) === 3
    && (await page.locator('#usage-runner-tokens .unit').textContent()) === 'tokens'
    && (await page.locator('#usage-runner-cost .unit').textContent()) === 'USD');
  const trow = await page.locator('#usage-runner-table tr:has-text("big") td').allTextContents();
  check('the table under the chart: its figures', trow[0] === 'big' && trow[1] === '1' && trow[2] === '750', trow.join('|'));
  check('over time: an axis of tokens, the days, a legend per line', (await page.locator('#usage-runner-days .unit').textContent()) === 'tokens'
    && (await page.locator('#usage-runner-days .day').count()) >= 1 && (await page.locator('#usage-runner-days .legend').count()) === seriesCount);
  const xs = await page.locator('#usage-runner-days circle').evaluateAll((cs) => cs.map((c) => Number(c.getAttribute('cx'))));
  const oneDay = new Set(perDay.map((r) => r.group.slice(-10))).size === 1;
  check('one day of data: its points in the middle of the days axis', !oneDay || xs.every((x) => x === 320), xs.join(','));
  // What the user types survives a change of the store; the board redraws when the focus leaves.
  await page.goto(base + '/#/');
  await page.waitForSelector('.card[data-task=T-0002]');
  await page.fill('.card[data-task=T-0002] .runner', 'half-typed');
  execFileSync(process.env.SIDECAR, ['task', 'create', '--title', 'made meanwhile', '--status', 'ready'], { cwd: process.env.REPO });
  await page.waitForTimeout(1000); // the change event has had time to arrive (were it late, this passes vacuously)
  check('the typed text survives', await page.inputValue('.card[data-task=T-0002] .runner') === 'half-typed');
  await page.locator('#main').click({ position: { x: 1, y: 1 } });
  const meanwhile = cli('task', 'list', '--json').data.find((t) => t.title === 'made meanwhile').task_id;
  await page.waitForSelector(`.card[data-task=${meanwhile}]`);

  // A running run's live tail: the agent's message as text, then the run killed from its page.
  await page.fill(`.card[data-task=${meanwhile}] .runner`, 'hang');
  await page.click(`.card[data-task=${meanwhile}] button.run`);
  const hangLink = page.locator(`.card[data-task=${meanwhile}] a`);
  await hangLink.waitFor();
  const hanging = await hangLink.textContent();
  await page.goto(base + '/#/run/' + hanging);
  // Its stream waits after its first line (fake_agent.lua --wait-file) until the page shows the tail:
  // then goes on, and the tail grows on the page without a reload.
  await page.waitForSelector('#tail li', { timeout: 60000 });
  const firstTail = await page.locator('#tail li').allTextContents();
  writeFileSync(`${process.env.REPO}/.git/tail-goes-on`, '');
  await page.waitForSelector('#tail li:has-text("agent.message: Done. <script>alert(1)</script>")', { timeout: 60000 });
  const grownTail = await page.locator('#tail li').count();
  check('the tail grows while the run runs', !firstTail.some((t) => t.startsWith('agent.message')) && grownTail > firstTail.length,
    `${JSON.stringify(firstTail)} then ${grownTail} lines`);
  check('the tail is live while the run runs', (await page.locator('#status').textContent()) === 'running');
  const tail = await page.locator('#tail').textContent();
  check('the tail: controls shown as the terminal shows them', tail.includes('^[[2J<U+202E>evil') && !/[\u001b\u202e]/.test(tail),
    JSON.stringify(tail.slice(-60)));
  // Silent past stuck_after: the page redraws with the flag (the store's change event), and the
  // board lists the run among those that need someone, with it.
  await page.waitForSelector('#attention:has-text("stuck: no output for")', { timeout: 60000 });
  check('run show agrees: stuck', cli('run', 'show', hanging, '--json').data.attention.state === 'stuck');
  await page.goto(base + '/#/');
  await page.waitForSelector(`#run-board [data-column=needs_you] .run-card[data-run=${hanging}] .attention:has-text("stuck")`,
    { timeout: 60000 });
  await page.goto(base + '/#/run/' + hanging);
  await page.waitForSelector('#kill');
  check('no element came from the tail', await page.locator('#tail script, #tail img').count() === 0);
  await page.click('#kill');
  await page.waitForSelector('#said:has-text("kill: done")', { timeout: 60000 });
  check('run show agrees: killed', cli('run', 'show', hanging, '--json').data.status !== 'running');

  // A run a gate blocked (its agent made a commit) whose validation failed, with its diff (run before
  // the page: ui_browser_test.sh): the run page's summary line, gates and validation tables and the diff.
  const gatedTask = cli('task', 'list', '--json').data.find((t) => t.title === 'a gated one').task_id;
  const gated = cli('run', 'list', '--task', gatedTask, '--json').data[0];
  // A view fetched for one address never lands under another: the killed run's page is redrawn for
  // a change of the store (its record held meanwhile), the user goes to the gated run, and the
  // late redraw is dropped: no heading but the gated run's is ever shown there.
  const late = await hold(page, (u) => u.pathname === '/api/runs/' + hanging);
  touchStore();
  await late.next();
  await page.evaluate(() => {
    window.headings = [];
    new MutationObserver(() => { const h = document.querySelector('#main h2'); if (h) window.headings.push([location.hash, h.textContent]); })
      .observe(document.getElementById('main'), { childList: true });
  });
  await page.goto(base + '/#/run/' + gated.run_id);
  await late.stop();
  await page.waitForSelector(`h2:has-text("${gated.run_id}")`);
  const headings = await page.evaluate(() => window.headings);
  check('a late redraw of the page left is dropped', headings.every(([at, h]) => !at.endsWith(gated.run_id) || h.startsWith(gated.run_id)),
    JSON.stringify(headings));
  await page.waitForSelector('#summary');
  const summary = await page.locator('#summary').textContent();
  check('the summary: status, why, gates and validation', summary.startsWith('blocked — ') && /gates: \d+ passed, 1 blocked/.test(summary)
    && summary.includes('validation: 0 passed, 1 failed') && summary.includes('1 file changed'),
    summary);
  check('the gates table: the commit gate blocked', (await page.locator('#gates tr:has-text("commit")').first().textContent()).includes('blocked'));
  const vrow = await page.locator('#validation tbody tr').first().locator('td').allTextContents();
  check('the validation table: command, result, exit code', vrow[2] === 'false' && vrow[3] === 'failed' && vrow[4] === '1', vrow.join('|'));
  check('the diff: its added line marked, as text', (await page.locator('#diff .add').allTextContents()).some((l) => l.startsWith('+gated <b>')));
  check('no element came from the diff', await page.locator('#diff b').count() === 0);
  check('usage the runner did not report: unknown', (await page.locator('#usage').textContent()).includes('unknown'));
  const bigRun = cli('run', 'list', '--task', 'T-0004', '--json').data[0].run_id;
  await page.goto(base + '/#/run/' + bigRun);
  await page.waitForSelector(`h2:has-text("${bigRun}")`);
  check('an empty section says none', (await page.locator('section[aria-label="Changed files"] .none').textContent()) === 'none');
  // Its usage against the budgets it is under (the config's per_task limit of 500 tokens; no
  // per_run one), as the service says them.
  const budgetRows = await page.locator('#usage tr:has-text("budget")').allTextContents();
  const runTotal = cli('run', 'show', bigRun, '--json').data.usage.total;
  check('the run page: its task\'s spend against the per-task budget', runTotal === 750 && budgetRows.length === 1
    && budgetRows[0] === 'budget per task T-0004750 tokens of 500 tokens (150%), spent', JSON.stringify(budgetRows));

  // Each view at 1400 and 375 px: a screenshot kept as a test artifact, and axe-core finding no
  // serious or critical violation.
  const axeSource = readFileSync(process.env.AXE, 'utf8');
  const views = [['board', '#/', '#run-board'], ['run', '#/run/' + gated.run_id, '#summary'], ['usage', '#/usage', '#usage-runner-tokens'],
    ['presets', '#/presets', 'details.preset']];
  for (const [name, hash, ready] of views) {
    for (const width of [1400, 375]) {
      await page.setViewportSize({ width, height: 900 });
      await page.goto(base + '/' + hash);
      await page.waitForSelector(ready);
      const file = `${process.env.ARTIFACTS}/${name}-${width}.png`;
      await page.screenshot({ path: file, fullPage: true });
      console.log(`screenshot: ${file}`);
      await page.evaluate(axeSource);
      const found = await page.evaluate(async () => (await axe.run(document, { resultTypes: ['violations'] })).violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id} (${v.nodes.length}: ${v.nodes.slice(0, 2).map((n) => n.target.join(' ')).join(', ')})`));
      check(`axe: no serious or critical violation, ${name} at ${width} px`, found.length === 0, found.join('; '));
      const scroll = await page.evaluate((w) => [document.documentElement.scrollWidth, [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > w).slice(0, 3).map((e) => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className)], width);
      check(`the ${name} view fits ${width} px`, scroll[0] <= width, `${scroll[0]} px: ${scroll[1].join(', ')}`);
    }
  }
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
