// Sidecar's page: the board, runs, presets and usage over the JSON API (docs/api.md). Agent text is
// only ever put into the page as text nodes (see markdown below): never as HTML.
'use strict';

const STATUSES = ['draft', 'ready', 'running', 'review', 'blocked', 'done'];
const main = document.getElementById('main');
// started: task id -> the run started from this page; compiled: task id -> its dry run's {run, budget, prompt}
const state = { filter: '', search: '', started: {}, compiled: {} };

// el('a', {href: '#/x', class: 'c'}, 'text', child): children are text or nodes, never HTML.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'href') node.setAttribute('href', safeHref(v));
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
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
    out.append(document.createTextNode(text.slice(last, m.index)));
    const t = m[0];
    if (m[1]) out.append(el('code', {}, t.slice(1, -1)));
    else if (m[2]) out.append(el('strong', {}, t.slice(2, -2)));
    else {
      const [, label, url] = /^\[([^\]]+)\]\(([^)\s]+)\)$/.exec(t);
      out.append(/^https?:\/\//i.test(url) ? el('a', { href: url, rel: 'noopener noreferrer', target: '_blank' }, label) : el('span', {}, label));
    }
    last = m.index + t.length;
  }
  out.append(document.createTextNode(text.slice(last)));
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
      out.append(el('pre', {}, code.join('\n')));
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

// The board from one call, /api/board (docs/api.md), whose answer stays small whatever the store
// holds: each column shows its newest cards (more on request) under the count of all its tasks,
// and the review queue its oldest runs with how many wait. Search is the server's (task id or
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
  const search = el('input', { id: 'search', placeholder: 'search', value: state.search, oninput: (e) => {
    state.search = e.target.value; draw(); clearTimeout(typing); typing = setTimeout(refetch, 150);
  } });
  const filter = el('select', { id: 'filter', onchange: (e) => { state.filter = e.target.value; draw(); } },
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
      return el('div', { class: 'column', 'data-status': s }, el('h3', {}, `${s} (${d.counts[s] || 0})`), ...shown.map(card),
        more > 0 ? el('button', { class: 'more', onclick: showMore }, `show ${Math.min(more, d.per_status)} more (${more} not shown)`) : null);
    }));
  };
  draw();
  const waiting = env.data.review, left = waiting.total - waiting.items.length;
  const queue = el('ol', { id: 'review' }, ...waiting.items.map((i) =>
    el('li', {}, el('a', { href: '#/run/' + i.run.run_id }, i.run.run_id), ` ${i.run.task_id || ''} ${i.task_title || ''} — ${i.why || ''}`)));
  const active = env.data.active || [];
  const running = el('ol', { id: 'active' }, ...active.map((r) => el('li', { 'data-run': r.run_id },
    el('a', { href: '#/run/' + r.run_id }, r.run_id), ` ${r.task_id || ''} ${r.runner_type || ''} ${r.status} `, attentionBadge(r, null))));
  return [el('section', {}, el('h2', {}, `Active runs (${active.length})`), running),
    el('section', {}, el('h2', {}, `Review (${waiting.total})`), queue,
    left > 0 ? el('p', { id: 'review-more' }, `and ${left} more waiting (the oldest are listed first)`) : null),
  el('section', {}, filter, ' ', search), columns];
}

function card(t) {
  const runner = el('input', { placeholder: 'runner', size: 8, class: 'runner' });
  const role = el('input', { placeholder: 'role', size: 8, class: 'role' });
  const started = state.started[t.task_id];
  const result = el('span', {}, started ? el('a', { href: '#/run/' + started }, started) : null);
  const run = async () => {
    const env = await api(`/api/tasks/${t.task_id}/run`, { runner: runner.value, agent_role: role.value });
    if (env.ok) state.started[t.task_id] = env.data.run_id;
    result.replaceChildren(env.ok ? el('a', { href: '#/run/' + env.data.run_id }, env.data.run_id) : errors(env));
  };
  const compiled = el('div', { class: 'compiled' });
  const showCompiled = (c) => compiled.replaceChildren(el('details', { open: 'open' }, el('summary', {}, 'Prompt of ', el('a', { href: '#/run/' + c.run }, c.run)),
    el('pre', { class: 'budget' }, budgetText(c.budget)), el('pre', { class: 'prompt' }, c.prompt)));
  const compile = async () => {
    const env = await api(`/api/tasks/${t.task_id}/dry-run`, { runner: runner.value, agent_role: role.value });
    if (!env.ok) return compiled.replaceChildren(errors(env));
    const step = env.data.steps[0];
    const prompt = await api(`/api/runs/${step.run_id}/files/prompt.md`);
    state.compiled[t.task_id] = { run: step.run_id, budget: step.prompt_budget, prompt: prompt.ok ? prompt.data.text || '' : '' };
    showCompiled(state.compiled[t.task_id]);
  };
  if (state.compiled[t.task_id]) showCompiled(state.compiled[t.task_id]);
  return el('div', { class: 'card', 'data-task': t.task_id }, el('b', {}, t.task_id), ' ', t.title, el('br'),
    runner, role, el('button', { class: 'run', onclick: run }, 'Run'), el('button', { class: 'compile', onclick: compile }, 'Compile'), ' ', result, compiled);
}

async function render() {
  const hash = location.hash || '#/';
  let m, parts;
  if ((m = /^#\/run\/(R-\d+)$/.exec(hash))) parts = await runView(m[1]);
  else if (hash === '#/presets') parts = await presets();
  else if (hash === '#/usage') parts = await usage();
  else parts = await board();
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
// A change while the user types or chooses (an input, a select, a textarea has the focus) waits
// until the focus leaves it, so a redraw never takes what they were entering.
let waiting = false;
const editing = () => { const a = document.activeElement; return !!a && /^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName); };
// The presets page shows no store state: its forms (what was typed, a report shown) stay as they are.
const showsStore = () => location.hash !== '#/presets';
events.addEventListener('change', () => { if (!showsStore()) return; if (editing()) waiting = true; else refresh(); });
document.addEventListener('focusout', () => setTimeout(() => {
  if (waiting && !editing()) { waiting = false; if (showsStore()) refresh(); }
}, 0));
refresh();
