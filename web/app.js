// The checker page: editor, settings and results. The rules run in a
// worker (wasm), so the page only renders what comes back.
import { Editor } from './editor.js';
import { encodeState, decodeState } from './share.js';
import { EXAMPLES } from './examples.js';

const DOCS = 'https://github.com/portcullis-dev/portcullis/blob/main/';
const DEBOUNCE_MS = 150;
const $ = (id) => document.getElementById(id);

const editor = new Editor($('editor'), $('gutter'), $('layer'));
const state = { catalogue: null, profile: 'baseline', enabled: new Map() };

// --- the worker -------------------------------------------------------------

const pending = new Map();
let nextId = 1;
let call;
try {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = (e) => {
    const resolve = pending.get(e.data.id);
    pending.delete(e.data.id);
    if (resolve) resolve(e.data);
  };
  call = (msg) => new Promise((resolve) => {
    const id = nextId++;
    pending.set(id, resolve);
    worker.postMessage({ ...msg, id });
  });
} catch {
  // no module workers (older browsers): the same calls on the main thread
  const wasm = import('./pkg/portcullis.js').then(async (m) => { await m.default(); return m; });
  call = async (msg) => {
    const m = await wasm;
    if (msg.type === 'rules') return { catalogue: JSON.parse(m.rules()), version: m.version() };
    const start = performance.now();
    const result = JSON.parse(m.checkYaml(msg.yaml, msg.settings));
    return { result, checkMs: performance.now() - start };
  };
}

// --- settings ---------------------------------------------------------------

function defaultOn(rule, profile) {
  const action = rule.defaultAction && rule.defaultAction[profile];
  return action !== undefined && action !== 'off';
}

/** The settings object: the profile plus every rule switched away from its default. */
function settings() {
  const s = { profile: state.profile };
  const rules = {};
  for (const rule of state.catalogue ? state.catalogue.rules : []) {
    const on = state.enabled.has(rule.id) ? state.enabled.get(rule.id) : defaultOn(rule, state.profile);
    if (on !== defaultOn(rule, state.profile)) rules[rule.id] = on ? 'deny' : 'off';
  }
  if (Object.keys(rules).length) s.rules = rules;
  return s;
}

function renderRuleList() {
  const list = $('rule-list');
  list.replaceChildren();
  for (const rule of state.catalogue.rules) {
    const on = state.enabled.has(rule.id) ? state.enabled.get(rule.id) : defaultOn(rule, state.profile);
    const li = document.createElement('li');
    const label = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = on;
    box.dataset.rule = rule.id;
    box.setAttribute('aria-describedby', `rule-title-${rule.id}`);
    box.addEventListener('change', () => {
      state.enabled.set(rule.id, box.checked);
      settingsChanged();
    });
    label.append(box, document.createTextNode(rule.id));
    const title = document.createElement('span');
    title.className = 'title';
    title.id = `rule-title-${rule.id}`;
    title.textContent = `${rule.title} (${rule.severity}; ${state.profile}: ${rule.defaultAction[state.profile]})`;
    li.append(label, title);
    list.append(li);
  }
}

function settingsChanged() {
  $('settings-json').textContent = JSON.stringify(settings(), null, 2);
  check();
  saveFragment();
}

// --- checking ---------------------------------------------------------------

let timer = 0;
let seq = 0;
function scheduleCheck() {
  clearTimeout(timer);
  timer = setTimeout(() => { check(); saveFragment(); }, DEBOUNCE_MS);
}

async function check() {
  if (!state.catalogue) return;
  const mine = ++seq;
  const sent = performance.now();
  const answer = await call({ type: 'check', yaml: editor.value, settings: JSON.stringify(settings()) });
  // a newer check has been sent meanwhile: its answer is the one to show
  if (mine !== seq) return;
  const renderStart = performance.now();
  render(answer);
  const done = performance.now();
  const timing = { checkMs: answer.checkMs, renderMs: done - renderStart, totalMs: done - sent };
  window.portcullisTiming = timing;
  document.body.dataset.checked = String(mine);
}

