// Sidecar's page: the board, runs, presets and usage over the JSON API (docs/api.md). Agent text is
// only ever put into the page as text nodes (see markdown below): never as HTML.
'use strict';

const STATUSES = ['draft', 'ready', 'running', 'review', 'blocked', 'done'];
const main = document.getElementById('main');
const state = { filter: '', search: '' };

// Text as a terminal shows it harmlessly (host/util/utf8.hpp's terminal_visible, which `run tail`
// uses): newlines and tabs stay, other controls in caret notation (ESC: ^[), C1 controls and the
// marks that reorder text (bidi overrides and isolates, LRM, RLM, ALM) as <U+202E>.
function visible(text) {
  return String(text).replace(/\r(?!\n)|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, (c) => (c === '\x7f' ? '^?' : '^' + String.fromCharCode(c.charCodeAt(0) + 64)))
    .replace(/[\x80-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `<U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}>`);
}

// el('a', {href: '#/x', class: 'c'}, 'text', child): children are text or nodes, never HTML; text
// is made visible (above).
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'href') node.setAttribute('href', safeHref(v));
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(visible(c)));
  }
  return node;
}

// Only links within the page or to http(s): no javascript:, data: or anything else.
function safeHref(url) {
  const u = String(url).trim();
  return /^(#|https?:\/\/)/i.test(u) ? u : '#';
}

// A small markdown renderer that builds nodes: fenced code, headings, lists, paragraphs, and
// inline code, bold and links.
function inline(text) {
  const out = document.createDocumentFragment();
  const re = /(`[^`]+`)|(\*\*[^*]+\*\*)|(\[[^\]]+\]\([^)\s]+\))/g;
  let last = 0, m;
  while ((m = re.exec(text))) {
    out.append(document.createTextNode(visible(text.slice(last, m.index))));
    const t = m[0];
    if (m[1]) out.append(el('code', {}, t.slice(1, -1)));
    else if (m[2]) out.append(el('strong', {}, t.slice(2, -2)));
    else {
      const [, label, url] = /^\[([^\]]+)\]\(([^)\s]+)\)$/.exec(t);
      out.append(/^https?:\/\//i.test(url) ? el('a', { href: url, rel: 'noopener noreferrer', target: '_blank' }, label) : el('span', {}, label));
    }
    last = m.index + t.length;
  }
  out.append(document.createTextNode(visible(text.slice(last))));
  return out;
}

function markdown(text) {
  const out = el('div', { class: 'md' });
  const lines = String(text || '').split('\n');
  let list = null, para = [];
  const flush = () => { if (para.length) out.append(el('p', {}, inline(para.join(' ')))); para = []; };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^```/.test(line)) {
      flush(); list = null;
      const code = [];
      while (++i < lines.length && !/^```/.test(lines[i])) code.push(lines[i]);
      out.append(el('pre', { tabindex: 0 }, code.join('\n')));
    } else if (/^#{1,6} /.test(line)) {
      flush(); list = null;
      out.append(el('h' + Math.min(6, line.indexOf(' ') + 2), {}, inline(line.replace(/^#+ /, ''))));
    } else if (/^\s*[-*] /.test(line)) {
      flush();
      if (!list) { list = el('ul'); out.append(list); }
      list.append(el('li', {}, inline(line.replace(/^\s*[-*] /, ''))));
    } else if (line.trim() === '') {
      flush(); list = null;
    } else {
      list = null; para.push(line);
    }
  }
  flush();
  return out;
}

async function api(path, body) {
  const opts = body === undefined ? {} : { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
  const res = await fetch(path, { credentials: 'same-origin', ...opts });
  const env = await res.json().catch(() => ({ ok: false, errors: ['bad reply: ' + res.status] }));
  return env;
}

function errors(env) { return el('p', { class: 'error' }, (env.errors || []).map((e) => (e && e.message) || e).join('; ') || 'failed'); }

// An answer outlives the elements that show it. A request changes the store, and each change
// redraws the page, so the card or run page clicked is often gone by the time the answer comes:
// the answer is kept under a key ('compile:T-0002') and shown in the element drawn last for that
// key (on the page, or about to be put there) and in any still on the page, and again in every
// later redraw.
const slots = {}; // key -> {nodes, fill(node, value), value, asked}
function slot(key, node, fill) {
  const s = (slots[key] = slots[key] || { asked: 0, nodes: [] });
  s.nodes = s.nodes.filter((n) => n.isConnected).concat(node);
  s.fill = fill;
  if (s.value !== undefined) fill(node, s.value);
  return node;
}

function settle(s, value) {
  s.value = value;
  for (const node of s.nodes) s.fill(node, value);
}

// ask(key, pending, work): shows `pending` in the key's slot at once, then what work() resolves
// to, a failure included, unless a newer ask on the same key came meanwhile.
async function ask(key, pending, work) {
  const s = slots[key], mine = ++s.asked;
  settle(s, pending);
  const value = await work().catch((e) => ({ ok: false, errors: [String((e && e.message) || e)] }));
  if (mine === s.asked) settle(s, value);
}

// A slot's fill for an answer {ok, data | errors} or a {pending: text}: done(value) when it is ok.
const answerWith = (done) => (node, v) => node.replaceChildren(v.pending ? el('span', { class: 'pending' }, v.pending) : v.ok ? done(v) : errors(v));

// The board: the runs by state (runBoard, below), then the tasks from one call, /api/board
// (docs/api.md), whose answer stays small whatever the store holds: each column shows its newest
// cards (more on request) under the count of all its tasks. Search is the server's (task id or
// title); until its answer comes the cards already here are filtered, so typing shows at once.
async function board() {
  state.shown = state.shown || {}; // status -> cards asked for with "show more"
  const query = () => {
    const p = new URLSearchParams();
    if (state.search) p.set('q', state.search);
    const shown = Object.entries(state.shown).map(([s, n]) => `${s}=${n}`).join(',');
    if (shown) p.set('shown', shown);
    return '/api/board' + (String(p) ? '?' + p : '');
  };
  let env = await api(query());
  if (!env.ok) return [errors(env)];
  let asked = 0, typing = null;
  const refetch = async () => {
    const mine = ++asked;
    const got = await api(query());
    if (mine === asked && got.ok) { env = got; draw(); }
  };
  const search = el('input', { id: 'search', placeholder: 'search', 'aria-label': 'Search tasks', value: state.search, oninput: (e) => {
    state.search = e.target.value; draw(); clearTimeout(typing); typing = setTimeout(refetch, 150);
  } });
  const filter = el('select', { id: 'filter', 'aria-label': 'Task status', onchange: (e) => { state.filter = e.target.value; draw(); } },
    el('option', { value: '' }, 'all statuses'), ...STATUSES.map((s) => el('option', { value: s, selected: state.filter === s }, s)));
  const columns = el('div', { class: 'board' });
  const draw = () => {
    const d = env.data, q = state.search.toLowerCase();
    columns.replaceChildren(...STATUSES.map((s) => {
      const here = d.tasks.filter((t) => t.status === s);
      const hidden = state.filter && state.filter !== s;
      const shown = hidden ? [] : here.filter((t) => !q || (t.task_id + ' ' + t.title).toLowerCase().includes(q));
      const more = hidden ? 0 : (d.matched[s] || 0) - here.length;
      const showMore = () => { state.shown[s] = here.length + d.per_status; refetch(); };
      return el('div', { class: 'column', 'data-status': s }, el('h3', {}, `${s} (${d.counts[s] || 0})`),
        ...(shown.length ? shown.map(card) : [el('p', { class: 'none' }, 'none')]),
        more > 0 ? el('button', { class: 'more', onclick: showMore }, `show ${Math.min(more, d.per_status)} more (${more} not shown)`) : null);
    }));
  };
  draw();
  return [el('section', {}, el('h2', {}, 'Runs'), agentSlots(env.data.agents), await runBoard()),
    el('section', { 'aria-label': 'Tasks' }, el('h2', {}, 'Tasks'), filter, ' ', search), columns];
}

// The runs by state, from /api/board/runs (stdlib/sidecar/service/run_board.lua): five columns,
// each counted and shown a page at a time, with filters by runner, status, task, preset and text.
const RUN_STATUSES = ['queued', 'preparing', 'running', 'review', 'blocked', 'completed', 'failed', 'outcome_unknown',
  'interrupted', 'budget_exceeded', 'dry_run'];
const runFilters = { runner: '', status: '', task: '', preset: '', q: '' };
const runShown = {}; // column -> cards asked for with "show more"
async function runBoard() {
  const query = (extra) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(runFilters)) if (v) p.set(k, v);
    for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
    return '/api/board/runs?' + p;
  };
  const fetchAll = async () => {
    const env = await api(query());
    if (!env.ok) return env;
    const wider = Object.entries(runShown).filter(([, n]) => n > env.data.limit);
    const more = await Promise.all(wider.map(([c, n]) => api(query({ column: c, limit: n }))));
    for (const m of more) if (m.ok) env.data.columns = env.data.columns.map((c) => c.name === m.data.columns[0].name ? m.data.columns[0] : c);
    return env;
  };
  let env = await fetchAll(), asked = 0, typing = null;
  const columns = el('div', { class: 'board runs', id: 'run-board' });
  const refetch = async () => {
    const mine = ++asked;
    const got = await fetchAll();
    if (mine === asked) { env = got; draw(); }
  };
  const field = (name, label, node) => el('label', { class: 'filter' }, label, ' ', node);
  const text = (name, label) => field(name, label, el('input', { id: 'runs-' + name, name, value: runFilters[name], size: 10,
    oninput: (e) => { runFilters[name] = e.target.value.trim(); clearTimeout(typing); typing = setTimeout(refetch, 200); } }));
  const status = el('select', { id: 'runs-status', name: 'status', onchange: (e) => { runFilters.status = e.target.value; refetch(); } },
    el('option', { value: '' }, 'any'), ...RUN_STATUSES.map((st) => el('option', { value: st, selected: runFilters.status === st }, st)));
  const form = el('form', { class: 'filters', id: 'run-filters', role: 'search', onsubmit: (e) => e.preventDefault() },
    text('runner', 'Runner'), field('status', 'Status', status), text('task', 'Task'), text('preset', 'Preset'), text('q', 'Text'));
  const draw = () => {
    if (!env.ok) { columns.replaceChildren(errors(env)); return; }
    const focused = columns.contains(document.activeElement) && document.activeElement.id; // kept over the redraw
    columns.replaceChildren(...env.data.columns.map((c) => {
      const showMore = () => { runShown[c.name] = Math.min(200, c.runs.length + env.data.limit); refetch(); };
      const left = c.count - c.runs.length;
      const heading = el('h3', { id: 'col-' + c.name }, `${c.label} (${c.count})`);
      return el('section', { class: 'column', 'data-column': c.name, 'aria-labelledby': 'col-' + c.name }, heading,
        c.runs.length ? el('ul', { class: 'cards' }, ...c.runs.map(runCard)) : el('p', { class: 'none' }, 'none'),
        left > 0 ? (c.runs.length < 200
          ? el('button', { class: 'more', id: 'more-' + c.name, 'aria-label': `show more of ${c.label}`, onclick: showMore },
            `show ${Math.min(left, env.data.limit)} more (${left} not shown)`)
          : el('p', { class: 'more' }, `${left} more: narrow the filters to see them`)) : null);
    }));
    if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
  };
  draw();
  return el('div', {}, form, columns);
}

// "3 min ago" of an ISO time; "1.2 s" of milliseconds.
function ago(iso) {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (!isFinite(s)) return '';
  return s < 60 ? `${Math.round(s)} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : s < 86400 ? `${Math.round(s / 3600)} h ago` : `${Math.round(s / 86400)} d ago`;
}
function took(ms) {
  return ms < 1000 ? `${ms} ms` : ms < 60000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 60000)} min`;
}
// A cost as people read it: blank when unknown, never $0.0000.
function usd(x) {
  if (typeof x !== 'number') return '';
  return x >= 0.01 ? '$' + x.toFixed(2) : x > 0 ? '$' + x.toPrecision(2) : '$0';
}

function runCard(r) {
  const facts = [[r.runner, r.model].filter(Boolean).join(' · '), ago(r.created_at),
    typeof r.duration_ms === 'number' ? 'took ' + took(r.duration_ms) : '',
    typeof r.tokens === 'number' ? `${r.tokens.toLocaleString('en')} tokens` : '', usd(r.cost_usd)].filter(Boolean);
  return el('li', { class: 'run-card', 'data-run': r.run_id, 'data-status': r.status },
    el('a', { href: '#/run/' + r.run_id }, r.run_id), ' ', el('span', { class: 'title' }, r.task_title || r.task_id || r.preset || ''),
    el('div', { class: 'facts' }, facts.join(' — ')),
    r.attention ? el('span', { class: 'badge bad attention' }, r.attention) : null,
    r.reason ? el('div', { class: 'reason' }, r.reason) : null);
}

// The machine's agent slots: the cap on agents at once (every Sidecar process of the user), who
// holds them, who waits, and each runner capped on its own.
function agentSlots(a) {
  if (!a) return null;
  if (a.error) return el('p', { id: 'agent-slots', class: 'error' }, `Agent slots: ${a.error}`);
  const holder = (h) => el('li', {}, h.run_id ? el('a', { href: '#/run/' + h.run_id }, h.run_id) : `pid ${h.pid}`,
    ` ${h.runner || ''} since ${h.since || '?'}`);
  const runners = (a.runners || []).map((r) => el('li', { 'data-runner': r.name },
    `${r.name}: ${r.holders.length} of ${r.cap} (max_agents_per_runner.${r.name})`));
  return el('div', { id: 'agent-slots' },
    el('p', {}, `Agent slots: ${a.holders.length} of ${a.cap} taken (${a.source === 'default' ? 'the machine\'s default' : a.source})`),
    a.holders.length ? el('ul', { class: 'holders' }, ...a.holders.map(holder)) : null,
    ...(a.problems || []).map((p) => el('p', { class: 'error' }, `Agent slots: ${p}`)),
    (a.waiting || []).length ? el('p', { class: 'waiting' }, `${a.waiting.length} waiting, oldest first: ` +
      a.waiting.map((w) => `pid ${w.pid}${w.stopped ? ' (stopped: passed over)' : ''}`).join(', ')) : null,
    runners.length ? el('ul', { class: 'runner-caps' }, ...runners) : null);
}

function card(t) {
  const id = t.task_id;
  const runner = el('input', { placeholder: 'runner', size: 8, class: 'runner', 'aria-label': `runner for ${id}` });
  const role = el('input', { placeholder: 'role', size: 8, class: 'role', 'aria-label': `agent role for ${id}` });
  const asked = () => ({ runner: runner.value, agent_role: role.value });
  const result = slot('run:' + id, el('span', {}), answerWith((v) => el('a', { href: '#/run/' + v.data.run_id }, v.data.run_id)));
  const run = () => ask('run:' + id, { pending: 'starting…' }, () => api(`/api/tasks/${id}/run`, asked()));
  const compiled = slot('compile:' + id, el('div', { class: 'compiled' }), answerWith((c) => el('details', { open: 'open' },
    el('summary', {}, 'Prompt'), el('p', {}, 'of ', el('a', { href: '#/run/' + c.run }, c.run)),
    el('pre', { class: 'budget', tabindex: 0 }, budgetText(c.budget)), el('pre', { class: 'prompt', tabindex: 0 }, c.prompt))));
  const compile = () => ask('compile:' + id, { pending: 'compiling…' }, async () => {
    const env = await api(`/api/tasks/${id}/dry-run`, asked());
    if (!env.ok) return env;
    const step = env.data.steps[0];
    const prompt = await api(`/api/runs/${step.run_id}/files/prompt.md`);
    return { ok: true, run: step.run_id, budget: step.prompt_budget, prompt: prompt.ok ? prompt.data.text || '' : '' };
  });
  return el('div', { class: 'card', 'data-task': id }, el('b', {}, id), ' ', t.title, el('br'),
    runner, role, el('button', { class: 'run', onclick: run }, 'Run'), el('button', { class: 'compile', onclick: compile }, 'Compile'), ' ', result, compiled);
}

let drawn = null; // the hash of the view on the page
async function render() {
  const hash = location.hash || '#/';
  let m, parts;
  if ((m = /^#\/run\/(R-\d+)$/.exec(hash))) parts = await runView(m[1]);
  else if (hash === '#/presets') parts = await presets();
  else if (hash === '#/usage') parts = await usage();
  else parts = await board();
  // The user went elsewhere while this view was fetched: the refresh that follows draws that view,
  // never this one under its address.
  if ((location.hash || '#/') !== hash) return;
  // The user began typing or pressing while this redraw was under way: it waits too (see below).
  if (hash === drawn && busy()) return wait();
  drawn = hash;
  const focused = document.activeElement && document.activeElement.id;
  main.replaceChildren(...parts.filter((p) => p !== null));
  if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
  document.body.dataset.rendered = String(Number(document.body.dataset.rendered || 0) + 1);
}

// The server says when the store changed; the page then fetches again (once at a time).
let rendering = null, again = false;
function refresh() {
  if (rendering) { again = true; return; }
  rendering = render().finally(() => { rendering = null; if (again) { again = false; refresh(); } });
}

window.addEventListener('hashchange', refresh);
const events = new EventSource('/api/events');
events.addEventListener('hello', () => { document.getElementById('live').textContent = '●'; });
// A change while the user types or chooses (an input, a select, a textarea has the focus) or
// presses (a button, a link) waits until the focus leaves it or the press ends, so a redraw never
// takes what they were entering nor the button under their pointer. body[data-waiting] says so.
let waiting = false, pressing = false;
const editing = () => { const a = document.activeElement; return !!a && /^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName); };
const busy = () => editing() || pressing;
function wait() { waiting = true; document.body.dataset.waiting = 'yes'; }
// The presets page shows no store state: its forms (what was typed, a report shown) stay as they are.
const showsStore = () => location.hash !== '#/presets';
// After the event that ended it (a click comes after the pointerup), the change waited for.
const resume = () => setTimeout(() => {
  if (!waiting || busy()) return;
  waiting = false; delete document.body.dataset.waiting;
  if (showsStore()) refresh();
}, 0);
events.addEventListener('change', () => { if (!showsStore()) return; if (busy()) wait(); else refresh(); });
document.addEventListener('focusout', resume);
document.addEventListener('pointerdown', () => { pressing = true; }, true);
for (const ended of ['pointerup', 'pointercancel']) document.addEventListener(ended, () => { pressing = false; resume(); }, true);
refresh();
