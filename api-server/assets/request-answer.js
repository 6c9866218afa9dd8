// Seecret responder page (/r/{id}#Q): someone asked for a secret; this page encrypts the answer
// in the browser to the asker's public key Q and posts it once. The page checks that the key the
// server holds for this request is the one in the link's fragment: a server (or anyone between)
// that swapped it could read the answer, so on a mismatch nothing is encrypted or sent.
import { sealAnswer, answerKey } from './request-crypto.js';

const id = decodeURIComponent(location.pathname.split('/').pop() || '');
const fragmentKey = location.hash.slice(1).replace(/=+$/, '');
const status = document.getElementById('status');
const form = document.getElementById('answer-form');
const note = document.getElementById('note');
const text = document.getElementById('answer-text');
const fileBox = document.getElementById('file-box');
const fileInput = document.getElementById('answer-file');
const send = document.getElementById('send');
const gone = document.getElementById('gone');

function say(message, isError) {
  status.textContent = message;
  status.className = isError ? 'error' : '';
}

function end(message, state) {
  form.hidden = true;
  gone.textContent = message;
  gone.hidden = false;
  say('');
  document.body.dataset.state = state;
}

const api = (what) => new URL('../v1/requests/' + encodeURIComponent(id) + '/' + what, location.href);

function goneMessage(code, fallback) {
  switch (code) {
    case 'answered':
    case 'already_answered':
      return ['This request was already answered. Only the first answer is kept; nothing was sent.', 'answered'];
    case 'expired':
    case 'request_expired':
      return ['This request has expired. Ask the person for a new link; nothing was sent.', 'expired'];
    case 'deleted':
    case 'request_deleted':
      return ['This request was deleted by the person who made it; nothing was sent.', 'deleted'];
    default:
      return [fallback, 'error'];
  }
}

let allowFiles = false;
let sent = false;

async function load() {
  if (!fragmentKey) {
    end('This link is missing its key (the part after #). Ask the person for the complete link.', 'nokey');
    return;
  }
  if (!window.crypto || !window.crypto.subtle) {
    end('This browser cannot encrypt here: the page must be served over HTTPS.', 'error');
    return;
  }
  let resp, data;
  try {
    resp = await fetch(api('public'), { cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' });
    data = await resp.json().catch(() => ({}));
  } catch (_) {
    say('Could not reach the server. Reload the page to try again.', true);
    document.body.dataset.state = 'error';
    return;
  }
  if (resp.status === 404) {
    end('This link does not match any request: it may be mistyped, or it ended long ago.', 'notfound');
    return;
  }
  if (!resp.ok) {
    say((data && data.error ? data.error.message : 'The server refused.') + ' Reload the page to try again.', true);
    document.body.dataset.state = 'error';
    return;
  }
  if (data.public_key !== fragmentKey) {
    end('The server holds a different key for this request than the link does, so this page will not '
      + 'encrypt anything: your answer could be read by someone else. Ask the person to send the link again '
      + 'by another channel.', 'keymismatch');
    return;
  }
  if (data.status !== 'open') {
    const [message, state] = goneMessage(data.status, 'This request cannot be answered.');
    end(message, state);
    return;
  }
  allowFiles = !!data.allow_files && !!window.SeecretStream;
  note.textContent = data.note ? data.note : 'Someone asked you for a secret.';
  fileBox.hidden = !allowFiles;
  form.hidden = false;
  say('');
  document.body.dataset.state = 'open';
}

async function post(body, contentType) {
  return fetch(api('answer'), {
    method: 'POST',
    headers: { 'Content-Type': contentType },
    body,
    cache: 'no-store',
    credentials: 'omit',
    referrerPolicy: 'no-referrer',
  });
}

async function submit(event) {
  event.preventDefault();
  if (sent || send.disabled) return;
  const file = allowFiles && fileInput.files && fileInput.files[0];
  if (!file && !text.value) {
    say('Type the secret, or choose a file.', true);
    text.focus();
    return;
  }
  send.disabled = true;
  say('Encrypting…');
  let resp;
  try {
    if (file) {
      const { keyBytes, ephemeralPublicKey } = await answerKey(fragmentKey, id);
      const blob = await window.SeecretStream.encryptToBytes(
        new Uint8Array(await file.arrayBuffer()), keyBytes, id, { name: file.name, type: file.type || 'application/octet-stream' });
      keyBytes.fill(0);
      say('Sending…');
      resp = await fetch(api('answer') + '?ephemeral_public_key=' + encodeURIComponent(ephemeralPublicKey)
        + '&size=' + file.size, {
        method: 'POST',
        headers: { 'Content-Type': 'application/octet-stream' },
        body: blob,
        cache: 'no-store',
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
      });
    } else {
      const body = await sealAnswer(fragmentKey, id, text.value);
      say('Sending…');
      resp = await post(JSON.stringify(body), 'application/json');
    }
  } catch (e) {
    send.disabled = false;
    say('Could not encrypt or send the answer: ' + (e && e.message ? e.message : e) + '. Nothing was stored.', true);
    return;
  }
  const data = await resp.json().catch(() => ({}));
  if (resp.ok) {
    sent = true;
    text.value = '';
    end('Sent. Only the person who asked can decrypt it; this page keeps nothing.', 'sent');
    history.replaceState(null, '', location.pathname);
    return;
  }
  const code = data && data.error ? data.error.code : '';
  const message = data && data.error ? data.error.message : 'The server refused.';
  if (resp.status === 409 || resp.status === 410) {
    const [m, state] = goneMessage(code, message);
    end(m, state);
    return;
  }
  send.disabled = false;
  say((resp.status === 429 ? 'Too many attempts. ' : '') + message, true);
}


form.addEventListener('submit', submit);
load().catch(() => {
  say('This page could not load the request. Reload it to try again.', true);
  document.body.dataset.state = 'error';
});
