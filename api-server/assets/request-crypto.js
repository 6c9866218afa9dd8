// Seecret "request a secret" cryptography in the browser (docs/format.md, DESIGN §7.2), an ES
// module with no dependencies: WebCrypto X25519, HKDF-SHA256, HMAC-SHA256 and AES-256-GCM.
//
//   asker:      (d, Q) X25519; verifier W = SHA-256(HMAC-SHA256(key = d, "seecret/v1/reveal-proof"))
//   responder:  (e, E) X25519; K = HKDF-SHA256(ikm = X25519(e, Q), salt = id, info = "seecret/v1/request")
//   asker:      K = HKDF-SHA256(ikm = X25519(d, E), salt = id, info = "seecret/v1/request")
//
// `id` is the request's id as text (it is also the answer's id, the envelope's associated data).
// Keys travel as base64url without padding; ciphertext as standard base64, like the rest of the API.

const enc = new TextEncoder();
const PROOF_CONTEXT = enc.encode('seecret/v1/reveal-proof');
const KDF_INFO = enc.encode('seecret/v1/request');
// PKCS#8 wrapping of a raw X25519 private key (RFC 8410): WebCrypto imports d this way.
const PKCS8_PREFIX = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);

/** base64url without padding. */
export function toB64url(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Standard base64 with padding. */
export function toB64(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
  return btoa(bin);
}

/** Decodes base64 or base64url, padded or not. */
export function fromB64(text) {
  let s = String(text).trim().replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/');
  while (s.length % 4) s += '=';
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function key32(text, what) {
  let bytes;
  try {
    bytes = fromB64(text);
  } catch (_) {
    throw new Error(what + ' is not base64url');
  }
  if (bytes.length !== 32) throw new Error(what + ' must be 32 bytes');
  return bytes;
}

/** The reveal proof P = HMAC-SHA256(key = d, "seecret/v1/reveal-proof"), base64url. */
export async function proofOf(privateKey) {
  const d = key32(privateKey, 'the private key');
  const k = await crypto.subtle.importKey('raw', d, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return toB64url(new Uint8Array(await crypto.subtle.sign('HMAC', k, PROOF_CONTEXT)));
}

/** The verifier W = SHA-256(P), base64url: what create_request takes. */
export async function verifierOf(privateKey) {
  const p = fromB64(await proofOf(privateKey));
  return toB64url(new Uint8Array(await crypto.subtle.digest('SHA-256', p)));
}

/** A fresh request key pair: {publicKey (Q), privateKey (d), verifier (W)}, all base64url. */
export async function newRequestKeys() {
  const pair = await crypto.subtle.generateKey({ name: 'X25519' }, true, ['deriveBits']);
  const jwk = await crypto.subtle.exportKey('jwk', pair.privateKey);
  const privateKey = jwk.d.replace(/=+$/, '');
  const publicKey = toB64url(new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey)));
  return { publicKey, privateKey, verifier: await verifierOf(privateKey) };
}

/** The public key Q of a private key d, both base64url. */
export async function publicKeyOf(privateKey) {
  const d = await importPrivate(privateKey, true);
  const jwk = await crypto.subtle.exportKey('jwk', d);
  return jwk.x.replace(/=+$/, '');
}

async function importPrivate(privateKey, extractable = false) {
  const d = key32(privateKey, 'the private key');
  const pkcs8 = new Uint8Array(PKCS8_PREFIX.length + 32);
  pkcs8.set(PKCS8_PREFIX, 0);
  pkcs8.set(d, PKCS8_PREFIX.length);
  return crypto.subtle.importKey('pkcs8', pkcs8, { name: 'X25519' }, extractable, ['deriveBits']);
}

async function deriveKey(privateCryptoKey, publicKey, id) {
  const pub = await crypto.subtle.importKey('raw', key32(publicKey, 'the public key'), { name: 'X25519' }, false, []);
  // WebCrypto refuses a low-order public key (an all-zero shared secret), as the Rust side does.
  const shared = await crypto.subtle.deriveBits({ name: 'X25519', public: pub }, privateCryptoKey, 256);
  const ikm = await crypto.subtle.importKey('raw', shared, 'HKDF', false, ['deriveBits']);
  const k = await crypto.subtle.deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: enc.encode(String(id)), info: KDF_INFO }, ikm, 256);
  return new Uint8Array(k);
}

/**
 * The responder's content key for request `id` whose public key is `publicKey` (Q):
 * {keyBytes (K, 32 bytes), ephemeralPublicKey (E, base64url)}. Use keyBytes with
 * SeecretStream.encryptToBytes for a file; sealAnswer does text.
 */
export async function answerKey(publicKey, id) {
  const e = await crypto.subtle.generateKey({ name: 'X25519' }, true, ['deriveBits']);
  const keyBytes = await deriveKey(e.privateKey, publicKey, id);
  const ephemeralPublicKey = toB64url(new Uint8Array(await crypto.subtle.exportKey('raw', e.publicKey)));
  return { keyBytes, ephemeralPublicKey };
}

/** The asker's content key, from d and the answer's E. */
export async function openKey(privateKey, ephemeralPublicKey, id) {
  return deriveKey(await importPrivate(privateKey), ephemeralPublicKey, id);
}

/** A v1 envelope: 0x01 || nonce (12) || AES-256-GCM(K, nonce, aad = id, plaintext). */
export async function sealEnvelope(keyBytes, id, plaintext) {
  const key = await crypto.subtle.importKey('raw', keyBytes, { name: 'AES-GCM' }, false, ['encrypt']);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = new Uint8Array(await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: enc.encode(String(id)), tagLength: 128 }, key, plaintext));
  const out = new Uint8Array(1 + 12 + ct.length);
  out[0] = 1;
  out.set(iv, 1);
  out.set(ct, 13);
  return out;
}

/** Opens a v1 envelope; throws if the key, id or bytes do not match. */
export async function openEnvelope(keyBytes, id, envelope) {
  if (envelope.length < 29 || envelope[0] !== 1) throw new Error('not a Seecret v1 envelope');
  const key = await crypto.subtle.importKey('raw', keyBytes, { name: 'AES-GCM' }, false, ['decrypt']);
  return new Uint8Array(await crypto.subtle.decrypt(
    { name: 'AES-GCM', iv: envelope.slice(1, 13), additionalData: enc.encode(String(id)), tagLength: 128 },
    key, envelope.slice(13)));
}

/**
 * Seals a text answer (string or bytes) to request `id` with public key Q: the body of
 * POST /v1/requests/{id}/answer, {ciphertext, ephemeral_public_key}.
 */
export async function sealAnswer(publicKey, id, plaintext) {
  const bytes = typeof plaintext === 'string' ? enc.encode(plaintext) : plaintext;
  const { keyBytes, ephemeralPublicKey } = await answerKey(publicKey, id);
  const envelope = await sealEnvelope(keyBytes, id, bytes);
  keyBytes.fill(0);
  return { ciphertext: toB64(envelope), ephemeral_public_key: ephemeralPublicKey };
}

/** Opens a text answer (the reveal's `ciphertext` and `ephemeral_public_key`) with d: its bytes. */
export async function openAnswer(privateKey, id, ciphertext, ephemeralPublicKey) {
  const keyBytes = await openKey(privateKey, ephemeralPublicKey, id);
  try {
    return await openEnvelope(keyBytes, id, fromB64(ciphertext));
  } finally {
    keyBytes.fill(0);
  }
}
