// Sidecar's page, the views other than the board: a run (a summary line, its actions, gates and
// validation as tables, changed files and their diff, usage, lineage, the live tail), the
// presets (a form from each preset's parameter declarations) and usage (SVG charts drawn here).
// Loaded before app.js, which holds el(), api(), markdown() and the router; agent text only ever
// goes into the page as text nodes.
'use strict';

const ACTIVE = { queued: true, running: true };
const SVG = 'http://www.w3.org/2000/svg';

function link(id) { return id ? el('a', { href: '#/run/' + id }, id) : '—'; }

// A file of the run's folder as text ('' when there is none).
async function runFile(id, name) {
  const env = await api(`/api/runs/${id}/files/${name}`);
  return env.ok && typeof env.data.text === 'string' ? env.data.text : '';
}

// One event of `run tail --json` as a line: its kind, then what the agent said (agent.message
// carries its text), or the event's other fields.
function eventLine(e) {
  if (typeof e === 'string') return e;
  const f = e.fields || {};
  const what = typeof f.text === 'string' ? f.text : f.command || f.message || f.reason || f.path || '';
  return `${e.kind || 'event'}${what ? ': ' + what : ''}`;
}

// The run's events, newest last; while the run is active it is fetched again every 1.5 s (an agent's
// events go to its folder, not the store, so the store's change events do not cover them). A page
// redrawn for a change of the store starts from the lines it showed: the tail never blanks.
let shownTail = { id: null, lines: [] };
function liveTail(id, status) {
  const lines = shownTail.id === id ? shownTail.lines : [];
  const list = el('ol', { id: 'tail', tabindex: 0, 'aria-label': 'events' }, ...lines.map((t) => el('li', {}, t)));
  const fill = async () => {
    const env = await api(`/api/runs/${id}/events`);
    if (!env.ok || !document.body.contains(list)) return;
    const now = (env.data.events || []).slice(-200).map(eventLine);
    shownTail = { id, lines: now };
    list.replaceChildren(...now.map((t) => el('li', {}, t)));
    if (ACTIVE[env.data.status]) setTimeout(fill, 1500);
  };
  setTimeout(fill, 0);
  return el('details', { id: 'events', open: ACTIVE[status] ? 'open' : null }, el('summary', {}, 'Events', ACTIVE[status] ? ' (live)' : ''), list);
}

// A table of rows (each a list of cells: text or nodes) under its headers; "none" when empty.
function table(id, headers, rows) {
  if (!rows.length) return el('p', { id, class: 'none' }, 'none');
  return el('table', { id, class: 'facts', tabindex: 0 }, el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, ...rows.map((cells) => el('tr', {}, ...cells.map((c) => el('td', {}, c === null || c === undefined ? '' : c))))));
}

// Each validation step: kind, command, its result, exit code, time and the end of its output.
function validationTable(r) {
  return table('validation', ['Step', 'Kind', 'Command', 'Result', 'Exit code', 'Took', 'Output'], (r.validation || []).map((v, i) => [
    String(i + 1), v.kind || '', el('code', {}, v.command || v.name || ''),
    el('span', { class: 'badge ' + (v.ok ? 'ok' : 'bad') }, v.ok ? 'passed' : v.timed_out ? 'timed out' : 'failed'),
    v.exit_code === null || v.exit_code === undefined ? '' : String(v.exit_code),
    typeof v.duration_ms === 'number' ? took(v.duration_ms) : '',
    v.output_snippet ? el('pre', { class: 'excerpt', tabindex: 0 }, v.output_snippet) : '']));
}

// Each gate that applied (run show's "Gates"): verdict, policy and what it found.
function gatesTable(r) {
  const results = (r.gates && r.gates.results) || {};
  const rows = Object.keys(results).sort().filter((n) => results[n] && results[n].verdict !== 'skipped').map((n) => {
    const g = results[n];
    const bad = g.verdict === 'blocked' ? 'bad' : g.verdict === 'passed' || g.verdict === 'allowed' ? 'ok' : '';
    return [n, el('span', { class: 'badge ' + bad }, g.verdict || ''), g.policy || '', (g.findings || []).join('; ') || g.note || ''];
  });
  return table('gates', ['Gate', 'Verdict', 'Policy', 'Found'], rows);
}

