// Seecret desktop window. Everything secret happens in Rust: this page only collects input and
// shows results. No framework, no network: it talks to the app through Tauri's IPC only.
'use strict';

const T = window.__TAURI__;
const invoke = (cmd, args) => T.core.invoke(cmd, args);
const listen = (ev, f) => T.event.listen(ev, (e) => f(e.payload));
const $ = (id) => document.getElementById(id);

let currentId = null;
let busy = false;

function fmtSize(n) {
  if (n < 1000) return `${n} bytes`;
  const u = ['KB', 'MB', 'GB', 'TB'];
  let v = n, i = -1;
  while (v >= 1000 && i < u.length - 1) { v /= 1000; i++; }
  return `${v.toFixed(1)} ${u[i]}`;
}
function fmtDate(s) {
  const d = new Date(s);
  return d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' });
}

function showError(e) {
  const msg = (e && e.message) || String(e);
  $('error-text').textContent = msg;
  $('error').hidden = false;
  $('error').dataset.code = (e && e.code) || 'other';
}
function clearError() { $('error').hidden = true; }
function showNotice(msg) {
  $('notice').textContent = msg;
  $('notice').hidden = false;
  clearTimeout(showNotice.t);
  showNotice.t = setTimeout(() => { $('notice').hidden = true; }, 6000);
}

function navigate(page) {
  for (const p of ['share', 'request', 'recent', 'settings']) {
    $(`page-${p}`).hidden = p !== page;
    $(`tab-${p}`).classList.toggle('active', p === page);
  }
  if (page === 'recent') loadRecent();
}

// ---- share ----
function renderStaged(list) {
  const ul = $('staged');
  ul.replaceChildren();
  for (const f of list) {
    const li = document.createElement('li');
    const name = document.createElement('span');
    name.textContent = f.is_dir ? `${f.name}/ (folder, zipped)` : f.name;
    const size = document.createElement('span');
    size.className = 'hint';
    size.textContent = fmtSize(f.size);
    li.append(name, size);
    ul.append(li);
  }
  $('clear-staged').hidden = list.length === 0;
  $('drop-hint').textContent = list.length === 0
    ? 'Drop files or a folder here, or paste text below.'
    : list.length === 1 ? 'Ready to share this file (several files or a folder are zipped).'
      : `Ready to share ${list.length} items as one zip.`;
  $('dropzone').dataset.count = String(list.length);
}

function showResult(r) {
  currentId = r.id;
  $('link').value = r.link;
  $('result-title').textContent = `Your one-time link: ${r.label}`;
  $('result-note').textContent = (r.copied ? 'Copied to the clipboard. ' : '') +
    `Expires ${fmtDate(r.expires_at)}; ${r.views} view${r.views === 1 ? '' : 's'}.`;
  $('result').hidden = false;
}

function shareOptions() {
  const views = parseInt($('views').value, 10);
  return {
    expiration: $('expiration').value,
    views: Number.isFinite(views) ? views : null,
    passphrase: $('passphrase').value || null,
    label: $('label').value || null,
  };
}

async function share() {
  if (busy) return;
  clearError();
  const hasFiles = $('dropzone').dataset.count && $('dropzone').dataset.count !== '0';
  busy = true;
  $('share').disabled = true;
  try {
    let r;
    if (hasFiles) {
      $('progress').value = 0;
      $('progress-text').textContent = '0%';
      $('progress-box').hidden = false;
      r = await invoke('share_staged', { request: shareOptions() });
    } else {
      r = await invoke('share_text', { request: { ...shareOptions(), text: $('text').value } });
      $('text').value = '';
    }
    $('passphrase').value = '';
    showResult(r);
  } catch (e) {
    showError(e);
  } finally {
    busy = false;
    $('share').disabled = false;
    $('progress-box').hidden = true;
  }
}

// ---- request a secret ----
let requestId = null;
let requestTimer = null;

async function createRequest() {
  clearError();
  clearTimeout(requestTimer);
  $('request-create').disabled = true;
  try {
    const r = await invoke('request_secret', {
      note: $('request-note').value || null,
      expires: $('request-expires').value,
    });
    requestId = r.id;
    $('request-link').value = r.link;
    $('request-status').textContent = `Waiting for the answer… (open until ${fmtDate(r.expires_at)})`;
    $('request-result').hidden = false;
    $('request-answer-box').hidden = true;
    $('request-answer').value = '';
    pollRequest(r.id);
  } catch (e) {
    showError(e);
  } finally {
    $('request-create').disabled = false;
  }
}

async function pollRequest(id) {
  if (id !== requestId) return;
  try {
    const a = await invoke('request_answer', { id });
    if (id !== requestId) return;
    if (a.text != null) {
      $('request-answer').value = a.text;
      $('request-answer-box').hidden = false;
      $('request-status').textContent = 'Answered.';
      return;
    }
    if (a.status === 'expired' || a.status === 'deleted') {
      $('request-status').textContent = `The request ${a.status} without an answer.`;
      return;
    }
  } catch (e) {
    // Offline for a moment: keep waiting; anything else stops the wait.
    if (!e || e.code !== 'unreachable') { showError(e); return; }
  }
  requestTimer = setTimeout(() => pollRequest(id), 4000);
}

async function copyRequestLink() {
  if (!requestId) return;
  try { await invoke('copy_link', { id: requestId }); showNotice('Link copied.'); } catch (e) { $('request-link').select(); showError(e); }
}

// ---- recent ----
async function loadRecent() {
  try {
    renderRecent(await invoke('recent_links'));
  } catch (e) {
    showError(e);
  }
}

