// The checker page: editor, findings and settings. The rules run in a
// worker (wasm); the page renders what comes back and writes fixes into the
// text through the editor, so every change is one undo step.
import { Editor } from './editor.js';
import { encodeState, decodeState } from './share.js';
import { EXAMPLES } from './examples.js';
import { explainError } from './explain.js';

const DOCS = 'https://github.com/portcullis-dev/portcullis/blob/main/';
const DEBOUNCE_MS = 150;
const $ = (id) => document.getElementById(id);
const SEVERITY_RANK = { critical: 0, high: 1, medium: 2, low: 3 };

const state = {
  catalogue: null, profile: 'baseline', enabled: new Map(),
  /** the last answer shown, and the text it is about */
  report: null, checkedDoc: null,
};

// --- the worker -------------------------------------------------------------

const pending = new Map();
let nextId = 1;
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
worker.onmessage = (e) => {
  const resolve = pending.get(e.data.id);
  pending.delete(e.data.id);
  if (resolve) resolve(e.data);
};
worker.onerror = (e) => {
  for (const resolve of pending.values()) resolve({ failure: e.message || 'the worker failed' });
  pending.clear();
};
const call = (msg) => new Promise((resolve) => {
  const id = nextId++;
  pending.set(id, resolve);
  worker.postMessage({ ...msg, id });
});

// --- the editor ---------------------------------------------------------------

const editor = new Editor($('editor'), {
  label: 'Manifest (YAML)',
  describedBy: 'editor-hint',
  onChange: () => scheduleCheck(),
  onDropFiles: (files) => openFiles(files),
});
// the editor's view, for the browser tests and the console
window.portcullisEditor = editor.view;

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

// --- checking ---------------------------------------------------------------

let timer = 0;
let seq = 0;
function scheduleCheck() {
  clearTimeout(timer);
  timer = setTimeout(check, DEBOUNCE_MS);
}