// What a reviewer acts on, in one line: the status and why, what changed, the gates and validation.
function summaryLine(r) {
  const gates = Object.values((r.gates && r.gates.results) || {}).filter((g) => g && g.verdict !== 'skipped');
  const blocked = gates.filter((g) => g.verdict === 'blocked').length;
  const steps = r.validation || [], failed = steps.filter((v) => !v.ok).length;
  const blockers = r.blockers || [];
  const why = (r.attention && r.attention.state) || r.failure_reason || blockers[blockers.length - 1] || r.summary || '';
  const files = (r.changed_files || []).length;
  return el('p', { id: 'summary' }, el('b', {}, r.status), why ? ` — ${why}` : '', ' · ',
    files ? `${files} file${files === 1 ? '' : 's'} changed` : 'no file changed', ' · ',
    gates.length ? `gates: ${gates.length - blocked} passed${blocked ? `, ${blocked} blocked` : ''}` : 'no gate', ' · ',
    steps.length ? `validation: ${steps.length - failed} passed${failed ? `, ${failed} failed` : ''}` : 'no validation');
}

// The run's tokens and cost, and against each budget of the config that has a limit (the run's own,
// its task's runs so far: /api/runs/R-…/budgets) and the one that stopped it; "unknown" for a
// figure the runner did not report.
function usageTable(r, budgets) {
  const u = r.usage || {}, n = (v) => (typeof v === 'number' ? v.toLocaleString('en') : 'unknown');
  const rows = [['input', n(u.input)], ['cached input', n(u.cached_input)], ['output', n(u.output)],
    ['reasoning output', n(u.reasoning_output)], ['total', n(u.total)],
    ['cost', typeof r.cost_usd === 'number' ? usd(r.cost_usd) : 'unknown']];
  const figure = (kind, v) => (kind === 'usd' ? dollars(v) : `${v.toLocaleString('en')} tokens`);
  const against = (label, scope) => {
    for (const kind of ['tokens', 'usd']) {
      const limit = scope && scope.limit && scope.limit[kind];
      if (typeof limit !== 'number') continue;
      const spent = scope[kind] || 0;
      rows.push([label, `${figure(kind, spent)} of ${figure(kind, limit)} (${Math.round(100 * spent / limit)}%)${spent >= limit ? ', spent' : ''}`]);
    }
  };
  against('budget per run', budgets && budgets.per_run);
  if (budgets && budgets.per_task) against(`budget per task ${budgets.per_task.task_id}`, budgets.per_task);
  const b = r.budget_exceeded;
  if (b) rows.push(['budget that stopped it', `${b.scope} ${b.kind}: ${b.spent} spent of ${b.limit}${b.stopped ? ' (stopped)' : ''}`]);
  return table('usage', ['', 'figure'], rows);
}

// A unified diff as lines of text, each marked added, removed or a hunk for its colour; never HTML.
function diffView(patch) {
  const kind = (line) => (/^(\+\+\+|---) /.test(line) ? 'file' : line[0] === '+' ? 'add' : line[0] === '-' ? 'del' : line.startsWith('@@') ? 'hunk' : '');
  return el('pre', { class: 'diff', tabindex: 0 }, ...patch.split('\n').map((line) => el('span', { class: kind(line) }, line + '\n')));
}

