// Seecret reveal page. The key stays in the fragment and never leaves the browser: the page derives
// the reveal proof P = HMAC-SHA256(K, "seecret/v1/reveal-proof") from it (docs/format.md), asks the
// status endpoint with P what to show, and reveals with P, then decrypts here. The server's page is
// the same for every id, so the id alone (a proxy log, a chat preview) learns nothing.
//
// A secret bound to one Slack or Discord user asks the visitor to sign in first. Before leaving
// for the platform the page keeps the key in this tab's sessionStorage (it still never goes to
// the server) and puts it back into the address when the sign-in returns; the sign-in's ticket,
// kept there by the callback page, goes with the status call and the reveal.
'use strict';

(function () {
  const button = document.getElementById('reveal');
  if (!button) return;
  const id = decodeURIComponent(location.pathname.split('/').pop() || '');
  const status = document.getElementById('status');
  const waitingBox = document.getElementById('waiting');
  const lead = document.getElementById('lead');
  const goneBox = document.getElementById('gone');
  const passBox = document.getElementById('passphrase-box');
  const passInput = document.getElementById('passphrase');
  const result = document.getElementById('result');
  const content = document.getElementById('content');
  const copy = document.getElementById('copy');
  const signInBox = document.getElementById('sign-in');
  const signInLead = document.getElementById('sign-in-lead');
  const signInButton = document.getElementById('sign-in-button');
  const keptKey = 'seecret:key:' + id;
  const keptTicket = 'seecret:ticket:' + id;

  function stored(name) {
    try {
      return sessionStorage.getItem(name);
    } catch (_) {
      return null;
    }
  }

  function forget(name) {
    try {
      sessionStorage.removeItem(name);
    } catch (_) { /* nothing was kept */ }
  }

  let keyText = location.hash.slice(1);
  if (!keyText && stored(keptKey)) {
    // Back from a sign-in: the key this tab kept goes back where it came from, the fragment.
    keyText = stored(keptKey);
    history.replaceState(null, '', location.pathname + '#' + keyText);
  }
  forget(keptKey);
  // {ticket, provider, name} from the sign-in callback page, if this tab signed in for this id.
  let signedIn = null;
  try {
    signedIn = JSON.parse(stored(keptTicket) || 'null');
  } catch (_) {
    signedIn = null;
  }
  // Set from the status answer: "file" is a stream sealed as docs/format.md says, for stream.js.
  let isFile = false;
  let passphraseProtected = false;
  let proofText = '';

  function say(message, isError) {
    status.textContent = message;
    status.className = isError ? 'error' : '';
  }

  // The page's outcome, for people (the text) and for tests (data-state on <body>).
  function showGone(message, state) {
    waitingBox.hidden = true;
    signInBox.hidden = true;
    goneBox.textContent = message;
    goneBox.hidden = false;
    say('');
    document.body.dataset.state = state;
  }

  function b64ToBytes(text, urlSafe) {
    let s = text.replace(/=+$/, '');
    if (urlSafe) s = s.replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) s += '=';
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function bytesToB64url(bytes) {
    let bin = '';
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function keyBytesOf() {
    try {
      return b64ToBytes(keyText, true);
    } catch (_) {
      return new Uint8Array(0);
    }
  }

  // P = HMAC-SHA256(key = K, "seecret/v1/reveal-proof"), base64url without padding.
  async function revealProof(keyBytes) {
    const hmacKey = await crypto.subtle.importKey('raw', keyBytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const mac = await crypto.subtle.sign('HMAC', hmacKey, new TextEncoder().encode('seecret/v1/reveal-proof'));
    return bytesToB64url(new Uint8Array(mac));
  }

  if (!keyText) {
    showGone('This link is missing its key (the part after #). Ask the sender for the complete link.', 'nokey');
    return;
  }
  if (!window.crypto || !window.crypto.subtle) {
    showGone('This browser cannot decrypt here: the page must be served over HTTPS.', 'error');
    return;
  }

  const apiUrl = (what) => new URL('../v1/secrets/' + encodeURIComponent(id) + '/' + what, location.href);
  const revealUrl = () => apiUrl('reveal');

  // A bound secret's answer (403 sign_in_required or not_the_recipient, with `bound_to`): say
  // whom it is for, and offer that platform's sign-in. Returns whether it was one.
  function needsSignIn(data) {
    const error = data && data.error ? data.error : null;
    if (!error || !error.bound_to || (error.code !== 'sign_in_required' && error.code !== 'not_the_recipient')) {
      return false;
    }
    const bound = error.bound_to;
    const platform = bound.provider === 'discord' ? 'Discord' : 'Slack';
    const who = bound.name ? bound.name + ' on ' + platform : 'one ' + platform + ' user';
    // The sign-in this tab kept did not count (another user, expired, used): it goes.
    const hadSignIn = signedIn;
    signedIn = null;
    forget(keptTicket);
    waitingBox.hidden = true;
    if (error.code === 'not_the_recipient') {
      goneBox.textContent = 'This secret is for another ' + platform + ' user; nothing was used.'
        + (hadSignIn && hadSignIn.name ? ' You signed in as ' + hadSignIn.name + '.' : '');
      goneBox.hidden = false;
      signInLead.textContent = 'If you are ' + who + ', sign in with that ' + platform + ' account.';
      signInButton.textContent = 'Sign in with ' + platform + ' as someone else';
      document.body.dataset.state = 'refused';
    } else {
      goneBox.hidden = true;
      signInLead.textContent = 'This secret is only for ' + who + '. Sign in with ' + platform
        + ' to show it is you; nothing is used until you click Reveal.'
        + (hadSignIn ? ' (Your earlier sign-in has expired or was used.)' : '');
      signInButton.textContent = 'Sign in with ' + platform;
      document.body.dataset.state = 'sign-in';
    }
    signInButton.onclick = () => {
      try {
        sessionStorage.setItem(keptKey, keyText);
      } catch (_) {
        say('This browser does not let the page keep the link while you sign in (storage is blocked). Nothing was used.', true);
        return;
      }
      let to = '../auth/' + encodeURIComponent(bound.provider) + '/start?secret=' + encodeURIComponent(id);
      if (bound.team) to += '&team=' + encodeURIComponent(bound.team);
      location.assign(to);
    };
    signInBox.hidden = false;
    say('');
    return true;
  }

  // Asks, with the proof, whether the secret waits; consumes nothing.
  async function checkStatus() {
    const keyBytes = keyBytesOf();
    if (keyBytes.length !== 32) {
      showGone('The key in this link is damaged. Ask the sender for the complete link.', 'notfound');
      return;
    }
    proofText = await revealProof(keyBytes);
    let resp, data;
    try {
      resp = await fetch(apiUrl('status'), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(signedIn ? { proof: proofText, ticket: signedIn.ticket } : { proof: proofText }),
        cache: 'no-store',
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
      });
      data = await resp.json().catch(() => ({}));
    } catch (_) {
      say('Could not reach the server. Reload the page to try again; nothing was used.', true);
      document.body.dataset.state = 'error';
      return;
    }
    if (resp.status === 404) {
      showGone('This link does not match any secret: it may be mistyped, or it ended long ago.', 'notfound');
      return;
    }
    if (resp.status === 403 && needsSignIn(data)) return;
    if (!resp.ok) {
      const message = data && data.error ? data.error.message : 'The server refused.';
      say((resp.status === 429 ? 'Too many requests. ' : '') + message + ' Reload the page to try again; nothing was used.', true);
      document.body.dataset.state = 'error';
      return;
    }
    if (data.status !== 'active') {
      showGone(data.status === 'consumed'
        ? 'This secret was already viewed. It has been destroyed.'
        : data.status === 'expired'
          ? 'This secret has expired. It has been destroyed.'
          : 'This secret was deleted by its sender.', 'gone');
      return;
    }
    isFile = data.kind === 'file';
    passphraseProtected = !!data.passphrase_protected;
    if (isFile && (!window.SeecretStream || !window.ReadableStream)) {
      showGone('This page could not load its file decryptor. Reload the page; nothing was used.', 'error');
      return;
    }
    const as = data.bound_to && signedIn
      ? 'Signed in with ' + (data.bound_to.provider === 'discord' ? 'Discord' : 'Slack')
        + (signedIn.name ? ' as ' + signedIn.name : '') + '. '
      : '';
    lead.textContent = as + 'Someone shared ' + (isFile ? 'a file' : 'a secret')
      + ' with you. Revealing it uses one of its views; after the last one it is destroyed.';
    button.textContent = isFile ? 'Reveal and download' : 'Reveal secret';
    passBox.hidden = !passphraseProtected;
    waitingBox.hidden = false;
    say('');
    document.body.dataset.state = 'waiting';
  }


  // The server said no (JSON {"error": {code, message}}): the same handling for text and files.
  function refused(resp, data) {
    const code = data && data.error ? data.error.code : '';
    if (needsSignIn(data)) {
      button.disabled = false;
      return;
    }
    const message = data && data.error ? data.error.message : 'The server refused.';
    if (code === 'passphrase_required' || code === 'passphrase_invalid') {
      button.disabled = false;
      say(code === 'passphrase_required' ? 'Enter the passphrase first.' : 'Wrong passphrase. No view was used.', true);
      if (passInput) passInput.focus();
    } else if (code === 'rate_limited') {
      button.disabled = false;
      say('Too many attempts. ' + message, true);
    } else if (code === 'consumed' || code === 'expired' || code === 'deleted' || resp.status === 404) {
      showGone('This secret was already viewed or has expired. ' + message, 'gone');
    } else {
      button.disabled = false;
      say(message, true);
    }
  }

  function viewsSentence(remaining) {
    return remaining > 0
      ? 'It can be viewed ' + remaining + ' more time' + (remaining === 1 ? '' : 's') + '.'
      : 'That was its last view: the secret is now destroyed on the server.';
  }

  async function reveal() {
    // One download per click: Enter in the passphrase box must not start a second one.
    if (isFile && button.disabled) return;
    button.disabled = true;
    say('Revealing…');
    const keyBytes = keyBytesOf();
    // The proof, never the key: the server hands over the ciphertext and this page decrypts it.
    const request = { proof: proofText };
    if (passphraseProtected) request.passphrase = passInput.value;
    if (signedIn) request.ticket = signedIn.ticket;
    if (isFile) {
      await revealFile(keyBytes, request);
      return;
    }
    let resp, data;
    try {
      resp = await fetch(revealUrl(), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(request),
        cache: 'no-store',
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
      });
      data = await resp.json().catch(() => ({}));
    } catch (_) {
      button.disabled = false;
      say('Could not reach the server. Check your connection and try again.', true);
      return;
    }
    if (!resp.ok) {
      refused(resp, data);
      return;
    }
    try {
      const envelope = b64ToBytes(data.ciphertext, false);
      if (envelope.length < 29 || envelope[0] !== 1) throw new Error('format');
      const key = await crypto.subtle.importKey('raw', keyBytes, { name: 'AES-GCM' }, false, ['decrypt']);
      const plain = await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: envelope.slice(1, 13), additionalData: new TextEncoder().encode(id), tagLength: 128 },
        key,
        envelope.slice(13),
      );
      content.textContent = new TextDecoder('utf-8').decode(plain);
      document.getElementById('waiting').hidden = true;
      result.hidden = false;
      say('Revealed. ' + viewsSentence(data.views_remaining));
      // The key and the sign-in have done their job: keep the key out of history and screenshots
      // of the address bar, and drop the used ticket.
      history.replaceState(null, '', location.pathname);
      forget(keptTicket);
    } catch (_) {
      say('The secret could not be decrypted: the key in this link does not match. The view was used.', true);
    }
  }

  // A file name for display and for saving: no directories, no control or bidi-override
  // characters (which could disguise the extension), never empty.
  function cleanName(name) {
    const base = String(name).split(/[\\/]/).pop()
      .replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '')
      .trim();
    const short = base.length > 200 ? base.slice(0, 100) + '…' + base.slice(-99) : base;
    return short && short !== '.' && short !== '..' ? short : 'download';
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

  // A file: the answer is the sealed stream itself, decrypted as it downloads. Nothing is saved
  // unless every chunk authenticates and the file is complete.
  async function revealFile(keyBytes, request) {
    let resp;
    try {
      resp = await fetch(revealUrl(), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Accept': 'application/octet-stream' },
        body: JSON.stringify(request),
        cache: 'no-store',
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
      });
    } catch (_) {
      button.disabled = false;
      say('Could not reach the server. Check your connection and try again.', true);
      return;
    }
    if (!resp.ok) {
      refused(resp, await resp.json().catch(() => ({})));
      return;
    }
    const contentType = (resp.headers.get('content-type') || '').toLowerCase();
    if (contentType.split(';')[0].trim() !== 'application/octet-stream') {
      if (resp.body) resp.body.cancel().catch(() => {});
      say('The server did not send a file. The view may have been used.', true);
      return;
    }
    const total = Number(resp.headers.get('content-length')) || 0;
    let shown = '';
    const progress = (n) => {
      const text = total > 0
        ? 'Decrypting… ' + Math.min(100, Math.floor((n * 100) / total)) + '%'
        : 'Decrypting… ' + humanSize(n);
      if (text !== shown) say((shown = text));
    };
    progress(0);
    let parts = [];
    let fileInfo = null;
    let meta;
    try {
      const body = resp.body || new Blob([await resp.arrayBuffer()]).stream();
      meta = await window.SeecretStream.decryptStream(body, keyBytes, id, {
        onMeta: (m) => {
          fileInfo = document.createElement('p');
          fileInfo.id = 'file-info';
          fileInfo.textContent = cleanName(m.name) + (m.size === null ? '' : ' (' + humanSize(m.size) + ')');
          status.parentNode.insertBefore(fileInfo, status.nextSibling);
        },
        onChunk: (bytes) => { parts.push(new Blob([bytes])); },
        onProgress: progress,
      });
    } catch (e) {
      parts = [];
      if (fileInfo) fileInfo.remove();
      const detail = e && typeof e.message === 'string' ? e.message : String(e);
      say(detail.indexOf('decryption failed:') === 0
        ? 'The file could not be decrypted, so nothing was saved: the key in this link does not match, or the file was damaged or cut short. The view was used. (' + detail + ')'
        : 'The download was interrupted, so nothing was saved. The view was used. (' + detail + ')', true);
      return;
    }
    const name = cleanName(meta.name);
    const file = new Blob(parts, { type: meta.type });
    parts = [];
    const save = document.createElement('a');
    save.id = 'save';
    save.href = URL.createObjectURL(file);
    save.download = name;
    save.textContent = 'Save ' + name + ' again';
    const line = document.createElement('p');
    line.appendChild(save);
    result.insertBefore(line, result.firstChild);
    content.hidden = true;
    copy.hidden = true;
    document.getElementById('waiting').hidden = true;
    result.hidden = false;
    const remaining = Number.parseInt(resp.headers.get('x-seecret-views-remaining') || '', 10);
    say('Decrypted ' + name + ' (' + humanSize(meta.size) + '); your browser is saving it.'
      + (Number.isNaN(remaining) ? '' : ' ' + viewsSentence(remaining)));
    save.click();
    // The key and the sign-in have done their job: keep the key out of history and screenshots
    // of the address bar, and drop the used ticket.
    history.replaceState(null, '', location.pathname);
    forget(keptTicket);
  }

  button.addEventListener('click', reveal);
  passInput.addEventListener('keydown', (e) => { if (e.key === 'Enter') reveal(); });
  checkStatus().catch(() => {
    say('This page could not check the link. Reload it to try again; nothing was used.', true);
    document.body.dataset.state = 'error';
  });
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(content.textContent);
      say('Copied to the clipboard.');
    } catch (_) {
      say('Copy failed: select the text and copy it by hand.', true);
    }
  });
})();