function severityRank(s) {
  return { critical: 0, high: 1, medium: 2, low: 3 }[s] ?? 4;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  e.append(...children.filter((c) => c !== null && c !== undefined));
  return e;
}

function gotoButton(line, column, what) {
  const b = el('button', { type: 'button', class: 'goto', 'data-line': String(line) }, `Line ${line}`);
  b.setAttribute('aria-label', `Go to line ${line}, column ${column}${what ? ` (${what})` : ''}`);
  b.addEventListener('click', () => editor.focusLine(line));
  return b;
}

function render(answer) {
  const summary = $('summary');
  const errorsBox = $('doc-errors');
  const out = $('findings');
  errorsBox.replaceChildren();
  out.replaceChildren();
  if (answer.failure) {
    summary.textContent = `The checker failed to run: ${answer.failure}`;
    summary.className = 'answer-error';
    editor.setMarks([]);
    return;
  }
  const r = answer.result;
  if (r.error) {
    summary.textContent = `Not checked: ${r.error.message}`;
    summary.className = 'answer-error';
    editor.setMarks([]);
    return;
  }
  const marks = [];
  if (r.errors.length) {
    const list = el('ul');
    for (const e of r.errors) {
      marks.push({ line: e.line, kind: 'error' });
      list.append(el('li', { class: 'doc-error', 'data-document': String(e.document), 'data-line': String(e.line) },
        `Document ${e.document + 1}, line ${e.line}, column ${e.column}: ${e.message} `,
        gotoButton(e.line, e.column, 'error')));
    }
    errorsBox.append(el('div', { class: 'errors', role: 'alert' },
      el('h3', {}, r.errors.length === 1 ? 'One document could not be checked' : `${r.errors.length} documents could not be checked`),
      list,
      el('p', { class: 'hint' }, 'The other documents are still checked below.')));
  }

  // group by object, in document order; denials before warnings inside a group
  const groups = new Map();
  for (const f of r.findings) {
    const o = f.object;
    const key = `${f.document}/${f.index}/${o.kind}/${o.namespace || ''}/${o.name}`;
    if (!groups.has(key)) groups.set(key, { object: o, document: f.document, line: f.line, findings: [] });
    groups.get(key).findings.push(f);
    marks.push({ line: f.line, kind: f.action === 'deny' ? 'deny' : 'warn' });
  }
  for (const g of groups.values()) {
    g.findings.sort((a, b) => (a.action === b.action ? 0 : a.action === 'deny' ? -1 : 1)
      || severityRank(a.severity) - severityRank(b.severity) || a.line - b.line);
    const o = g.object;
    const name = o.namespace ? `${o.namespace}/${o.name}` : o.name;
    const items = el('ul');
    for (const f of g.findings) {
      const rule = state.catalogue.rules.find((x) => x.id === f.rule);
      const doc = rule && rule.doc ? DOCS + rule.doc : DOCS;
      const fix = f.fix ? el('details', { class: 'fix' },
        el('summary', {}, 'Suggested fix (JSON Patch)'),
        el('pre', {}, JSON.stringify(f.fix, null, 2))) : null;
      items.append(el('li', { class: `finding action-${f.action}`, 'data-rule': f.rule, 'data-line': String(f.line) },
        el('div', { class: 'head' },
          el('span', { class: `badge sev-${f.severity}` }, f.severity),
          el('span', { class: `badge act-${f.action}` }, f.action),
          el('a', { class: 'rule', href: doc, target: '_blank', rel: 'noopener' }, f.rule),
          gotoButton(f.line, f.column, f.rule)),
        el('p', { class: 'message' }, f.message),
        el('p', { class: 'hint' }, `at ${f.path || '/'}`),
        fix));
    }
    out.append(el('section', { class: 'object', 'data-object': `${o.kind}/${name}` },
      el('h3', {}, `${o.kind} ${name} `, el('span', { class: 'where' }, `document ${g.document + 1}, line ${g.line}`)),
      items));
  }
  editor.setMarks(marks);

  const s = r.summary;
  const parts = [`${s.documents} document${s.documents === 1 ? '' : 's'}`, `${s.objects} object${s.objects === 1 ? '' : 's'}`,
    `${s.denied} denied`, `${s.warned} warning${s.warned === 1 ? '' : 's'}`];
  if (s.errors) parts.push(`${s.errors} document error${s.errors === 1 ? '' : 's'}`);
  summary.className = r.findings.length || s.errors ? '' : 'clean';
  summary.textContent = (r.findings.length || s.errors ? '' : 'No findings. ') + parts.join(' · ')
    + ` · checked in ${answer.checkMs.toFixed(1)} ms`;
}