// Links to the runs a run comes from or led to, and its pipeline's steps.
function lineage(r) {
  const l = r.lineage || {}, steps = l.steps || [];
  const item = (label, ...rest) => el('li', {}, label + ' ', ...rest);
  return el('ul', { id: 'lineage' },
    item('replay of', el('span', { id: 'replay-of' }, link(l.replay_of))),
    item('replayed as', el('span', { id: 'replayed-as' }, ...((l.replayed_as || []).length ? l.replayed_as.map(link) : ['—']))),
    item('answer of', link(l.answer_of)),
    item('answered by', ...((l.answered_by || []).length ? l.answered_by.map(link) : ['—'])),
    steps.length > 1 ? item('pipeline', ...steps.map((x) => el('span', { class: x.run_id === r.run_id ? 'current' : '' },
      link(x.run_id), ` (${x.runner_type || '?'} ${x.status || ''}) `))) : null,
    r.replay_reason ? el('li', { id: 'replay-reason' }, `reason: ${r.replay_reason}`) : null);
}

// The decisions and actions on a run: approve / block / kill with the note; replay with the reason;
// apply / discard a writing run's change. Each answer is shown in #said.
function runActions(id, r) {
  const note = el('input', { id: 'note', placeholder: 'note / reason', 'aria-label': 'note or reason' });
  // Each answer shows in the slot drawn last (an action changes the store, which redraws the page).
  const said = slot('said:' + id, el('div', { id: 'said' }), answerWith((v) => el('span', {}, `${v.what}: ${v.what === 'replay' ? 'started ' : 'done'}`,
    v.what === 'replay' ? el('a', { href: '#/run/' + v.data.run_id, id: 'replay-link' }, v.data.run_id) : null,
    v.what === 'apply' || v.what === 'discard' ? el('pre', { id: 'change' }, JSON.stringify(v.data, null, 1)) : null)));
  const act = (what, key) => () => ask('said:' + id, { pending: `${what}: …` },
    async () => ({ ...(await api(`/api/runs/${id}/${what}`, key ? { [key]: note.value } : {})), what }));
  const writes = r.worktree && typeof r.worktree === 'object';
  return el('section', { id: 'actions' }, note,
    el('button', { id: 'approve', onclick: act('approve', 'note') }, 'Approve'),
    el('button', { id: 'block', onclick: act('block', 'reason') }, 'Block'),
    el('button', { id: 'replay', onclick: act('replay', 'reason') }, 'Replay'),
    ACTIVE[r.status] ? el('button', { id: 'kill', onclick: act('kill') }, 'Kill') : null,
    writes ? el('button', { id: 'apply', onclick: act('apply') }, 'Apply change') : null,
    writes ? el('button', { id: 'discard', onclick: act('discard') }, 'Discard change') : null, said);
}

// What an active run needs (stuck, waiting for input: its `attention`), as `run show` says it.
function attentionBadge(r, id) {
  const a = r.attention;
  if (!a || !ACTIVE[r.status]) return null;
  return el('span', { class: 'badge bad attention', id, title: `since ${a.since || '?'}` }, `${a.state}: ${a.evidence || ''}`);
}