async function check() {
  if (!state.catalogue) return;
  clearTimeout(timer);
  const mine = ++seq;
  const doc = editor.doc;
  const sent = performance.now();
  const answer = await call({ type: 'check', yaml: doc.toString(), settings: settings() });
  // a newer check is on its way, or the text changed meanwhile: that one is shown
  if (mine !== seq || editor.doc !== doc) return;
  const renderStart = performance.now();
  render(answer, doc);
  const done = performance.now();
  window.portcullisTiming = { checkMs: answer.checkMs, renderMs: done - renderStart, totalMs: done - sent };
  document.body.dataset.checked = String(mine);
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

/** Says something in the status line, once: a live region re-read on every pause is noise. */
function announce(el, text, className = '') {
  if (el.textContent !== text) el.textContent = text;
  if (el.className !== className) el.className = className;
}

function sortFindings(findings) {
  return findings
    .map((f, i) => ({ f, i }))
    .sort((a, b) => (a.f.action === b.f.action ? 0 : a.f.action === 'deny' ? -1 : 1)
      || (SEVERITY_RANK[a.f.severity] ?? 4) - (SEVERITY_RANK[b.f.severity] ?? 4)
      || a.f.document - b.f.document || a.f.line - b.f.line || a.i - b.i);
}

function render(answer, doc) {
  const summary = $('summary');
  const errorsBox = $('doc-errors');
  const list = $('findings');
  state.report = null;
  state.checkedDoc = doc;
  if (answer.failure || (answer.result && answer.result.error)) {
    const why = answer.failure ? `The checker failed to run: ${answer.failure}` : `Not checked: ${answer.result.error.message}`;
    announce(summary, why, 'answer-error');
    errorsBox.replaceChildren();
    list.replaceChildren();
    editor.setFindings([]);
    updateActions();
    return;
  }
  const r = answer.result;
  state.report = r;
  const text = doc.toString();

  // diagnostics in the editor: every finding and every document error
  const marks = r.findings.map((f, i) => ({
    line: f.line, column: f.column, severity: f.action === 'deny' ? 'error' : 'warning', source: f.rule,
    message: `${f.action} ${f.rule} (${f.severity}): ${f.message}`,
    actions: f.fix ? [{ name: 'Apply fix', apply: () => applyFix([i]) }] : [],
  }));
  for (const e of r.errors) {
    marks.push({ line: e.line, column: e.column, severity: 'error', source: 'yaml', message: explainError(text, e) });
  }
  editor.setFindings(marks);

  // documents that could not be read
  if (r.errors.length) {
    const items = r.errors.map((e) => `<li class="doc-error" data-line="${e.line}">Document ${e.document + 1}, line ${e.line}, column ${e.column}: `
      + `${escapeHtml(explainError(text, e))} <button type="button" class="goto" data-line="${e.line}" data-column="${e.column}" `
      + `aria-label="Go to line ${e.line} (error)">Line ${e.line}</button></li>`).join('');
    errorsBox.innerHTML = `<div class="errors" role="alert"><h3>${r.errors.length === 1 ? 'One document could not be checked'
      : `${r.errors.length} documents could not be checked`}</h3><ul>${items}</ul>`
      + '<p class="hint">The other documents are still checked.</p></div>';
  } else {
    errorsBox.replaceChildren();
  }

  renderRuleFilter(r.findings);
  renderFindings();

  const s = r.summary;
  if (!text.trim()) {
    announce(summary, 'Nothing to check yet: paste manifests, open a file or load an example.', 'empty');
  } else {
    const parts = [`${s.documents} document${s.documents === 1 ? '' : 's'}`, `${s.objects} object${s.objects === 1 ? '' : 's'}`,
      `${s.denied} denied`, `${s.warned} warning${s.warned === 1 ? '' : 's'}`];
    if (s.errors) parts.push(`${s.errors} document error${s.errors === 1 ? '' : 's'}`);
    const clean = !r.findings.length && !s.errors && s.objects > 0;
    announce(summary, (clean ? 'No findings. ' : '') + parts.join(' · '), clean ? 'clean' : '');
  }
  $('timing').textContent = `checked in ${answer.checkMs.toFixed(1)} ms`;
  updateActions();
}

function renderRuleFilter(findings) {
  const select = $('filter-rule');
  const current = select.value;
  const counts = new Map();
  for (const f of findings) counts.set(f.rule, (counts.get(f.rule) || 0) + 1);
  const options = ['<option value="">all rules</option>'];
  for (const [rule, n] of [...counts].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    options.push(`<option value="${escapeHtml(rule)}"${rule === current ? ' selected' : ''}>${escapeHtml(rule)} (${n})</option>`);
  }
  const html = options.join('');
  if (select.dataset.html !== html) {
    select.innerHTML = html;
    select.dataset.html = html;
  }
}

/** The findings panel, deny first, filtered; one string of HTML, one DOM write. */
function renderFindings() {
  const list = $('findings');
  const r = state.report;
  if (!r) {
    list.replaceChildren();
    return;
  }
  const maxRank = Number($('filter-severity').value);
  const rule = $('filter-rule').value;
  const docs = new Map(state.catalogue.rules.map((x) => [x.id, x.doc]));
  const html = [];
  let shown = 0;
  for (const { f, i } of sortFindings(r.findings)) {
    if ((SEVERITY_RANK[f.severity] ?? 4) > maxRank || (rule && f.rule !== rule)) continue;
    shown++;
    const o = f.object;
    const name = o.namespace ? `${o.namespace}/${o.name}` : o.name;
    const doc = docs.get(f.rule) ? DOCS + docs.get(f.rule) : DOCS;
    html.push(`<li class="finding action-${f.action}" data-index="${i}" data-rule="${escapeHtml(f.rule)}" data-line="${f.line}">`
      + `<div class="head"><span class="badge sev-${f.severity}">${f.severity}</span>`
      + `<span class="badge act-${f.action}">${f.action}</span>`
      + `<a class="rule" href="${escapeHtml(doc)}" target="_blank" rel="noopener">${escapeHtml(f.rule)}</a>`
      + `<span class="object">${escapeHtml(o.kind)} ${escapeHtml(name)}</span></div>`
      + `<p class="message">${escapeHtml(f.message)}</p>`
      + '<div class="finding-actions">'
      + `<button type="button" class="goto" data-line="${f.line}" data-column="${f.column}" `
      + `aria-label="Go to line ${f.line}, column ${f.column} (${escapeHtml(f.rule)})">Line ${f.line}</button>`
      + (f.fix ? '<button type="button" class="apply-fix">Apply fix</button>'
        + '<button type="button" class="show-patch" aria-expanded="false">Show patch</button>' : '')
      + '</div></li>');
  }
  list.innerHTML = html.join('');
  list.dataset.shown = String(shown);
}

function updateActions() {
  const fixable = state.report ? state.report.findings.filter((f) => f.fix).length : 0;
  $('fix-all').disabled = fixable === 0;
  $('copy-fixed').disabled = fixable === 0;
  $('fix-all').textContent = fixable ? `Apply all safe fixes (${fixable})` : 'Apply all safe fixes';
}

// --- fixes ----------------------------------------------------------------------

let noticeTimer = 0;
/** A message under the toolbar, with an Undo button when the change can be undone. */
function notice(text, undoable = false) {
  const box = $('notice');
  clearTimeout(noticeTimer);
  box.replaceChildren(document.createTextNode(text));
  if (undoable) {
    const b = document.createElement('button');
    b.type = 'button';
    b.id = 'undo';
    b.textContent = 'Undo';
    b.addEventListener('click', () => {
      editor.undo();
      notice('Undone.');
    });
    box.append(' ', b);
  }
  noticeTimer = setTimeout(() => box.replaceChildren(), 15000);
}

/** Writes the fixes of the given findings (indices into the shown report) into the text. */
async function applyFix(indices) {
  const r = state.report;
  const doc = state.checkedDoc;
  if (!r || editor.doc !== doc) {
    notice('The text changed since the check: try again once the findings are updated.');
    return;
  }
  const findings = indices.map((i) => r.findings[i]).filter((f) => f && f.fix);
  const answer = await call({ type: 'fix', yaml: doc.toString(), findings });
  const out = answer.result;
  if (answer.failure || !out || out.error) {
    notice(`No fix applied: ${answer.failure || (out && out.error.message) || 'no answer'}`);
    return;
  }
  if (editor.doc !== doc) {
    notice('The text changed while the fix was prepared: nothing was changed. Try again.');
    return;
  }
  if (out.edits.length) editor.applyEdits(out.edits);
  const skipped = out.skipped.length ? ` ${out.skipped.length} not applied: ${out.skipped[0].reason}` : '';
  notice(`${out.applied.length === 1 ? 'Applied 1 fix.' : `Applied ${out.applied.length} fixes.`}${skipped}`, out.edits.length > 0);
  check();
}

async function copyFixed() {
  const r = state.report;
  if (!r || editor.doc !== state.checkedDoc) return;
  const answer = await call({ type: 'fix', yaml: state.checkedDoc.toString(), findings: r.findings.filter((f) => f.fix) });
  if (answer.failure || answer.result.error) {
    notice(`Nothing copied: ${answer.failure || answer.result.error.message}`);
    return;
  }
  try {
    await navigator.clipboard.writeText(answer.result.text);
    notice(`Copied the YAML with ${answer.result.applied.length} fixes applied; the editor is unchanged.`);
  } catch {
    notice('The clipboard is not available here: apply the fixes in the editor and copy from there.');
  }
}

// --- files, examples and links ------------------------------------------------

async function openFiles(files) {
  const list = [...files];
  if (!list.length) return;
  const texts = await Promise.all(list.map((f) => f.text()));
  const joined = texts.map((t, i) => (list.length > 1 ? `# ${list[i].name}\n` : '') + t.replace(/\s+$/, '\n')).join('---\n');
  const had = editor.value.trim().length > 0;
  editor.replaceAll(joined, 'input.file');
  notice(`Opened ${list.map((f) => f.name).join(', ')}.`, had);
  check();
}

function loadExample(id) {
  const ex = EXAMPLES.find((e) => e.id === id);
  if (!ex) return;
  const had = editor.value.trim().length > 0 && editor.value !== ex.yaml;
  editor.replaceAll(ex.yaml, 'input.example');
  // the user's text is one undo away: say so rather than ask first
  notice(had ? `Loaded “${ex.title}”. Your text was replaced.` : `Loaded “${ex.title}”.`, had);
  check();
}

let lastFragment = '';
async function loadFragment() {
  if (!location.hash || location.hash === lastFragment) return false;
  try {
    const st = await decodeState(location.hash);
    if (!st) return false;
    applySettings(st.settings || {});
    editor.replaceAll(st.yaml || '', 'input.link');
    return true;
  } catch (err) {
    notice(`The link could not be read: ${err.message}`);
    return false;
  }
}

async function share() {
  lastFragment = '#' + await encodeState({ yaml: editor.value, settings: settings() });
  history.replaceState(null, '', lastFragment);
  try {
    await navigator.clipboard.writeText(location.href);
    notice('Link copied. It holds the whole manifest and the settings: share it only where the manifest may go.');
  } catch {
    notice('The address bar now holds the link. It holds the whole manifest and the settings.');
  }
}

// --- wiring -------------------------------------------------------------------

function gotoFrom(button) {
  editor.goto(Number(button.dataset.line), Number(button.dataset.column || 1));
}

async function start() {
  const select = $('example');
  for (const ex of EXAMPLES) {
    const o = document.createElement('option');
    o.value = ex.id;
    o.textContent = ex.title;
    select.append(o);
  }
  $('load-example').addEventListener('click', () => loadExample(select.value));
  $('open-file').addEventListener('click', () => $('file-input').click());
  $('file-input').addEventListener('change', (e) => {
    openFiles(e.target.files);
    e.target.value = '';
  });
  $('share').addEventListener('click', share);
  $('fix-all').addEventListener('click', () => applyFix(state.report ? state.report.findings.map((_, i) => i) : []));
  $('copy-fixed').addEventListener('click', copyFixed);
  $('filter-severity').addEventListener('change', renderFindings);
  $('filter-rule').addEventListener('change', renderFindings);
  $('findings').addEventListener('click', (e) => {
    const button = e.target.closest('button');
    if (!button) return;
    const item = button.closest('.finding');
    if (button.classList.contains('goto')) gotoFrom(button);
    else if (button.classList.contains('apply-fix')) applyFix([Number(item.dataset.index)]);
    else if (button.classList.contains('show-patch')) {
      // the patch is written only when asked for: 400 hidden blocks cost render time
      let pre = item.querySelector('pre.patch');
      if (!pre) {
        pre = document.createElement('pre');
        pre.className = 'patch';
        pre.textContent = JSON.stringify(state.report.findings[Number(item.dataset.index)].fix, null, 2);
        pre.hidden = true;
        item.append(pre);
      }
      pre.hidden = !pre.hidden;
      button.setAttribute('aria-expanded', String(!pre.hidden));
      button.textContent = pre.hidden ? 'Show patch' : 'Hide patch';
    }
  });
  $('doc-errors').addEventListener('click', (e) => {
    const button = e.target.closest('button.goto');
    if (button) gotoFrom(button);
  });
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
  $('settings-toggle').addEventListener('click', (e) => {
    const box = $('settings-box');
    box.hidden = !box.hidden;
    e.target.setAttribute('aria-expanded', String(!box.hidden));
    e.target.textContent = box.hidden ? 'Show the settings object' : 'Hide the settings object';
  });
  window.addEventListener('hashchange', async () => {
    if (await loadFragment()) check();
  });
  // a file dropped anywhere on the page opens, not navigates away
  window.addEventListener('dragover', (e) => {
    if (e.dataTransfer && [...e.dataTransfer.types].includes('Files')) e.preventDefault();
  });
  window.addEventListener('drop', (e) => {
    // the editor handles drops on itself
    if (!e.defaultPrevented && e.dataTransfer && e.dataTransfer.files.length) {
      e.preventDefault();
      openFiles(e.dataTransfer.files);
    }
  });

  const info = await call({ type: 'rules' });
  if (info.failure || info.catalogue.error) {
    announce($('summary'), `The rules could not be loaded: ${info.failure || info.catalogue.error.message}`, 'answer-error');
    return;
  }
  state.catalogue = info.catalogue;
  $('version').textContent = `Rules version ${info.version}, ${info.catalogue.rules.length} rules.`;
  applySettings({});
  if (!(await loadFragment()) && EXAMPLES.length) {
    select.value = EXAMPLES[0].id;
    editor.replaceAll(EXAMPLES[0].yaml, 'input.example', false);
  }
  await check();
  document.body.dataset.ready = 'true';
}

start();

if ('serviceWorker' in navigator && location.protocol !== 'file:') {
  navigator.serviceWorker.register('sw.js').catch(() => {});
}
