// Seecret file stream, version 1 (docs/format.md): STREAM-BE32 over AES-256-GCM, decrypted chunk
// by chunk with WebCrypto so a large file never sits whole in memory while it is checked.
// A classic script with no dependencies: it runs unchanged in browsers (loaded before reveal.js)
// and in Node 20+ (tests/js/stream-tool.mjs imports it), and defines globalThis.SeecretStream.
//
//   blob   = header (17) || chunk_0 || … || chunk_last
//   header = "SCR1" || 0x01 (version) || 0x01 (AES-256-GCM STREAM-BE32) || chunk_size (u32 BE)
//            || nonce_prefix (7)
//   nonce  = nonce_prefix || i (u32 BE) || last flag (1 byte);   aad = header || id
//   P      = meta_len (u32 BE) || meta (UTF-8 JSON {name, type, size}) || file bytes
(function (root) {
  'use strict';

  const MAGIC = [0x53, 0x43, 0x52, 0x31]; // "SCR1"
  const VERSION = 1;
  const ALG_AES256GCM_STREAM_BE32 = 1;
  const HEADER_LEN = 17;
  const PREFIX_LEN = 7;
  const TAG_LEN = 16;
  const MAX_META = 4096;
  const CHUNK_SIZE = 65536;
  // Chunk sizes a decryptor accepts (the same bounds as core/src/filestream.rs). The header is
  // authenticated, but only once a whole chunk has been read: the bound caps what a hostile
  // server can make us buffer before the tag check fails.
  const MIN_CHUNK_SIZE = 1024;
  const MAX_CHUNK_SIZE = 1 << 24;
  const MAX_CHUNKS = 0x100000000; // the counter is a u32

  function failure(what) {
    const e = new Error('decryption failed: ' + what);
    e.code = 'decryption_failed';
    return e;
  }

  function checkKey(keyBytes) {
    if (!(keyBytes instanceof Uint8Array) || keyBytes.length !== 32) {
      throw failure('the key must be 32 bytes');
    }
  }

  function checkId(id) {
    if (typeof id !== 'string' || id.length === 0) throw new TypeError('id must be a non-empty string');
  }

  function concat(a, b) {
    const out = new Uint8Array(a.length + b.length);
    out.set(a, 0);
    out.set(b, a.length);
    return out;
  }

  function nonceFor(prefix, index, last) {
    const nonce = new Uint8Array(12);
    nonce.set(prefix, 0);
    new DataView(nonce.buffer).setUint32(PREFIX_LEN, index, false);
    nonce[11] = last ? 1 : 0;
    return nonce;
  }

  async function importKey(keyBytes, usage) {
    try {
      return await crypto.subtle.importKey('raw', keyBytes, { name: 'AES-GCM' }, false, [usage]);
    } catch (_) {
      throw failure('the key cannot be used');
    }
  }

  // Bytes read from the stream but not yet decrypted: a list of pieces, taken from the front.
  function ByteQueue() {
    this.pieces = [];
    this.offset = 0; // into pieces[0]
    this.length = 0;
  }
  ByteQueue.prototype.push = function (bytes) {
    this.pieces.push(bytes);
    this.length += bytes.length;
  };
  // Removes and returns exactly n bytes (a view when they lie in one piece, else a copy).
  ByteQueue.prototype.take = function (n) {
    const first = this.pieces[0];
    if (first && first.length - this.offset >= n) {
      const view = first.subarray(this.offset, this.offset + n);
      this.offset += n;
      if (this.offset === first.length) {
        this.pieces.shift();
        this.offset = 0;
      }
      this.length -= n;
      return view;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const piece = this.pieces[0];
      const k = Math.min(n - filled, piece.length - this.offset);
      out.set(piece.subarray(this.offset, this.offset + k), filled);
      filled += k;
      this.offset += k;
      if (this.offset === piece.length) {
        this.pieces.shift();
        this.offset = 0;
      }
    }
    this.length -= n;
    return out;
  };

  function toBytes(value) {
    if (value instanceof Uint8Array) return value;
    if (value instanceof ArrayBuffer) return new Uint8Array(value);
    if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    throw new TypeError('the stream must yield bytes');
  }

  function parseMeta(bytes) {
    let meta;
    try {
      meta = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes));
    } catch (_) {
      throw failure('metadata is not valid');
    }
    // `size` may be absent (or null): a server sealing an upload as it streams in does not know
    // it up front (core/src/filestream.rs, FileMeta::size). When present it is checked.
    const size = meta !== null && typeof meta === 'object' ? meta.size : undefined;
    if (meta === null || typeof meta !== 'object' || Array.isArray(meta)
      || typeof meta.name !== 'string' || typeof meta.type !== 'string'
      || (size !== undefined && size !== null && (!Number.isSafeInteger(size) || size < 0))) {
      throw failure('metadata is not valid');
    }
    return { name: meta.name, type: meta.type, size: size === undefined ? null : size };
  }

  /**
   * Decrypts a file stream v1 blob as it arrives.
   * readable: ReadableStream of the blob's bytes; keyBytes: Uint8Array(32); id: the secret id.
   * onMeta({name, type, size}) once the metadata is open (after the first chunk); size is null
   * when the metadata does not carry it (then it is not checked, only counted);
   * onChunk(Uint8Array) with authenticated file bytes, in order (awaited, so it may apply
   * backpressure); onProgress(bytesOfBlobConsumed) after every read.
   * Chunks handed to onChunk are authentic, but the file is only complete and untruncated once
   * this resolves: on rejection, the caller must throw away everything it was given.
   * Resolves to {name, type, size} (size: the file bytes received, equal to the metadata's
   * size when it has one); rejects with an Error whose message starts with
   * "decryption failed:" when the blob is not intact for this key and id.
   */
  async function decryptStream(readable, keyBytes, id, { onMeta, onChunk, onProgress } = {}) {
    checkKey(keyBytes);
    checkId(id);
    const reader = readable.getReader();
    const queue = new ByteQueue();
    let ended = false;
    let consumed = 0;

    // Reads until `n` bytes are buffered or the stream ends; true when `n` bytes are there.
    async function fill(n) {
      while (queue.length < n && !ended) {
        let step;
        try {
          step = await reader.read();
        } catch (e) {
          throw new Error('download failed: ' + (e && e.message ? e.message : String(e)));
        }
        if (step.done) {
          ended = true;
          break;
        }
        const bytes = toBytes(step.value);
        if (bytes.length === 0) continue;
        queue.push(bytes);
        consumed += bytes.length;
        if (onProgress) onProgress(consumed);
      }
      return queue.length >= n;
    }

    let ok = false;
    try {
      if (!(await fill(HEADER_LEN))) throw failure('the stream ended before its header');
      const header = queue.take(HEADER_LEN).slice();
      for (let i = 0; i < MAGIC.length; i++) {
        if (header[i] !== MAGIC[i]) throw failure('not a Seecret file stream (bad magic)');
      }
      if (header[4] !== VERSION) throw failure('unsupported file stream version ' + header[4]);
      if (header[5] !== ALG_AES256GCM_STREAM_BE32) throw failure('unsupported algorithm ' + header[5]);
      const chunkSize = new DataView(header.buffer).getUint32(6, false);
      if (chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) throw failure('bad chunk size ' + chunkSize);
      const prefix = header.slice(10, HEADER_LEN);
      const key = await importKey(keyBytes, 'decrypt');
      const aad = concat(header, new TextEncoder().encode(id));
      const sealed = chunkSize + TAG_LEN;

      async function open(ct, index, last) {
        try {
          const pt = await crypto.subtle.decrypt(
            { name: 'AES-GCM', iv: nonceFor(prefix, index, last), additionalData: aad, tagLength: 128 },
            key, ct);
          return new Uint8Array(pt);
        } catch (_) {
          return null;
        }
      }

      let meta = null;
      let head = null; // plaintext before the metadata is complete
      let produced = 0;

      async function emit(bytes) {
        if (bytes.length === 0) return;
        produced += bytes.length;
        if (meta.size !== null && produced > meta.size) throw failure('the file size does not match its metadata');
        if (onChunk) await onChunk(bytes);
      }

      async function take(pt) {
        if (meta) return emit(pt);
        head = head ? concat(head, pt) : pt;
        if (head.length < 4) return undefined;
        const metaLen = new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(0, false);
        if (metaLen > MAX_META) throw failure('metadata too long (' + metaLen + ' bytes, at most ' + MAX_META + ')');
        if (head.length < 4 + metaLen) return undefined;
        meta = parseMeta(head.subarray(4, 4 + metaLen));
        const rest = head.subarray(4 + metaLen);
        head = null;
        if (onMeta) await onMeta({ name: meta.name, type: meta.type, size: meta.size });
        return emit(rest);
      }

      for (let index = 0; ; index++) {
        if (index >= MAX_CHUNKS) throw failure('too many chunks');
        // One byte past a whole chunk shows that the chunk is not the last.
        if (await fill(sealed + 1)) {
          const ct = queue.take(sealed);
          const pt = await open(ct, index, false);
          if (!pt) {
            if (await open(ct, index, true)) throw failure('data follows the last chunk (trailing garbage)');
            throw failure('chunk ' + index + ' failed authentication (wrong key or id, or the file was tampered with or reordered)');
          }
          await take(pt);
          continue;
        }
        // The stream has ended: what is left must be the last chunk, 1 to chunk_size bytes of P.
        if (queue.length < TAG_LEN + 1) {
          if (index === 0 && queue.length === 0) throw failure('the stream has no chunks (truncated)');
          throw failure(queue.length === TAG_LEN
            ? 'the stream is truncated (its last chunk is missing or empty)'
            : 'the stream is truncated (it ends without its last chunk)');
        }
        const ct = queue.take(queue.length);
        const pt = await open(ct, index, true);
        if (!pt) {
          if (ct.length === sealed && await open(ct, index, false)) {
            throw failure('the stream is truncated (it ends without its last chunk)');
          }
          throw failure('the last chunk (' + index + ') failed authentication (wrong key or id, truncated, or tampered with)');
        }
        await take(pt);
        break;
      }
      if (!meta) throw failure('the stream has no metadata');
      if (meta.size !== null && produced !== meta.size) throw failure('the file size does not match its metadata');
      ok = true;
      return { name: meta.name, type: meta.type, size: produced };
    } finally {
      if (!ok) {
        try { await reader.cancel(); } catch (_) { /* already errored */ }
      }
      try { reader.releaseLock(); } catch (_) { /* nothing to release */ }
    }
  }

  /** The metadata record's bytes, as the Rust side writes them (compact JSON, this key order). */
  function metaBytes({ name, type, size }) {
    return new TextEncoder().encode(JSON.stringify({ name: String(name), type: String(type), size }));
  }

  /** Blob length for a file of `size` bytes whose metadata record is `metaLen` bytes. */
  function sealedLength(metaLen, size, chunkSize = CHUNK_SIZE) {
    const p = 4 + metaLen + size;
    return HEADER_LEN + p + Math.ceil(p / chunkSize) * TAG_LEN;
  }

  /**
   * Reference encryptor (holds everything in memory): the whole blob for `fileBytes`.
   * chunkSize is written as is, so tests can also make blobs a decryptor must refuse.
   */
  async function encryptToBytes(fileBytes, keyBytes, id, { name, type }, chunkSize = CHUNK_SIZE) {
    if (!(fileBytes instanceof Uint8Array)) throw new TypeError('fileBytes must be a Uint8Array');
    if (!(keyBytes instanceof Uint8Array) || keyBytes.length !== 32) throw new TypeError('the key must be 32 bytes');
    checkId(id);
    if (!Number.isSafeInteger(chunkSize) || chunkSize < 1 || chunkSize > 0xffffffff) {
      throw new RangeError('chunkSize must be an integer from 1 to 2^32 - 1');
    }
    const meta = metaBytes({ name, type, size: fileBytes.length });
    if (meta.length > MAX_META) throw new RangeError('file name and type are too long');
    const plain = new Uint8Array(4 + meta.length + fileBytes.length);
    new DataView(plain.buffer).setUint32(0, meta.length, false);
    plain.set(meta, 4);
    plain.set(fileBytes, 4 + meta.length);
    const chunks = Math.ceil(plain.length / chunkSize);
    if (chunks > MAX_CHUNKS) throw new RangeError('too many chunks');

    const header = new Uint8Array(HEADER_LEN);
    header.set(MAGIC, 0);
    header[4] = VERSION;
    header[5] = ALG_AES256GCM_STREAM_BE32;
    new DataView(header.buffer).setUint32(6, chunkSize, false);
    const prefix = crypto.getRandomValues(new Uint8Array(PREFIX_LEN));
    header.set(prefix, 10);
    const aad = concat(header, new TextEncoder().encode(id));
    const key = await crypto.subtle.importKey('raw', keyBytes, { name: 'AES-GCM' }, false, ['encrypt']);

    const out = new Uint8Array(HEADER_LEN + plain.length + chunks * TAG_LEN);
    out.set(header, 0);
    let at = HEADER_LEN;
    for (let i = 0; i < chunks; i++) {
      const piece = plain.subarray(i * chunkSize, Math.min(plain.length, (i + 1) * chunkSize));
      const ct = new Uint8Array(await crypto.subtle.encrypt(
        { name: 'AES-GCM', iv: nonceFor(prefix, i, i === chunks - 1), additionalData: aad, tagLength: 128 },
        key, piece));
      out.set(ct, at);
      at += ct.length;
    }
    return out;
  }

  root.SeecretStream = Object.freeze({
    decryptStream,
    encryptToBytes,
    metaBytes,
    sealedLength,
    HEADER_LEN,
    TAG_LEN,
    MAX_META,
    CHUNK_SIZE,
    MIN_CHUNK_SIZE,
    MAX_CHUNK_SIZE,
  });
})(globalThis);
