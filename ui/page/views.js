// Sidecar's page, the views other than the board: a run (with its actions and live tail), the
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
// events go to its folder, not the store, so the store's change events do not cover them).
function liveTail(id, status) {
  const list = el('ol', { id: 'tail' });
  const fill = async () => {
    const env = await api(`/api/runs/${id}/events`);
    if (!env.ok || !document.body.contains(list)) return;
    list.replaceChildren(...(env.data.events || []).slice(-200).map((e) => el('li', {}, eventLine(e))));
    if (ACTIVE[env.data.status]) setTimeout(fill, 1500);
  };
  setTimeout(fill, 0);
  return el('details', { id: 'events', open: ACTIVE[status] ? 'open' : null }, el('summary', {}, 'Events', ACTIVE[status] ? ' (live)' : ''), list);
}

function validationList(r) {
  return el('ul', {}, ...(r.validation || []).map((v) => el('li', {}, el('span', { class: 'badge' }, v.kind || 'check'),
    el('span', { class: 'badge ' + (v.ok || v.passed ? 'ok' : 'bad') }, v.status || (v.ok ? 'ok' : 'failed')), ' ', v.name || v.command || '',
    v.output ? el('pre', {}, v.output) : null)));
}

// The decisions and actions on a run: approve / block / kill with the note; replay with the reason;
// apply / discard a writing run's change. Each answer is shown in #said.
function runActions(id, r) {
  const note = el('input', { id: 'note', placeholder: 'note / reason' });
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
  const [env, output, prompt, patch] = await Promise.all([api('/api/runs/' + id), runFile(id, 'output.md'),
    runFile(id, 'prompt.md'), runFile(id, 'changes.patch')]);
  if (!env.ok) return [errors(env)];
  const r = env.data, l = r.lineage || {};
  return [
    el('h2', {}, r.run_id, ' ', el('span', { class: 'badge', id: 'status' }, r.status), ' ', el('span', { class: 'badge', id: 'review-state' }, r.review_state || ''),
      r.auto_approved || r.reviewed_by === 'sidecar:auto' ? el('span', { class: 'badge chip' }, 'auto-approved') : null,
      ' ', attentionBadge(r, 'attention')),
    el('p', {}, `task ${r.task_id || '—'} · runner ${r.runner_type || '—'} · created ${r.created_at || '—'} · started ${r.started_at || '—'} · completed ${r.completed_at || '—'}`),
    el('p', { id: 'lineage' }, 'replay of ', el('span', { id: 'replay-of' }, link(l.replay_of)), ' · replayed as ',
      el('span', { id: 'replayed-as' }, ...(l.replayed_as || []).map(link)), ' · answer of ', link(l.answer_of), ' · answered by ', ...(l.answered_by || []).map(link),
      r.replay_reason ? el('span', { id: 'replay-reason' }, ` · reason: ${r.replay_reason}`) : null),
    runActions(id, r),
    el('section', { id: 'message' }, el('h3', {}, 'Final message'), markdown(output || r.summary || '')),
    liveTail(id, r.status),
    el('details', { id: 'prompt' }, el('summary', {}, 'Prompt'), el('pre', {}, prompt)),
    el('section', {}, el('h3', {}, 'Validation'), validationList(r)),
    el('section', {}, el('h3', {}, 'Changed files'), el('ul', {}, ...(r.changed_files || []).map((f) => el('li', {}, typeof f === 'string' ? f : f.path || JSON.stringify(f))))),
    patch ? el('section', { id: 'diff' }, el('h3', {}, 'Diff'), el('pre', { class: 'diff' }, patch)) : null,
    el('section', {}, el('h3', {}, 'Usage'), el('pre', {}, JSON.stringify({ usage: r.usage, cost_usd: r.cost_usd, gates: r.gates }, null, 1))),
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
  if (text !== undefined) node.textContent = text;
  return node;
}

// Horizontal bars, one per row, scaled to the largest figure; each bar carries its figure in data-value.
function barChart(id, rows, value, format) {
  const figures = rows.map(value);
  const max = Math.max(0, ...figures);
  const svg = svgEl('svg', { id, width: 520, height: 22 * rows.length + 8, class: 'chart' });
  rows.forEach((r, i) => {
    const w = max > 0 ? Math.round(300 * figures[i] / max) : 0;
    svg.append(svgEl('text', { x: 0, y: 22 * i + 16 }, String(r.group)),
      svgEl('rect', { x: 140, y: 22 * i + 4, width: w, height: 16, fill: '#68a', 'data-group': r.group, 'data-value': figures[i] }),
      svgEl('text', { x: 146 + w, y: 22 * i + 16, class: 'figure' }, format(figures[i])));
  });
  return svg;
}

const tokens = (r) => (r.usage && r.usage.total) || 0;
const cost = (r) => r.cost_usd || 0;
const dollars = (x) => '$' + x.toFixed(4);

// Tokens over time, one line per series ("codex 2026-11-03" rows: the day is the last 10
// characters); each point carries its series, day and figure in data-*.
function timeChart(id, rows) {
  const days = [...new Set(rows.map((r) => r.group.slice(-10)))].sort();
  const series = [...new Set(rows.map((r) => r.group.slice(0, -11) || '(none)'))].sort();
  const max = Math.max(1, ...rows.map(tokens));
  const x = (d) => 150 + (days.length > 1 ? Math.round(340 * days.indexOf(d) / (days.length - 1)) : 0);
  const y = (v) => 130 - Math.round(120 * v / max);
  const colors = ['#68a', '#a66', '#6a6', '#a86', '#86a', '#6aa'];
  const svg = svgEl('svg', { id, width: 520, height: 150 + 18 * series.length, class: 'chart' });
  days.forEach((d) => svg.append(svgEl('text', { x: x(d) - 30, y: 146, class: 'day' }, d)));
  series.forEach((s, i) => {
    const color = colors[i % colors.length];
    const points = rows.filter((r) => (r.group.slice(0, -11) || '(none)') === s);
    svg.append(svgEl('polyline', { points: points.map((r) => `${x(r.group.slice(-10))},${y(tokens(r))}`).join(' '),
      fill: 'none', stroke: color, 'stroke-width': 2, 'data-series': s }));
    points.forEach((r) => svg.append(svgEl('circle', { cx: x(r.group.slice(-10)), cy: y(tokens(r)), r: 3, fill: color,
      'data-series': s, 'data-day': r.group.slice(-10), 'data-value': tokens(r) })));
    svg.append(svgEl('text', { x: 0, y: 12 + 18 * i, fill: color, class: 'legend' }, s));
  });
  return svg;
}

async function usage() {
  const by = ['day', 'runner', 'model', 'task', 'runner_day', 'model_day'];
  const envs = await Promise.all(by.map((b) => api('/api/usage?by=' + b)));
  const bad = envs.find((e) => !e.ok);
  if (bad) return [errors(bad)];
  const [day, runner, model, task, runnerDay, modelDay] = envs.map((e) => e.data.rows || []);
  const chart = (title, id, rows) => el('section', {}, el('h3', {}, title),
    barChart(id + '-tokens', rows, tokens, String), barChart(id + '-cost', rows, cost, dollars));
  const ledger = el('table', { id: 'ledger' }, el('tr', {}, el('th', {}, 'task'), el('th', {}, 'runs'), el('th', {}, 'tokens'), el('th', {}, 'cost')),
    ...task.map((r) => el('tr', {}, el('td', {}, r.group), el('td', {}, r.runs), el('td', {}, tokens(r)), el('td', {}, r.cost_usd === null ? '-' : dollars(cost(r))))));
  return [el('h2', {}, 'Usage'), chart('Tokens and cost by day', 'usage-day', day),
    el('section', {}, el('h3', {}, 'Tokens over time, per runner'), timeChart('usage-runner-days', runnerDay)),
    el('section', {}, el('h3', {}, 'Tokens over time, per model'), timeChart('usage-model-days', modelDay)),
    chart('By runner', 'usage-runner', runner), chart('By model', 'usage-model', model),
    el('section', {}, el('h3', {}, 'Per task'), ledger)];
}
