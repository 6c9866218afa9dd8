// Seecret asker page (/a/{id}#d): opens the answer to a request with the private key d from the
// link's fragment, which never leaves the browser. The page derives the reveal proof from d, asks
// the answer's status (which carries the responder's ephemeral key E), reveals it with the proof
// and decrypts it here with K = HKDF-SHA256(X25519(d, E), salt = id, info = "seecret/v1/request").
import { proofOf, openKey, openEnvelope, fromB64 } from './request-crypto.js';

const id = decodeURIComponent(location.pathname.split('/').pop() || '');
const keyText = location.hash.slice(1).replace(/=+$/, '');
const status = document.getElementById('status');
const waiting = document.getElementById('waiting');
const lead = document.getElementById('lead');
const button = document.getElementById('open');
const gone = document.getElementById('gone');
const result = document.getElementById('result');
const content = document.getElementById('content');
const copy = document.getElementById('copy');

let proof = '';
let ephemeral = '';
let isFile = false;

function say(message, isError) {
  status.textContent = message;
  status.className = isError ? 'error' : '';
}

function end(message, state) {
  waiting.hidden = true;
  gone.textContent = message;
  gone.hidden = false;
  say('');
  document.body.dataset.state = state;
}

const secretApi = (what) => new URL('../v1/secrets/' + encodeURIComponent(id) + '/' + what, location.href);
const requestApi = (what) => new URL('../v1/requests/' + encodeURIComponent(id) + '/' + what, location.href);

async function postJson(url, body, accept) {
  return fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: accept || 'application/json' },
    body: JSON.stringify(body),
    cache: 'no-store',
    credentials: 'omit',
    referrerPolicy: 'no-referrer',
  });
}

async function check() {
  if (!keyText) {
    end('This link is missing its key (the part after #).', 'nokey');
    return;
  }
  try {
    proof = await proofOf(keyText);
  } catch (_) {
    end('The key in this link is damaged.', 'notfound');
    return;
  }
  const resp = await postJson(secretApi('status'), { proof });
  const data = await resp.json().catch(() => ({}));
  if (resp.status === 404) {
    // No answer yet, or none this key opens: the request says which.
    const r = await fetch(requestApi('public'), { cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' });
    const pub = await r.json().catch(() => ({}));
    if (r.ok && pub.status === 'open') {
      end('No answer yet. Reload this page once the person has answered.', 'pending');
    } else if (r.ok && pub.status === 'expired') {
      end('This request expired without an answer.', 'expired');
    } else if (r.ok && pub.status === 'deleted') {
      end('This request was deleted.', 'deleted');
    } else {
      end('This link does not match any answer: it may be mistyped, or it ended long ago.', 'notfound');
    }
    return;
  }
  if (!resp.ok) {
    say((data && data.error ? data.error.message : 'The server refused.') + ' Reload the page to try again.', true);
    document.body.dataset.state = 'error';
    return;
  }
  if (data.status !== 'active') {
    end(data.status === 'consumed' ? 'This answer was already opened. It has been destroyed.'
      : data.status === 'expired' ? 'This answer has expired. It has been destroyed.'
        : 'This answer was deleted.', 'gone');
    return;
  }
  ephemeral = data.ephemeral_public_key || '';
  if (!ephemeral) {
    end('This link is not the answer to a request.', 'notfound');
    return;
  }
  isFile = data.kind === 'file';
  lead.textContent = 'Your request was answered' + (isFile ? ' with a file' : '')
    + '. Opening it uses one of its views; after the last one it is destroyed.';
  button.textContent = isFile ? 'Open and download' : 'Open the answer';
  waiting.hidden = false;
  say('');
  document.body.dataset.state = 'waiting';
}

async function open() {
  if (button.disabled) return;
  button.disabled = true;
  say('Opening…');
  let keyBytes;
  try {
    keyBytes = await openKey(keyText, ephemeral, id);
  } catch (e) {
    button.disabled = false;
    say('The key in this link cannot open this answer: ' + (e && e.message ? e.message : e), true);
    return;
  }
  const resp = await postJson(secretApi('reveal'), { proof }, isFile ? 'application/octet-stream' : 'application/json');
  if (!resp.ok) {
    const data = await resp.json().catch(() => ({}));
    const message = data && data.error ? data.error.message : 'The server refused.';
    if (resp.status === 404 || resp.status === 410) end('This answer is no longer there. ' + message, 'gone');
    else { button.disabled = false; say(message, true); }
    return;
  }
  try {
    if (isFile) {
      const parts = [];
      const body = resp.body || new Blob([await resp.arrayBuffer()]).stream();
      const meta = await window.SeecretStream.decryptStream(body, keyBytes, id, {
        onChunk: (bytes) => { parts.push(new Blob([bytes])); },
      });
      const name = String(meta.name).split(/[\\/]/).pop().replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '').trim() || 'download';
      const save = document.createElement('a');
      save.id = 'save';
      save.href = URL.createObjectURL(new Blob(parts, { type: meta.type }));
      save.download = name;
      save.textContent = 'Save ' + name + ' again';
      result.insertBefore(save, result.firstChild);
      content.hidden = true;
      copy.hidden = true;
      waiting.hidden = true;
      result.hidden = false;
      say('Decrypted ' + name + '; your browser is saving it.');
      document.body.dataset.state = 'opened';
      save.click();
    } else {
      const data = await resp.json();
      const plain = await openEnvelope(keyBytes, id, fromB64(data.ciphertext));
      content.textContent = new TextDecoder('utf-8').decode(plain);
      waiting.hidden = true;
      result.hidden = false;
      say('Decrypted in your browser.');
      document.body.dataset.state = 'opened';
    }
    history.replaceState(null, '', location.pathname);
  } catch (e) {
    say('The answer could not be decrypted: ' + (e && e.message ? e.message : e) + '. The view was used.', true);
    document.body.dataset.state = 'error';
  } finally {
    keyBytes.fill(0);
  }
}

button.addEventListener('click', open);
copy.addEventListener('click', async () => {
  try {
    await navigator.clipboard.writeText(content.textContent);
    say('Copied to the clipboard.');
  } catch (_) {
    say('Copy failed: select the text and copy it by hand.', true);
  }
});
check().catch(() => {
  say('This page could not check the link. Reload it to try again.', true);
  document.body.dataset.state = 'error';
});
