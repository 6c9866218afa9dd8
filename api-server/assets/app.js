// Seecret web app (DESIGN §7.3). Everything secret happens here, in the browser: the key is
// made here, the text or file is sealed here with the CLI's formats (docs/format.md: the v1
// envelope, the file stream of stream.js), and only ciphertext, the id and the reveal proof's
// verifier go to the server. The key travels only in the link's fragment.
//
// Sign-in is the account's API token, kept in this tab's sessionStorage (never a cookie, so no
// request carries it unless this script adds it). When the server allows anonymous sharing
// (GET /v1/web-config says public_create), people without a token share text through
// POST /v1/public/secrets instead.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = 'seecret:token';
  const el = {
    signIn: $('sign-in'), signInForm: $('sign-in-form'), token: $('token'), signInStatus: $('sign-in-status'),
    signInLead: $('sign-in-lead'), app: $('app'), who: $('who'), signOut: $('sign-out'), account: $('account'),
    tabs: Array.from(document.querySelectorAll('[role="tab"]')),
    shareForm: $('share-form'), text: $('text'), textBox: $('text-box'), filesBox: $('files-box'),
    whatText: $('what-text'), whatFiles: $('what-files'), files: $('files'), folder: $('folder'),
    drop: $('drop'), fileList: $('file-list'), expiration: $('expiration'), views: $('views'),
    passphrase: $('passphrase'), label: $('label'), share: $('share'), progress: $('progress'),
    shareStatus: $('share-status'), result: $('result'), resultTitle: $('result-title'), link: $('link'),
    copy: $('copy'), burn: $('burn'), again: $('again'), qr: $('qr'), resultStatus: $('result-status'),
    refresh: $('refresh'), mine: $('mine'), mineRows: $('mine-rows'), mineStatus: $('mine-status'),
    requestForm: $('request-form'), requestNote: $('request-note'), requestLabel: $('request-label'),
    requestExpiration: $('request-expiration'), answerExpiration: $('answer-expiration'),
    answerViews: $('answer-views'), allowFiles: $('allow-files'), requestCreate: $('request-create'),
    requestStatus: $('request-status'), requestResult: $('request-result'),
    requestResultTitle: $('request-result-title'), requestLink: $('request-link'),
    requestCopy: $('request-copy'), requestDelete: $('request-delete'), requestAgain: $('request-again'),
    requestQr: $('request-qr'), privateLink: $('private-link'), privateCopy: $('private-copy'),
    requestResultStatus: $('request-result-status'), mineRequests: $('mine-requests'),
    mineRequestRows: $('mine-request-rows'),
  };
  if (!el.shareForm) return;

  // The server's answer to /v1/web-config, the token when signed in, the files chosen.
  let config = null;
  let token = null;
  let chosen = [];
  let lastShared = null;
  let lastRequest = null;

  // ---- small helpers -------------------------------------------------------------------------

  function say(node, message, isError) {
    node.textContent = message;
    node.className = isError ? 'error' : '';
  }

  function stored() {
    try {
      return sessionStorage.getItem(TOKEN_KEY);
    } catch (_) {
      return null;
    }
  }

  function keep(value) {
    try {
      if (value === null) sessionStorage.removeItem(TOKEN_KEY);
      else sessionStorage.setItem(TOKEN_KEY, value);
    } catch (_) { /* storage blocked: the token lives in memory until the page goes */ }
  }

  function b64url(bytes) {
    let bin = '';
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function b64(bytes) {
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(bin);
  }

  function humanSize(bytes) {
    if (bytes < 1024) return bytes + (bytes === 1 ? ' byte' : ' bytes');
    const units = ['KB', 'MB', 'GB', 'TB'];
    let v = bytes;
    let u = -1;
    do {
      v /= 1024;
      u++;
    } while (v >= 1024 && u < units.length - 1);
    return (v < 10 ? v.toFixed(1) : String(Math.round(v))) + ' ' + units[u];
  }

  // A UUIDv7 (RFC 9562): 48-bit milliseconds, version 7, variant 10, random rest. The server
  // takes client-chosen ids of this form, so listings stay in creation order.
  function uuidv7() {
    const b = crypto.getRandomValues(new Uint8Array(16));
    const ms = Date.now();
    const hi = Math.floor(ms / 0x100000000);
    const lo = ms >>> 0;
    b[0] = (hi >>> 8) & 0xff;
    b[1] = hi & 0xff;
    b[2] = (lo >>> 24) & 0xff;
    b[3] = (lo >>> 16) & 0xff;
    b[4] = (lo >>> 8) & 0xff;
    b[5] = lo & 0xff;
    b[6] = 0x70 | (b[6] & 0x0f);
    b[8] = 0x80 | (b[8] & 0x3f);
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  // W = SHA-256(HMAC-SHA256(K, "seecret/v1/reveal-proof")), base64url (docs/format.md).
  async function verifierOf(keyBytes) {
    const hk = await crypto.subtle.importKey('raw', keyBytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const proof = await crypto.subtle.sign('HMAC', hk, new TextEncoder().encode('seecret/v1/reveal-proof'));
    return b64url(new Uint8Array(await crypto.subtle.digest('SHA-256', proof)));
  }

  // The v1 text envelope: 0x01 || nonce (12) || AES-256-GCM(K, nonce, text, aad = id).
  async function sealText(text, keyBytes, id) {
    const key = await crypto.subtle.importKey('raw', keyBytes, { name: 'AES-GCM' }, false, ['encrypt']);
    const nonce = crypto.getRandomValues(new Uint8Array(12));
    const ct = new Uint8Array(await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv: nonce, additionalData: new TextEncoder().encode(id), tagLength: 128 },
      key, new TextEncoder().encode(text)));
    const out = new Uint8Array(1 + 12 + ct.length);
    out[0] = 1;
    out.set(nonce, 1);
    out.set(ct, 13);
    return out;
  }

  // The file stream of docs/format.md, sealed chunk by chunk from slices of the file, so only
  // one chunk of plaintext is held at a time; the sealed chunks make up the returned Blob.
  async function sealFile(file, keyBytes, id, name, type, onProgress) {
    const S = window.SeecretStream;
    const meta = S.metaBytes({ name, type, size: file.size });
    if (meta.length > S.MAX_META) throw new Error('the file name is too long');
    const prefix = new Uint8Array(4 + meta.length);
    new DataView(prefix.buffer).setUint32(0, meta.length, false);
    prefix.set(meta, 4);
    const total = prefix.length + file.size;
    const size = S.CHUNK_SIZE;
    const chunks = Math.ceil(total / size);
    const header = new Uint8Array(S.HEADER_LEN);
    header.set([0x53, 0x43, 0x52, 0x31, 1, 1], 0);
    new DataView(header.buffer).setUint32(6, size, false);
    const noncePrefix = crypto.getRandomValues(new Uint8Array(7));
    header.set(noncePrefix, 10);
    const idBytes = new TextEncoder().encode(id);
    const aad = new Uint8Array(header.length + idBytes.length);
    aad.set(header, 0);
    aad.set(idBytes, header.length);
    const key = await crypto.subtle.importKey('raw', keyBytes, { name: 'AES-GCM' }, false, ['encrypt']);
    const parts = [header];
    for (let i = 0; i < chunks; i++) {
      const start = i * size;
      const end = Math.min(total, start + size);
      const piece = new Uint8Array(end - start);
      let at = 0;
      if (start < prefix.length) {
        const head = prefix.subarray(start, Math.min(end, prefix.length));
        piece.set(head, 0);
        at = head.length;
      }
      if (end > prefix.length) {
        const from = Math.max(0, start - prefix.length);
        const bytes = new Uint8Array(await file.slice(from, end - prefix.length).arrayBuffer());
        piece.set(bytes, at);
      }
      const nonce = new Uint8Array(12);
      nonce.set(noncePrefix, 0);
      new DataView(nonce.buffer).setUint32(7, i, false);
      nonce[11] = i === chunks - 1 ? 1 : 0;
      parts.push(new Uint8Array(await crypto.subtle.encrypt(
        { name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength: 128 }, key, piece)));
      if (onProgress) onProgress(end, total);
    }
    return new Blob(parts, { type: 'application/octet-stream' });
  }

  // The message of an error answer ({"error": {code, message}}), for people.
  async function problem(resp) {
    const data = await resp.json().catch(() => ({}));
    const message = data && data.error && data.error.message ? data.error.message : 'the server answered ' + resp.status;
    const code = data && data.error ? data.error.code : '';
    if (resp.status === 429) {
      const wait = resp.headers.get('retry-after');
      return 'Too many requests: ' + message + (wait ? ' (try again in ' + wait + ' s)' : '');
    }
    if (resp.status === 401 && code === 'unauthorized' && token) return 'Your token is no longer valid: sign in again.';
    return message.charAt(0).toUpperCase() + message.slice(1) + (/[.!?]$/.test(message) ? '' : '.');
  }

  function api(path, options) {
    const headers = Object.assign({}, (options && options.headers) || {});
    if (token) headers.Authorization = 'Bearer ' + token;
    return fetch(new URL(path, location.href), Object.assign({
      cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer',
    }, options || {}, { headers }));
  }

  // ---- tabs (WAI-ARIA tabs: arrows, Home and End move and select) ----------------------------

  function visibleTabs() {
    return el.tabs.filter((t) => !t.hidden);
  }

  function select(tab, focus) {
    for (const t of el.tabs) {
      const on = t === tab;
      t.setAttribute('aria-selected', on ? 'true' : 'false');
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute('aria-controls')).hidden = !on;
    }
    if (focus) tab.focus();
    if (tab.id === 'tab-mine') loadMine();
  }

  for (const tab of el.tabs) {
    tab.addEventListener('click', () => select(tab, false));
    tab.addEventListener('keydown', (e) => {
      const tabs = visibleTabs();
      const i = tabs.indexOf(tab);
      let next = null;
      if (e.key === 'ArrowRight') next = tabs[(i + 1) % tabs.length];
      else if (e.key === 'ArrowLeft') next = tabs[(i - 1 + tabs.length) % tabs.length];
      else if (e.key === 'Home') next = tabs[0];
      else if (e.key === 'End') next = tabs[tabs.length - 1];
      if (next) {
        e.preventDefault();
        select(next, true);
      }
    });
  }

  // ---- signing in and out --------------------------------------------------------------------

  // Shows the app for an account (`account` from GET /v1/account) or, with null, for anonymous
  // sharing; or the sign-in form alone when neither applies.
  function show(account) {
    const anonymous = !account;
    const open = !!account || (config && config.public_create);
    el.app.hidden = !open;
    el.signIn.hidden = !!account;
    el.signInLead.textContent = open && anonymous
      ? 'You can share text without an account. Sign in with your API token to share files and see your secrets.'
      : 'Paste your account\'s API token. It stays in this browser tab only (never in a cookie) and is forgotten when the tab closes.';
    el.account.dataset.signedIn = account ? 'yes' : 'no';
    el.who.textContent = account ? 'Signed in as ' + (account.name || account.email || 'your account') : '';
    el.signOut.hidden = !account;
    $('tab-mine').hidden = anonymous;
    $('tab-request').hidden = anonymous;
    el.whatFiles.disabled = anonymous;
    if (anonymous) {
      el.whatText.checked = true;
      whatChanged();
    }
    document.body.dataset.mode = account ? 'signed-in' : open ? 'anonymous' : 'signed-out';
    limits();
    select($('tab-share'), false);
  }

  // The expiry and view choices this account (or anonymous sharing) may make.
  function limits() {
    const caps = !token && config && config.public ? config.public : config;
    if (!caps) return;
    const maxSecs = seconds(caps.max_expiration);
    for (const o of el.expiration.options) o.disabled = seconds(o.value) > maxSecs;
    if (el.expiration.selectedOptions[0] && el.expiration.selectedOptions[0].disabled) el.expiration.value = '24h';
    el.views.max = String(caps.max_views);
    if (Number(el.views.value) > caps.max_views) el.views.value = String(caps.max_views);
    el.answerViews.max = String(caps.max_views);
    for (const sel of [el.requestExpiration, el.answerExpiration]) {
      for (const o of sel.options) o.disabled = seconds(o.value) > maxSecs;
      if (sel.selectedOptions[0] && sel.selectedOptions[0].disabled) sel.value = '24h';
    }
  }

  function seconds(text) {
    const m = /^(\d+)([smhdw])$/.exec(String(text || ''));
    if (!m) return Infinity;
    return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2]];
  }

  async function signIn(candidate) {
    token = candidate;
    let resp;
    try {
      resp = await api('v1/account');
    } catch (_) {
      token = null;
      say(el.signInStatus, 'Could not reach the server. Try again.', true);
      return false;
    }
    if (!resp.ok) {
      const message = resp.status === 401 ? 'This token is not valid on this server.' : await problem(resp);
      token = null;
      keep(null);
      say(el.signInStatus, message, true);
      return false;
    }
    keep(candidate);
    const account = await resp.json();
    say(el.signInStatus, '');
    el.token.value = '';
    show(account);
    return true;
  }

  el.signInForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const candidate = el.token.value.trim();
    if (!candidate) {
      say(el.signInStatus, 'Paste your API token first.', true);
      el.token.focus();
      return;
    }
    say(el.signInStatus, 'Signing in…');
    if (await signIn(candidate)) $('tab-share').focus();
  });

  el.signOut.addEventListener('click', () => {
    token = null;
    keep(null);
    resetShare();
    resetRequest();
    el.mineRows.textContent = '';
    el.mineRequestRows.textContent = '';
    el.mineRequests.hidden = true;
    el.mine.hidden = true;
    show(null);
    say(el.signInStatus, 'Signed out: this tab no longer holds your token.');
    el.token.focus();
  });

  // ---- sharing -------------------------------------------------------------------------------

  function whatChanged() {
    const files = el.whatFiles.checked;
    el.textBox.hidden = files;
    el.filesBox.hidden = !files;
  }
  el.whatText.addEventListener('change', whatChanged);
  el.whatFiles.addEventListener('change', whatChanged);

  function listChosen() {
    el.fileList.textContent = '';
    for (const f of chosen) {
      const li = document.createElement('li');
      li.textContent = (f.path || f.file.name) + ' (' + humanSize(f.file.size) + ')';
      el.fileList.appendChild(li);
    }
  }

  function choose(list) {
    chosen = Array.from(list, (file) => ({ file, path: file.webkitRelativePath || file.name }));
    listChosen();
  }
  el.files.addEventListener('change', () => choose(el.files.files));
  el.folder.addEventListener('change', () => choose(el.folder.files));

  // A dropped folder is walked through the entries API; its files keep their paths.
  async function walk(entry, into) {
    if (entry.isFile) {
      const file = await new Promise((ok, fail) => entry.file(ok, fail));
      into.push({ file, path: entry.fullPath.replace(/^\//, '') });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((ok, fail) => reader.readEntries(ok, fail));
        if (!batch.length) break;
        for (const child of batch) await walk(child, into);
      }
    }
  }

  el.drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    el.drop.classList.add('over');
  });
  el.drop.addEventListener('dragleave', () => el.drop.classList.remove('over'));
  el.drop.addEventListener('drop', async (e) => {
    e.preventDefault();
    el.drop.classList.remove('over');
    const items = e.dataTransfer && e.dataTransfer.items ? Array.from(e.dataTransfer.items) : [];
    const entries = items.map((i) => (i.webkitGetAsEntry ? i.webkitGetAsEntry() : null)).filter(Boolean);
    if (entries.length) {
      const found = [];
      for (const entry of entries) await walk(entry, found);
      chosen = found;
      listChosen();
    } else if (e.dataTransfer) {
      choose(e.dataTransfer.files);
    }
  });

  // What to upload for the chosen files: the file itself, or one zip of them all.
  async function oneFile() {
    if (chosen.length === 1 && !chosen[0].path.includes('/')) {
      const f = chosen[0].file;
      return { blob: f, name: f.name, type: f.type || 'application/octet-stream' };
    }
    say(el.shareStatus, 'Zipping ' + chosen.length + ' files…');
    const top = chosen[0].path.includes('/') ? chosen[0].path.split('/')[0] : 'files';
    const blob = await window.SeecretZip.zip(chosen.map((c) => ({
      name: c.path, data: c.file, lastModified: c.file.lastModified,
    })));
    return { blob, name: top + '.zip', type: 'application/zip' };
  }

  // POST of a multipart form with upload progress (fetch has none for request bodies).
  function upload(form, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', new URL('v1/secrets', location.href));
      if (token) xhr.setRequestHeader('Authorization', 'Bearer ' + token);
      xhr.upload.addEventListener('progress', (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); });
      xhr.addEventListener('load', () => {
        const headers = new Headers();
        const retry = xhr.getResponseHeader('retry-after');
        if (retry) headers.set('retry-after', retry);
        resolve(new Response(xhr.responseText, { status: xhr.status, headers }));
      });
      xhr.addEventListener('error', () => reject(new Error('network')));
      xhr.addEventListener('abort', () => reject(new Error('network')));
      xhr.send(form);
    });
  }

  function options() {
    const views = Number.parseInt(el.views.value, 10);
    const opts = { expiration: el.expiration.value, views: Number.isFinite(views) ? views : 1 };
    if (el.passphrase.value) opts.passphrase = el.passphrase.value;
    if (el.label.value.trim()) opts.label = el.label.value.trim();
    return opts;
  }

  function showProgress(done, total) {
    el.progress.hidden = false;
    el.progress.value = total ? Math.floor((done * 100) / total) : 0;
  }

  el.shareForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (el.share.disabled) return;
    if (!window.crypto || !window.crypto.subtle) {
      say(el.shareStatus, 'This browser cannot encrypt here: the page must be served over HTTPS.', true);
      return;
    }
    const files = el.whatFiles.checked;
    if (!files && !el.text.value) {
      say(el.shareStatus, 'Type the secret first.', true);
      el.text.focus();
      return;
    }
    if (files && !chosen.length) {
      say(el.shareStatus, 'Choose or drop at least one file first.', true);
      el.files.focus();
      return;
    }
    const views = Number(el.views.value);
    if (!Number.isInteger(views) || views < 1 || views > Number(el.views.max)) {
      say(el.shareStatus, 'Views must be a whole number from 1 to ' + el.views.max + '.', true);
      el.views.focus();
      return;
    }
    el.share.disabled = true;
    el.progress.hidden = true;
    const id = uuidv7();
    const keyBytes = crypto.getRandomValues(new Uint8Array(32));
    let resp;
    try {
      const verifier = await verifierOf(keyBytes);
      if (!files) {
        say(el.shareStatus, 'Encrypting…');
        const envelope = await sealText(el.text.value, keyBytes, id);
        const body = Object.assign({ id, ciphertext: b64(envelope), verifier }, options());
        resp = await api(token ? 'v1/secrets' : 'v1/public/secrets', {
          method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
        });
      } else {
        const { blob, name, type } = await oneFile();
        if (config && blob.size > config.max_file_bytes) {
          throw new Error('too large: ' + humanSize(blob.size) + ', and this server takes files up to ' + humanSize(config.max_file_bytes) + '.');
        }
        say(el.shareStatus, 'Encrypting ' + name + '…');
        const sealed = await sealFile(blob, keyBytes, id, name, type, (d, t) => showProgress(d, t));
        const form = new FormData();
        form.append('id', id);
        form.append('verifier', verifier);
        form.append('size', String(blob.size));
        for (const [k, v] of Object.entries(options())) form.append(k, String(v));
        form.append('ciphertext', sealed, 'sealed');
        say(el.shareStatus, 'Uploading ' + humanSize(sealed.size) + '…');
        showProgress(0, sealed.size);
        resp = await upload(form, (d, t) => {
          showProgress(d, t);
          say(el.shareStatus, 'Uploading… ' + Math.floor((d * 100) / t) + '%');
        });
      }
    } catch (err) {
      el.share.disabled = false;
      el.progress.hidden = true;
      const detail = err && err.message && err.message !== 'network' ? err.message : '';
      say(el.shareStatus, detail
        ? 'Not shared: ' + detail
        : 'Could not reach the server. Check your connection and try again; nothing was shared.', true);
      return;
    }
    el.share.disabled = false;
    el.progress.hidden = true;
    if (!resp.ok) {
      say(el.shareStatus, 'Not shared. ' + await problem(resp), true);
      return;
    }
    const info = await resp.json();
    const base = info.url ? info.url : new URL('s/' + id, location.href).href;
    showResult(info, base.split('#')[0] + '#' + b64url(keyBytes));
  });

  function showResult(info, link) {
    lastShared = info;
    el.link.value = link;
    drawQr(link);
    el.shareForm.hidden = true;
    el.result.hidden = false;
    el.burn.hidden = !token;
    el.burn.disabled = false;
    say(el.shareStatus, '');
    const ends = new Date(info.expires_at);
    say(el.resultStatus, 'Shared. It can be viewed ' + info.views + ' time' + (info.views === 1 ? '' : 's')
      + ' until ' + ends.toLocaleString() + '.' + (token ? '' : ' Anonymous secrets cannot be burned early.'));
    document.body.dataset.state = 'shared';
    el.resultTitle.focus();
  }

  // The QR code as SVG squares built here (qrcode-generator computes the modules): no image
  // URL, so the CSP needs no img-src for it.
  function drawQr(text, into) {
    const box = into || el.qr;
    box.textContent = '';
    let qr;
    try {
      qr = window.qrcode(0, 'M');
      qr.addData(text);
      qr.make();
    } catch (_) {
      box.textContent = 'The link is too long for a QR code.';
      return;
    }
    const n = qr.getModuleCount();
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    const size = n + 8;
    svg.setAttribute('viewBox', '0 0 ' + size + ' ' + size);
    svg.setAttribute('width', '200');
    svg.setAttribute('height', '200');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', 'QR code of the link');
    const bg = document.createElementNS(ns, 'rect');
    bg.setAttribute('width', String(size));
    bg.setAttribute('height', String(size));
    bg.setAttribute('fill', '#fff');
    svg.appendChild(bg);
    let d = '';
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) if (qr.isDark(r, c)) d += 'M' + (c + 4) + ' ' + (r + 4) + 'h1v1h-1z';
    }
    const path = document.createElementNS(ns, 'path');
    path.setAttribute('d', d);
    path.setAttribute('fill', '#000');
    svg.appendChild(path);
    box.appendChild(svg);
  }

  function resetShare() {
    el.result.hidden = true;
    el.shareForm.hidden = false;
    el.text.value = '';
    el.passphrase.value = '';
    el.label.value = '';
    el.files.value = '';
    el.folder.value = '';
    chosen = [];
    listChosen();
    el.link.value = '';
    el.qr.textContent = '';
    lastShared = null;
    say(el.shareStatus, '');
    delete document.body.dataset.state;
  }

  el.again.addEventListener('click', () => {
    resetShare();
    el.text.focus();
  });

  el.copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(el.link.value);
      say(el.resultStatus, 'Link copied to the clipboard.');
    } catch (_) {
      el.link.select();
      say(el.resultStatus, 'Copy failed: the link is selected, copy it with Ctrl+C.', true);
    }
  });

  async function burn(id) {
    const resp = await api('v1/secrets/' + encodeURIComponent(id), { method: 'DELETE' });
    if (!resp.ok) throw new Error(await problem(resp));
  }

  el.burn.addEventListener('click', async () => {
    if (!lastShared) return;
    el.burn.disabled = true;
    try {
      await burn(lastShared.id);
    } catch (err) {
      el.burn.disabled = false;
      say(el.resultStatus, 'Not burned: ' + (err && err.message ? err.message : 'the server could not be reached.'), true);
      return;
    }
    say(el.resultStatus, 'Burned: the secret is erased and the link no longer works.');
    document.body.dataset.state = 'burned';
  });

  // ---- requesting a secret -------------------------------------------------------------------
  //
  // The key pair (X25519) is made here by request-crypto.js; the server gets the public key and
  // the verifier of the reveal proof only. The private key leaves this page in one place: the
  // private /a/ link shown once, for the asker to keep.

  let requestCrypto = null;
  function loadRequestCrypto() {
    // A dynamic import from this classic script: same-origin, so the CSP (script-src 'self')
    // allows it and the page needs no module script of its own.
    if (!requestCrypto) {
      requestCrypto = import('./request-crypto.js').catch((err) => {
        requestCrypto = null;
        throw err;
      });
    }
    return requestCrypto;
  }

  el.requestForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (el.requestCreate.disabled || !token) return;
    if (!window.crypto || !window.crypto.subtle) {
      say(el.requestStatus, 'This browser cannot make keys here: the page must be served over HTTPS.', true);
      return;
    }
    const note = el.requestNote.value.trim();
    if (note.length > 500) {
      say(el.requestStatus, 'The note is too long: at most 500 characters.', true);
      el.requestNote.focus();
      return;
    }
    const views = Number(el.answerViews.value);
    if (!Number.isInteger(views) || views < 1 || views > Number(el.answerViews.max)) {
      say(el.requestStatus, 'Answer views must be a whole number from 1 to ' + el.answerViews.max + '.', true);
      el.answerViews.focus();
      return;
    }
    el.requestCreate.disabled = true;
    say(el.requestStatus, 'Making the keys…');
    let keys;
    let resp;
    try {
      const rc = await loadRequestCrypto();
      keys = await rc.newRequestKeys();
      const body = {
        public_key: keys.publicKey,
        verifier: keys.verifier,
        expiration: el.requestExpiration.value,
        answer_expiration: el.answerExpiration.value,
        answer_views: views,
        allow_files: el.allowFiles.checked,
      };
      if (note) body.note = note;
      if (el.requestLabel.value.trim()) body.label = el.requestLabel.value.trim();
      resp = await api('v1/requests', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
      });
    } catch (err) {
      el.requestCreate.disabled = false;
      const detail = err && err.name === 'NotSupportedError'
        ? 'this browser has no X25519 in WebCrypto; use seecret request instead.'
        : '';
      say(el.requestStatus, detail
        ? 'Not created: ' + detail
        : 'Could not reach the server. Check your connection and try again; no request was made.', true);
      return;
    }
    el.requestCreate.disabled = false;
    if (!resp.ok) {
      say(el.requestStatus, 'Not created. ' + await problem(resp), true);
      return;
    }
    const info = await resp.json();
    const privateLink = new URL('a/' + info.id, location.href).href + '#' + keys.privateKey;
    keys = null;
    showRequest(info, privateLink);
  });

  function showRequest(info, privateLink) {
    lastRequest = info;
    el.requestLink.value = info.request_url;
    el.privateLink.value = privateLink;
    drawQr(info.request_url, el.requestQr);
    el.requestForm.hidden = true;
    el.requestResult.hidden = false;
    el.requestDelete.disabled = false;
    say(el.requestStatus, '');
    say(el.requestResultStatus, 'Request created. It can be answered until '
      + new Date(info.expires_at).toLocaleString() + '.');
    document.body.dataset.request = 'created';
    el.requestResultTitle.focus();
  }

  function resetRequest() {
    el.requestResult.hidden = true;
    el.requestForm.hidden = false;
    el.requestNote.value = '';
    el.requestLabel.value = '';
    el.requestLink.value = '';
    el.privateLink.value = '';
    el.requestQr.textContent = '';
    lastRequest = null;
    say(el.requestStatus, '');
    delete document.body.dataset.request;
  }

  el.requestAgain.addEventListener('click', () => {
    resetRequest();
    el.requestNote.focus();
  });

  async function copyFrom(input, status, what) {
    try {
      await navigator.clipboard.writeText(input.value);
      say(status, what + ' copied to the clipboard.');
    } catch (_) {
      input.select();
      say(status, 'Copy failed: the ' + what.toLowerCase() + ' is selected, copy it with Ctrl+C.', true);
    }
  }
  el.requestCopy.addEventListener('click', () => copyFrom(el.requestLink, el.requestResultStatus, 'Link'));
  el.privateCopy.addEventListener('click', () => copyFrom(el.privateLink, el.requestResultStatus, 'Private link'));

  async function deleteRequest(id) {
    const resp = await api('v1/requests/' + encodeURIComponent(id), { method: 'DELETE' });
    if (!resp.ok) throw new Error(await problem(resp));
  }

  el.requestDelete.addEventListener('click', async () => {
    if (!lastRequest) return;
    el.requestDelete.disabled = true;
    try {
      await deleteRequest(lastRequest.id);
    } catch (err) {
      el.requestDelete.disabled = false;
      say(el.requestResultStatus, 'Not deleted: ' + (err && err.message ? err.message : 'the server could not be reached.'), true);
      return;
    }
    say(el.requestResultStatus, 'Deleted: the request link no longer takes an answer.');
    document.body.dataset.request = 'deleted';
  });

  // ---- my secrets ----------------------------------------------------------------------------

  async function loadMine() {
    if (!token) return;
    say(el.mineStatus, 'Loading…');
    let resp;
    try {
      resp = await api('v1/secrets?limit=100');
    } catch (_) {
      say(el.mineStatus, 'Could not reach the server.', true);
      return;
    }
    if (!resp.ok) {
      say(el.mineStatus, await problem(resp), true);
      return;
    }
    const list = (await resp.json()).seecrets || [];
    el.mineRows.textContent = '';
    for (const s of list) el.mineRows.appendChild(row(s));
    el.mine.hidden = list.length === 0;
    let requests = [];
    try {
      const r = await api('v1/requests?limit=100');
      if (r.ok) requests = (await r.json()).requests || [];
    } catch (_) { /* the secrets are shown; requests stay hidden */ }
    el.mineRequestRows.textContent = '';
    for (const q of requests) el.mineRequestRows.appendChild(requestRow(q));
    el.mineRequests.hidden = requests.length === 0;
    say(el.mineStatus, (list.length ? list.length + ' secret' + (list.length === 1 ? '' : 's') : 'No secrets')
      + (requests.length ? ', ' + requests.length + ' request' + (requests.length === 1 ? '' : 's') : '') + '.');
    document.body.dataset.mine = 'loaded';
  }

  function requestRow(q) {
    const tr = document.createElement('tr');
    tr.dataset.id = q.id;
    cell(tr, q.label || q.note || '(no label)');
    cell(tr, q.status).className = 'status';
    cell(tr, new Date(q.expires_at).toLocaleString());
    cell(tr, q.status === 'answered' ? 'kept ' + q.answer_expiration + ', ' + q.answer_views + ' view' + (q.answer_views === 1 ? '' : 's') : q.allow_files ? 'text or file' : 'text');
    const td = cell(tr, '');
    if (q.status === 'open') {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'danger';
      b.textContent = 'Delete';
      b.setAttribute('aria-label', 'Delete request ' + (q.label || q.note || '') + ' created ' + new Date(q.created_at).toLocaleString());
      b.addEventListener('click', async () => {
        b.disabled = true;
        try {
          await deleteRequest(q.id);
        } catch (err) {
          b.disabled = false;
          say(el.mineStatus, 'Not deleted: ' + (err && err.message ? err.message : 'the server could not be reached.'), true);
          return;
        }
        say(el.mineStatus, 'Request deleted.');
        await loadMine();
      });
      td.appendChild(b);
    }
    return tr;
  }

  function cell(tr, text) {
    const td = document.createElement('td');
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function row(s) {
    const tr = document.createElement('tr');
    tr.dataset.id = s.id;
    cell(tr, s.label || s.file_name || '(no label)');
    cell(tr, s.kind === 'file' ? 'file' + (s.size !== undefined && s.size !== null ? ', ' + humanSize(s.size) : '') : 'text');
    cell(tr, s.status).className = 'status';
    cell(tr, s.status === 'active' ? s.views_remaining + ' of ' + s.views : '0 of ' + s.views);
    cell(tr, new Date(s.expires_at).toLocaleString());
    const td = cell(tr, '');
    if (s.status === 'active') {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'danger';
      b.textContent = 'Burn';
      b.setAttribute('aria-label', 'Burn ' + (s.label || s.kind + ' secret') + ' created ' + new Date(s.created_at).toLocaleString());
      b.addEventListener('click', async () => {
        b.disabled = true;
        try {
          await burn(s.id);
        } catch (err) {
          b.disabled = false;
          say(el.mineStatus, 'Not burned: ' + (err && err.message ? err.message : 'the server could not be reached.'), true);
          return;
        }
        say(el.mineStatus, 'Burned.');
        await loadMine();
      });
      td.appendChild(b);
    }
    return tr;
  }

  el.refresh.addEventListener('click', loadMine);

  // ---- start ---------------------------------------------------------------------------------

  async function start() {
    try {
      const resp = await api('v1/web-config');
      config = resp.ok ? await resp.json() : null;
    } catch (_) {
      config = null;
    }
    const kept = stored();
    if (kept && await signIn(kept)) {
      document.body.dataset.ready = 'yes';
      return;
    }
    show(null);
    document.body.dataset.ready = 'yes';
  }

  start();
})();
