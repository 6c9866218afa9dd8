// Seecret reveal page. The key stays in the fragment (never sent to the server); the server only
// hands over the ciphertext, once, when the person clicks Reveal.
'use strict';

(function () {
  const id = document.body.dataset.id;
  const button = document.getElementById('reveal');
  if (!id || !button) return;
  const status = document.getElementById('status');
  const passInput = document.getElementById('passphrase');
  const result = document.getElementById('result');
  const content = document.getElementById('content');
  const copy = document.getElementById('copy');
  const keyText = location.hash.slice(1);

  function say(message, isError) {
    status.textContent = message;
    status.className = isError ? 'error' : '';
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

  if (!keyText) {
    button.disabled = true;
    say('This link is missing its key (the part after #). Ask the sender for the complete link.', true);
    return;
  }
  if (!window.crypto || !window.crypto.subtle) {
    button.disabled = true;
    say('This browser cannot decrypt here: the page must be served over HTTPS.', true);
    return;
  }

  async function reveal() {
    button.disabled = true;
    say('Revealing…');
    let keyBytes;
    try {
      keyBytes = b64ToBytes(keyText, true);
    } catch (_) {
      keyBytes = new Uint8Array(0);
    }
    if (keyBytes.length !== 32) {
      say('The key in this link is damaged. Ask the sender for the complete link.', true);
      return;
    }
    const request = {};
    if (passInput) request.passphrase = passInput.value;
    let resp, data;
    try {
      resp = await fetch(new URL('../v1/secrets/' + encodeURIComponent(id) + '/reveal', location.href), {
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
      const code = data && data.error ? data.error.code : '';
      const message = data && data.error ? data.error.message : 'The server refused.';
      if (code === 'passphrase_required' || code === 'passphrase_invalid') {
        button.disabled = false;
        say(code === 'passphrase_required' ? 'Enter the passphrase first.' : 'Wrong passphrase. No view was used.', true);
        if (passInput) passInput.focus();
      } else if (code === 'rate_limited') {
        button.disabled = false;
        say('Too many attempts. ' + message, true);
      } else if (code === 'consumed' || code === 'expired' || code === 'deleted' || resp.status === 404) {
        document.getElementById('waiting').hidden = true;
        say('This secret was already viewed or has expired. ' + message, true);
      } else {
        button.disabled = false;
        say(message, true);
      }
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
      say(data.views_remaining > 0
        ? 'Revealed. It can be viewed ' + data.views_remaining + ' more time' + (data.views_remaining === 1 ? '' : 's') + '.'
        : 'Revealed. That was its last view: the secret is now destroyed on the server.');
      // The key has done its job: keep it out of history and screenshots of the address bar.
      history.replaceState(null, '', location.pathname);
    } catch (_) {
      say('The secret could not be decrypted: the key in this link does not match. The view was used.', true);
    }
  }

  button.addEventListener('click', reveal);
  if (passInput) passInput.addEventListener('keydown', (e) => { if (e.key === 'Enter') reveal(); });
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(content.textContent);
      say('Copied to the clipboard.');
    } catch (_) {
      say('Copy failed: select the text and copy it by hand.', true);
    }
  });
})();