// --- shareable state ----------------------------------------------------------

let fragmentTimer = 0;
let lastFragment = '';
function saveFragment() {
  clearTimeout(fragmentTimer);
  fragmentTimer = setTimeout(async () => {
    const s = settings();
    lastFragment = '#' + await encodeState({ yaml: editor.value, settings: s });
    history.replaceState(null, '', lastFragment);
  }, 400);
}

async function loadFragment() {
  if (!location.hash || location.hash === lastFragment) return false;
  try {
    const st = await decodeState(location.hash);
    if (!st) return false;
    applySettings(st.settings || {});
    editor.value = st.yaml || '';
    return true;
  } catch (err) {
    $('share-status').textContent = `The link could not be read: ${err.message}`;
    return false;
  }
}

function applySettings(s) {
  state.profile = s.profile === 'strict' ? 'strict' : 'baseline';
  for (const r of document.querySelectorAll('input[name=profile]')) r.checked = r.value === state.profile;
  state.enabled.clear();
  for (const [id, v] of Object.entries(s.rules || {})) {
    const action = typeof v === 'string' ? v : (v && v.action) || 'deny';
    state.enabled.set(id, action !== 'off');
  }
  renderRuleList();
  $('settings-json').textContent = JSON.stringify(settings(), null, 2);
}

// --- wiring -------------------------------------------------------------------

function loadExample(id) {
  const ex = EXAMPLES.find((e) => e.id === id);
  if (!ex) return;
  editor.value = ex.yaml;
  check();
  saveFragment();
}

async function start() {
  const select = $('example');
  for (const ex of EXAMPLES) select.append(el('option', { value: ex.id }, ex.title));
  $('load-example').addEventListener('click', () => loadExample(select.value));
  $('editor').addEventListener('input', scheduleCheck);
  for (const r of document.querySelectorAll('input[name=profile]')) {
    r.addEventListener('change', () => {
      state.profile = r.value;
      renderRuleList();
      settingsChanged();
    });
  }
  $('rules-all').addEventListener('click', () => {
    for (const rule of state.catalogue.rules) state.enabled.set(rule.id, true);
    renderRuleList();
    settingsChanged();
  });
  $('rules-reset').addEventListener('click', () => {
    state.enabled.clear();
    renderRuleList();
    settingsChanged();
  });
  $('share').addEventListener('click', async () => {
    clearTimeout(fragmentTimer);
    lastFragment = '#' + await encodeState({ yaml: editor.value, settings: settings() });
    history.replaceState(null, '', lastFragment);
    try {
      await navigator.clipboard.writeText(location.href);
      $('share-status').textContent = 'Link copied: it holds the manifest and the settings.';
    } catch {
      $('share-status').textContent = 'The address bar now holds the link to share.';
    }
  });
  window.addEventListener('hashchange', async () => {
    if (await loadFragment()) check();
  });

  const info = await call({ type: 'rules' });
  if (info.failure) {
    $('summary').textContent = `The rules could not be loaded: ${info.failure}`;
    return;
  }
  state.catalogue = info.catalogue;
  $('version').textContent = `Rules version ${info.version}, ${info.catalogue.rules.length} rules.`;
  applySettings({});
  if (!(await loadFragment())) {
    if (EXAMPLES.length) {
      select.value = EXAMPLES[0].id;
      editor.value = EXAMPLES[0].yaml;
    }
  }
  await check();
  document.body.dataset.ready = 'true';
}

start();

if ('serviceWorker' in navigator && location.protocol !== 'file:') {
  navigator.serviceWorker.register('sw.js').catch(() => {});
}