async function runView(id) {
  const [env, output, prompt, patch, budgets] = await Promise.all([api('/api/runs/' + id), runFile(id, 'output.md'),
    runFile(id, 'prompt.md'), runFile(id, 'changes.patch'), api(`/api/runs/${id}/budgets`)]);
  if (!env.ok) return [errors(env)];
  const r = env.data;
  const files = (r.changed_files || []).map((f) => (typeof f === 'string' ? f : f.path || JSON.stringify(f)));
  const section = (h, ...body) => el('section', { 'aria-label': h }, el('h3', {}, h), ...body);
  return [
    el('h2', {}, r.run_id, ' ', el('span', { class: 'badge', id: 'status' }, r.status), ' ', el('span', { class: 'badge', id: 'review-state' }, r.review_state || ''),
      r.auto_approved || r.reviewed_by === 'sidecar:auto' ? el('span', { class: 'badge chip' }, 'auto-approved') : null,
      ' ', attentionBadge(r, 'attention')),
    summaryLine(r),
    el('p', {}, `task ${r.task_id || '—'} · runner ${r.runner_type || '—'}${r.model ? ' · model ' + r.model : ''} · created ${r.created_at || '—'} · started ${r.started_at || '—'} · completed ${r.completed_at || '—'}`),
    runActions(id, r),
    el('section', { id: 'message', 'aria-label': 'Final message' }, el('h3', {}, 'Final message'), output || r.summary ? markdown(output || r.summary) : el('p', { class: 'none' }, 'none')),
    section('Gates', gatesTable(r)),
    section('Validation', validationTable(r)),
    section('Changed files', files.length ? el('ul', { id: 'changed-files' }, ...files.map((f) => el('li', {}, f))) : el('p', { class: 'none' }, 'none')),
    patch ? el('section', { id: 'diff', 'aria-label': 'Diff' }, el('h3', {}, 'Diff'), diffView(patch)) : null,
    section('Usage', usageTable(r, budgets.ok ? budgets.data : null)),
    section('Lineage', lineage(r)),
    liveTail(id, r.status),
    el('details', { id: 'prompt' }, el('summary', {}, 'Prompt'), el('pre', { tabindex: 0 }, prompt || 'none')),
  ];
}

// `--explain`'s budget report, as `sidecar run T --dry-run --explain` prints it.
function budgetText(b) {
  if (!b) return 'given as it is (not compiled)';
  const lines = [`tokens: ${b.estimated_tokens} estimated (untrimmed ${b.untrimmed_tokens}; target ${b.target}, max ${b.max}), pass: ${b.pass}${b.over_budget ? ', still over the maximum' : ''}`];
  for (const a of b.actions || []) lines.push(`  ${a.section}: ${a.action} (${a.pass} pass)`);
  return lines.join('\n');
}

// --- presets -------------------------------------------------------------------------------------

// One input per declared parameter: its type decides the control, its default fills it, one without
// a default must be given.
function paramInput(p) {
  const name = 'param-' + p.name;
  if (p.choices) return el('select', { name, 'data-param': p.name }, ...p.choices.map((c) => el('option', { value: c, selected: c === p.default }, c)));
  if (p.type === 'boolean') return el('input', { type: 'checkbox', name, 'data-param': p.name, checked: p.default === true });
  const attrs = { name, 'data-param': p.name, value: p.default === null || p.default === undefined ? '' : String(p.default), required: p.default === null };
  if (p.type === 'integer' || p.type === 'number') Object.assign(attrs, { type: 'number', step: p.type === 'integer' ? 1 : 'any' });
  return el('input', attrs);
}

function presetForm(p) {
  const report = el('div', { class: 'report' });
  const form = el('form', { class: 'preset-form', 'data-preset': p.name },
    ...p.params.map((x) => el('label', {}, el('b', {}, x.name), ` (${x.type}${x.default === null ? ', required' : ''}) `, paramInput(x), ' ', x.doc || '')),
    el('button', { type: 'submit' }, 'Run ' + p.name), report);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const params = {};
    for (const i of form.querySelectorAll('[data-param]')) {
      const v = i.type === 'checkbox' ? String(i.checked) : i.value;
      if (v !== '') params[i.dataset.param] = v;
    }
    const env = await api(`/api/presets/${p.name}/run`, { params });
    if (!env.ok) return report.replaceChildren(errors(env));
    report.replaceChildren(el('span', { class: 'running' }, `${env.data.id}: running…`));
    const poll = async () => {
      const st = await api('/api/preset-runs/' + env.data.id);
      if (!st.ok) return report.replaceChildren(errors(st));
      if (st.data.running) return setTimeout(poll, 1000);
      const r = st.data.report;
      report.replaceChildren(el('h4', {}, `${env.data.id}: `, r && r.ok ? 'done' : 'failed'),
        r && r.data ? el('pre', { class: 'preset-text' }, r.data.text || '') : el('pre', {}, st.data.progress || ''),
        r && r.errors && r.errors.length ? errors(r) : null,
        r && r.data && r.data.runs ? el('ul', {}, ...r.data.runs.map((x) => el('li', {}, link(x.run_id || x), ' ', x.status || ''))) : null);
    };
    poll();
  });
  return form;
}