function renderRecent(list) {
  const body = $('recent-body');
  body.replaceChildren();
  for (const r of list) {
    const tr = document.createElement('tr');
    tr.dataset.id = r.id;
    const cell = (text) => { const td = document.createElement('td'); td.textContent = text; tr.append(td); return td; };
    cell(r.label);
    cell(fmtDate(r.created_at));
    cell(fmtDate(r.expires_at));
    cell(String(r.views_left));
    const st = document.createElement('span');
    st.className = `state ${r.state}`;
    st.textContent = r.state;
    cell('').append(st);
    const actions = cell('');
    if (r.has_link && (r.state === 'waiting' || r.state === 'viewed')) {
      const c = document.createElement('button');
      c.textContent = 'Copy link';
      c.className = 'copy';
      c.onclick = async () => {
        try { await invoke('copy_link', { id: r.id }); showNotice('Link copied.'); } catch (e) { showError(e); }
      };
      actions.append(c);
    }
    if (r.state === 'waiting' || r.state === 'viewed') {
      const b = document.createElement('button');
      b.textContent = 'Burn now';
      b.className = 'burn';
      b.onclick = async () => {
        try { renderRecent(await invoke('burn', { id: r.id })); showNotice('Burned: the link no longer works.'); } catch (e) { showError(e); }
      };
      actions.append(b);
    }
    body.append(tr);
  }
  $('recent-empty').hidden = list.length > 0;
  $('recent-updated').textContent = `Updated ${new Date().toLocaleTimeString()}`;
}

// ---- settings ----
async function loadSettings() {
  try {
    const v = await invoke('get_settings');
    const s = v.settings;
    $('server-url').value = s.server_url;
    $('default-expiration').value = s.default_expiration;
    $('default-views').value = s.default_views;
    $('clear-secs').value = s.clear_clipboard_secs;
    $('notify-read').checked = s.notify_on_read;
    $('autostart').checked = s.autostart;
    $('token').placeholder = v.has_token ? `stored (${v.token_storage}); paste to replace` : 'paste the token';
    $('token-where').textContent = `The token is kept in: ${v.token_storage}. It is never written to a file.`;
    $('views').value = s.default_views;
    const known = [...$('expiration').options].some((o) => o.value === s.default_expiration);
    if (!known) {
      const o = document.createElement('option');
      o.value = s.default_expiration;
      o.textContent = s.default_expiration;
      $('expiration').append(o);
    }
    $('expiration').value = s.default_expiration;
    const first = !s.server_url || !v.has_token;
    $('first-run').hidden = !first;
    return first;
  } catch (e) {
    showError(e);
    return false;
  }
}

async function saveSettings(ev) {
  ev.preventDefault();
  clearError();
  $('settings-status').textContent = 'Checking…';
  const num = (id) => { const n = parseInt($(id).value, 10); return Number.isFinite(n) ? n : 0; };
  try {
    const r = await invoke('save_settings', {
      settings: {
        server_url: $('server-url').value,
        token: $('token').value || null,
        default_expiration: $('default-expiration').value,
        default_views: num('default-views'),
        clear_clipboard_secs: num('clear-secs'),
        notify_on_read: $('notify-read').checked,
        autostart: $('autostart').checked,
      },
    });
    $('token').value = '';
    $('settings-status').textContent = `Saved. Connected as ${r.account}.`;
    if (r.warning) showNotice(r.warning);
    await loadSettings();
  } catch (e) {
    $('settings-status').textContent = '';
    showError(e);
  }
}

// ---- wiring ----
window.addEventListener('DOMContentLoaded', async () => {
  for (const t of document.querySelectorAll('.tab')) t.onclick = () => navigate(t.dataset.page);
  $('error-close').onclick = clearError;
  $('share').onclick = share;
  $('cancel').onclick = () => invoke('cancel_share');
  $('pick-files').onclick = () => invoke('pick_files', { folder: false });
  $('pick-folder').onclick = () => invoke('pick_files', { folder: true });
  $('clear-staged').onclick = async () => { await invoke('clear_staged'); renderStaged([]); };
  $('copy-result').onclick = async () => {
    if (!currentId) return;
    try { await invoke('copy_link', { id: currentId }); showNotice('Link copied.'); } catch (e) { $('link').select(); showError(e); }
  };
  $('refresh').onclick = loadRecent;
  $('request-create').onclick = createRequest;
  $('request-copy').onclick = copyRequestLink;
  $('settings-form').onsubmit = saveSettings;
  $('text').addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) share(); });

  await listen('share-progress', (p) => {
    const pct = p.total ? Math.floor((p.done * 100) / p.total) : 0;
    $('progress').value = pct;
    $('progress-text').textContent = `${pct}% of ${fmtSize(p.total)}`;
  });
  await listen('staged', renderStaged);
  await listen('shared', (r) => { navigate('share'); showResult(r); });
  await listen('recent', (list) => { if (!$('page-recent').hidden) renderRecent(list); });
  await listen('link-read', (r) => showNotice(`${r.label} was read.`));
  await listen('app-error', showError);
  await listen('navigate', navigate);
  await listen('tauri://drag-enter', () => $('dropzone').classList.add('over'));
  await listen('tauri://drag-leave', () => $('dropzone').classList.remove('over'));
  await listen('tauri://drag-drop', () => $('dropzone').classList.remove('over'));

  try { renderStaged(await invoke('staged_files')); } catch (e) { showError(e); }
  const first = await loadSettings();
  navigate(first ? 'settings' : 'share');
  document.body.dataset.ready = '1';
});
