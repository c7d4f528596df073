// Measures `sidecar ui`'s board (run by bench/ui_board.sh): BIG and SMALL are the URLs (with their
// token) of two servers, over the big store and over a small one (the reference).
//  - first render: in headless Chromium, the time from navigation start (performance.timeOrigin)
//    to the first frame painted after the board's columns entered the DOM, marked through the
//    Performance API by a script the benchmark adds (the page is not changed for it); median of
//    LOADS loads, each a fresh navigation (the server sends no-store: nothing comes from a cache).
//  - weight: the bytes of the page and every asset it loads (the API's answers not counted).
//  - a filter change: the run board's status filter set, to the frame painted with the columns
//    it brought (median of the loads, each after its first render);
//  - API: each call the board made during a load, and the run board's text filter (q=T-0042),
//    repeated over one keep-alive connection: time
//    from sending the request to its last byte (so an upper bound of the server's time), median
//    and p90; beside it a static asset of the same server, the floor of any request.
//
//   node bench/ui_board.mjs BIG_URL SMALL_URL [LOADS]
import { createRequire } from 'node:module';
import http from 'node:http';
const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

const [big, small] = process.argv.slice(2, 4).map((u) => new URL(u));
const loads = Number(process.argv[4] || 15);
const sizes = process.argv[5] || 'the big store'; // "2000 tasks / 100000 runs against 200 / 1000", for the report
const TARGET = { render: 300, weight: 150 * 1024, api: 20 };

const quantile = (values, q) => {
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.floor(q * v.length))];
};
const median = (values) => {
  const v = [...values].sort((a, b) => a - b), n = v.length;
  return n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
};

// Marks 'board-in-dom' when the board's columns are in the page, and 'board-painted' once the
// frame that shows them has been painted (a task queued from the next animation frame runs after
// that frame's paint).
const MARKER = () => {
  const seen = () => {
    if (performance.getEntriesByName('board-in-dom').length || !document.querySelector('#main .board .column')) return;
    performance.mark('board-in-dom');
    requestAnimationFrame(() => setTimeout(() => performance.mark('board-painted'), 0));
  };
  new MutationObserver(seen).observe(document, { childList: true, subtree: true });
};

// The run board's status filter set to "failed": milliseconds until the frame that shows the columns
// it brought (the Done column then empty) has been painted.
const FILTER_CHANGE = () => new Promise((resolve) => {
  const board = document.getElementById('run-board'), select = document.getElementById('runs-status');
  const t0 = performance.now();
  const o = new MutationObserver(() => {
    const h = board.querySelector('[data-column=done] h3');
    if (!h || h.textContent !== 'Done (0)') return;
    o.disconnect();
    requestAnimationFrame(() => setTimeout(() => resolve(performance.now() - t0), 0));
  });
  o.observe(board, { childList: true, subtree: true });
  select.value = 'failed';
  select.dispatchEvent(new Event('change'));
});

async function browse(browser, url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.addInitScript(MARKER);
  await page.goto(url.href); // sets the token's cookie (and redirects to /)
  const home = url.origin + '/';
  const renders = [], dom = [], filters = [];
  let weight = 0, assets = [];
  const calls = new Set();
  for (let i = 0; i < loads; i++) {
    const sizes = [];
    const onResponse = async (r) => {
      const path = new URL(r.url()).pathname;
      if (path === '/api/events') return;
      if (path.startsWith('/api/')) { calls.add(path + new URL(r.url()).search); return; }
      sizes.push([path, (await r.body().catch(() => Buffer.alloc(0))).length]);
    };
    page.on('response', onResponse);
    await page.goto(home);
    await page.waitForFunction(() => performance.getEntriesByName('board-painted').length > 0, null, { timeout: 60000 });
    const [inDom, painted] = await page.evaluate(() => ['board-in-dom', 'board-painted'].map((n) => performance.getEntriesByName(n)[0].startTime));
    await page.waitForLoadState('load');
    page.off('response', onResponse);
    dom.push(inDom);
    renders.push(painted);
    filters.push(await page.evaluate(FILTER_CHANGE));
    weight = sizes.reduce((sum, [, n]) => sum + n, 0);
    assets = sizes;
  }
  const cards = await page.locator('.card').count();
  await context.close();
  return { render: median(renders), dom: median(dom), filter: median(filters), weight, assets, calls: [...calls], cards };
}

// One keep-alive connection; each request timed from sending it to the last byte of the answer.
function timeCalls(url, path, times) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const token = url.searchParams.get('token');
  const once = () => new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.get({ host: url.hostname, port: url.port, path, agent, headers: { 'X-Sidecar-Token': token } }, (res) => {
      let bytes = 0;
      res.on('data', (d) => { bytes += d.length; });
      res.on('end', () => res.statusCode === 200 ? resolve([Number(process.hrtime.bigint() - t0) / 1e6, bytes])
        : reject(new Error(`${path}: HTTP ${res.statusCode}`)));
    });
    req.on('error', reject);
  });
  return (async () => {
    const ms = [];
    let bytes = 0;
    for (let i = 0; i < 3; i++) await once(); // warm: the server's statements prepared, the pages cached
    for (let i = 0; i < times; i++) { const [t, b] = await once(); ms.push(t); bytes = b; }
    agent.destroy();
    return { median: median(ms), p90: quantile(ms, 0.9), bytes };
  })();
}

const verdict = (value, limit) => (value <= limit ? 'met' : 'NOT met');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const ref = await browse(browser, small);
  const got = await browse(browser, big);
  console.log(`sidecar ui board, ${loads} loads each, headless chromium; ${sizes}`);
  console.log(`  first render (board painted) ${got.render.toFixed(1)} ms (in DOM ${got.dom.toFixed(1)} ms, ${got.cards} cards)` +
    `  reference ${ref.render.toFixed(1)} ms (ratio ${(got.render / ref.render).toFixed(2)}x)  target <= ${TARGET.render} ms: ${verdict(got.render, TARGET.render)}`);
  console.log(`  a filter change (run status) painted ${got.filter.toFixed(1)} ms  reference ${ref.filter.toFixed(1)} ms` +
    ` (ratio ${(got.filter / ref.filter).toFixed(2)}x, goal <= 2x: ${verdict(got.filter / ref.filter, 2)})`);
  console.log(`  page and assets ${(got.weight / 1024).toFixed(1)} KB (${got.assets.map(([p, n]) => `${p} ${n}`).join(', ')})` +
    `  reference ${(ref.weight / 1024).toFixed(1)} KB  target <= 150 KB: ${verdict(got.weight, TARGET.weight)}`);
  const asset = got.assets.find(([p]) => p.endsWith('.css')) || got.assets[0];
  const floor = await timeCalls(big, asset[0], 100);
  // The text filter (issue 52): a task id typed into the run board's Text filter, as the page asks.
  for (const path of [...got.calls.sort(), '/api/board/runs?q=T-0042']) {
    const t = await timeCalls(big, path, 100);
    const r = await timeCalls(small, path, 100);
    console.log(`  GET ${path}: median ${t.median.toFixed(2)} ms, p90 ${t.p90.toFixed(2)} ms, ${(t.bytes / 1024).toFixed(1)} KB` +
      `  reference ${r.median.toFixed(2)} ms (small store), ${floor.median.toFixed(2)} ms (GET ${asset[0]})` +
      `  target <= ${TARGET.api} ms: ${verdict(t.median, TARGET.api)}`);
  }
} finally {
  await browser.close();
}