async function presets() {
  const env = await api('/api/presets');
  if (!env.ok) return [errors(env)];
  const shown = await Promise.all(env.data.map((p) => (p.trusted ? api('/api/presets/' + p.name) : Promise.resolve(null))));
  return [el('h2', {}, 'Presets'), ...env.data.map((p, i) => {
    const d = shown[i] && shown[i].ok ? shown[i].data : null;
    return el('details', { class: 'preset', 'data-name': p.name }, el('summary', {}, el('b', {}, p.name), ` (${p.origin}) ${p.summary || ''}`),
      d ? presetForm(d) : el('p', {}, p.trusted ? 'could not be loaded' : 'not trusted: run `sidecar trust` to run it'));
  })];
}

// --- usage ---------------------------------------------------------------------------------------

function svgEl(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = visible(text);
  return node;
}

// A short figure for an axis: 1.2k, 3.4M.
function short(v) {
  const a = Math.abs(v);
  return a >= 1e6 ? (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + 'M' : a >= 1e3 ? (v / 1e3).toFixed(a >= 1e4 ? 0 : 1) + 'k' : String(Math.round(v * 100) / 100);
}

// Horizontal bars, one per row, scaled to the largest figure, over an axis in `unit`; each bar
// carries its figure in data-value. The chart is an image to assistive technology, its title
// saying what it shows (the table under it has the figures).
function barChart(id, rows, value, format, unit) {
  const figures = rows.map(value);
  const max = Math.max(0, ...figures);
  const h = 22 * rows.length + 42;
  const svg = svgEl('svg', { id, width: 520, height: h, viewBox: `0 0 520 ${h}`, class: 'chart', role: 'img', 'aria-label': `${unit} by ${id.split('-')[1]}` });
  svg.append(svgEl('title', {}, `${unit} by ${id.split('-')[1]}`));
  rows.forEach((r, i) => {
    const w = max > 0 ? Math.round(300 * figures[i] / max) : 0;
    svg.append(svgEl('text', { x: 0, y: 22 * i + 16 }, String(r.group)),
      svgEl('rect', { x: 140, y: 22 * i + 4, width: w, height: 16, fill: '#36c', 'data-group': r.group, 'data-value': figures[i] }),
      svgEl('text', { x: 146 + w, y: 22 * i + 16, class: 'figure' }, format(figures[i])));
  });
  const axis = 22 * rows.length + 6;
  svg.append(svgEl('line', { x1: 140, y1: axis, x2: 440, y2: axis, stroke: '#555' }));
  for (const f of [0, 0.5, 1]) {
    svg.append(svgEl('line', { x1: 140 + 300 * f, y1: axis, x2: 140 + 300 * f, y2: axis + 4, stroke: '#555' }),
      svgEl('text', { x: 140 + 300 * f, y: axis + 16, 'text-anchor': 'middle', class: 'tick' }, unit === 'USD' ? dollars(max * f) : short(max * f)));
  }
  svg.append(svgEl('text', { x: 290, y: axis + 30, 'text-anchor': 'middle', class: 'unit' }, unit));
  return svg;
}

const tokens = (r) => (r.usage && r.usage.total) || 0;
const cost = (r) => r.cost_usd || 0;
const dollars = (x) => '$' + x.toFixed(x >= 1 || x === 0 ? 2 : 4);

// The figures of a chart as a table: what it groups by, runs, tokens and cost (blank when unknown).
function figuresTable(id, label, rows) {
  return table(id, [label, 'runs', 'tokens', 'cost'], rows.map((r) => [String(r.group), String(r.runs),
    (r.usage && typeof r.usage.total === 'number') ? r.usage.total.toLocaleString('en') : '',
    typeof r.cost_usd === 'number' ? dollars(r.cost_usd) : '']));
}

// Tokens over time, one line per series ("codex 2026-11-03" rows: the day is the last 10
// characters), over a y axis of tokens and an x axis of time from the first day to the last (days
// without runs keep their width), five dates labelled at most, evenly spaced, however many days;
// each point carries its series, day and figure in data-*. One day is a point on both axes.
const DAY_MS = 86400000;
function timeChart(id, rows) {
  const days = [...new Set(rows.map((r) => r.group.slice(-10)))].sort();
  const series = [...new Set(rows.map((r) => r.group.slice(0, -11) || '(none)'))].sort();
  const max = Math.max(1, ...rows.map(tokens));
  const t = (d) => Date.parse(d + 'T00:00:00Z');
  const first = t(days[0]), span = t(days[days.length - 1]) - first;
  const x = (d) => 150 + (span > 0 ? Math.round(340 * (t(d) - first) / span) : 170);
  const y = (v) => 130 - Math.round(120 * v / max);
  const colors = ['#36c', '#c33', '#292', '#a60', '#73b', '#077'];
  const h = 160 + 18 * series.length;
  const svg = svgEl('svg', { id, width: 520, height: h, viewBox: `0 0 520 ${h}`, class: 'chart', role: 'img', 'aria-label': 'tokens per day' });
  svg.append(svgEl('title', {}, 'tokens per day'), svgEl('line', { x1: 150, y1: 10, x2: 150, y2: 130, stroke: '#555' }),
    svgEl('line', { x1: 150, y1: 130, x2: 495, y2: 130, stroke: '#555' }));
  for (const f of [0, 0.5, 1]) {
    svg.append(svgEl('line', { x1: 146, y1: y(max * f), x2: 150, y2: y(max * f), stroke: '#555' }),
      svgEl('text', { x: 142, y: y(max * f) + 4, 'text-anchor': 'end', class: 'tick' }, short(max * f)));
  }
  svg.append(svgEl('text', { x: 142, y: 8, 'text-anchor': 'end', class: 'unit' }, 'tokens'));
  const labels = Math.min(5, span / DAY_MS + 1);
  for (let k = 0; k < labels; k++) {
    const d = new Date(first + (labels > 1 ? Math.round(span / DAY_MS * k / (labels - 1)) * DAY_MS : 0)).toISOString().slice(0, 10);
    svg.append(svgEl('text', { x: x(d), y: 146, 'text-anchor': 'middle', class: 'day' }, d));
  }
  series.forEach((s, i) => {
    const color = colors[i % colors.length];
    const points = rows.filter((r) => (r.group.slice(0, -11) || '(none)') === s);
    svg.append(svgEl('polyline', { points: points.map((r) => `${x(r.group.slice(-10))},${y(tokens(r))}`).join(' '),
      fill: 'none', stroke: color, 'stroke-width': 2, 'data-series': s }));
    points.forEach((r) => svg.append(svgEl('circle', { cx: x(r.group.slice(-10)), cy: y(tokens(r)), r: 3, fill: color,
      'data-series': s, 'data-day': r.group.slice(-10), 'data-value': tokens(r) })));
    svg.append(svgEl('rect', { x: 0, y: 154 + 18 * i, width: 10, height: 10, fill: color }),
      svgEl('text', { x: 16, y: 163 + 18 * i, class: 'legend' }, s));
  });
  return svg;
}

// Each budget of the config as a bar against its limit (the tasks nearest theirs first, ten at
// most), and the runs a budget stopped.
function budgets(b) {
  const items = [];
  const figure = (kind, v) => (kind === 'usd' ? dollars(v) : `${v.toLocaleString('en')} tokens`);
  const add = (label, scope, kind) => {
    const limit = scope.limit && scope.limit[kind];
    if (typeof limit !== 'number') return;
    const spent = scope[kind] || 0, pct = Math.round(100 * spent / limit);
    items.push(el('li', { 'data-budget': `${label} ${kind}` }, `${label}: ${figure(kind, spent)} of ${figure(kind, limit)} (${pct}%) `,
      el('meter', { min: 0, max: limit, value: Math.min(spent, limit), low: limit * 0.5, high: limit * 0.8, optimum: 0, 'aria-label': `${label}, ${kind}` }),
      spent >= limit ? el('span', { class: 'badge bad' }, ' spent') : null));
  };
  const ratio = (t) => Math.max(...['tokens', 'usd'].map((k) => (typeof t.limit[k] === 'number' ? (t[k] || 0) / t.limit[k] : 0)));
  for (const kind of ['tokens', 'usd']) {
    add('per day (today, UTC)', b.per_day, kind);
    for (const t of [...b.per_task].sort((x, y) => ratio(y) - ratio(x)).slice(0, 10)) add(`per task ${t.task_id}`, t, kind);
    const big = b.per_run.largest;
    if (big) add(`per run (the largest, ${big.run_id})`, { tokens: big.tokens, usd: big.usd, limit: b.per_run.limit }, kind);
  }
  const stopped = b.stopped || [];
  return [items.length ? el('ul', { id: 'budgets', class: 'budgets' }, ...items)
    : el('p', { id: 'budgets', class: 'none' }, 'none: no budget in .agent/config.lua'),
  el('p', {}, stopped.length ? 'Stopped by a budget: ' : 'No run was stopped by a budget.',
    ...stopped.map((x) => el('span', {}, link(x.run_id), ' '))) ];
}

async function usage() {
  const by = ['day', 'runner', 'model', 'task', 'runner_day', 'model_day'];
  const envs = await Promise.all([...by.map((b) => api('/api/usage?by=' + b)), api('/api/usage/budgets')]);
  const bad = envs.find((e) => !e.ok);
  if (bad) return [errors(bad)];
  const limits = envs.pop().data.budgets;
  const [day, runner, model, task, runnerDay, modelDay] = envs.map((e) => e.data.rows || []);
  const chart = (title, id, rows, label) => el('section', { 'aria-label': title }, el('h3', {}, title),
    ...(rows.length ? [barChart(id + '-tokens', rows, tokens, String, 'tokens'), barChart(id + '-cost', rows, cost, dollars, 'USD'),
      figuresTable(id + '-table', label, rows)] : [el('p', { class: 'none' }, 'none')]));
  const over = (title, id, rows) => el('section', { 'aria-label': title }, el('h3', {}, title),
    ...(rows.length ? [timeChart(id, rows), figuresTable(id + '-table', 'series and day', rows)] : [el('p', { class: 'none' }, 'none')]));
  const ledger = el('table', { id: 'ledger', class: 'facts', tabindex: 0 }, el('tr', {}, el('th', { scope: 'col' }, 'task'), el('th', { scope: 'col' }, 'runs'),
    el('th', { scope: 'col' }, 'tokens'), el('th', { scope: 'col' }, 'cost')),
    ...task.map((r) => el('tr', {}, el('td', {}, r.group), el('td', {}, r.runs), el('td', {}, tokens(r)), el('td', {}, r.cost_usd === null ? '-' : dollars(cost(r))))));
  return [el('h2', {}, 'Usage'), el('section', { 'aria-label': 'Budgets' }, el('h3', {}, 'Budgets'), ...budgets(limits)),
    chart('Tokens and cost by day', 'usage-day', day, 'day'),
    over('Tokens over time, per runner', 'usage-runner-days', runnerDay),
    over('Tokens over time, per model', 'usage-model-days', modelDay),
    chart('By runner', 'usage-runner', runner, 'runner'), chart('By model', 'usage-model', model, 'model'),
    el('section', { 'aria-label': 'Per task' }, el('h3', {}, 'Per task'), task.length ? ledger : el('p', { class: 'none' }, 'none'))];
}
