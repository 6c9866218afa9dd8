// Self-test of api-server/assets/stream.js (and stream-tool.mjs) in Node 20+, no network, no
// dependencies:   node tests/js/stream-selftest.mjs     → exit 0 and a summary when all pass.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

await import(new URL('../../api-server/assets/stream.js', import.meta.url));
const S = globalThis.SeecretStream;
const { decryptStream, encryptToBytes, metaBytes, sealedLength, HEADER_LEN, TAG_LEN, CHUNK_SIZE } = S;
const SEALED = CHUNK_SIZE + TAG_LEN;

let passed = 0;
const failures = [];
function check(cond, what) {
  if (cond) passed++;
  else failures.push(what);
}

const rand = (n) => {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
};
const equal = (a, b) => a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
const cat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
};

// A pull stream over `bytes`, cut into pieces of `piece(i)` bytes, read only when asked.
function streamOf(bytes, piece = () => 65536, stats = null) {
  let at = 0;
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) { controller.close(); return; }
      const n = Math.max(1, piece(i++));
      controller.enqueue(bytes.slice(at, at + n));
      at = Math.min(bytes.length, at + n);
      if (stats) stats.pulled = at;
    },
  }, { highWaterMark: 0 });
}

async function decryptAll(blob, key, id, piece, stats = {}) {
  const chunks = [];
  const events = [];
  stats.pulled = 0;
  stats.maxAhead = 0;
  stats.badChunk = false;
  stats.progressBack = false;
  let progress = 0;
  const meta = await decryptStream(streamOf(blob, piece, stats), key, id, {
    onMeta: (m) => events.push(['meta', m, stats.pulled]),
    onChunk: (c) => {
      if (!(c instanceof Uint8Array)) stats.badChunk = true;
      events.push(['chunk', c.length]);
      chunks.push(c.slice());
      // Bytes read from the blob but not yet turned into output: about two chunks at most.
      const out = chunks.reduce((n, x) => n + x.length, 0);
      stats.maxAhead = Math.max(stats.maxAhead, stats.pulled - out);
    },
    onProgress: (n) => { if (n < progress) stats.progressBack = true; progress = n; },
  });
  stats.progress = progress;
  stats.events = events;
  return { meta, data: cat(...chunks) };
}

async function expectFailure(what, blob, key, id, pattern) {
  let error = null;
  let emitted = 0;
  try {
    await decryptStream(streamOf(blob, () => 7000 + Math.floor(Math.random() * 70000)), key, id, {
      onChunk: (c) => { emitted += c.length; },
    });
  } catch (e) {
    error = e;
  }
  const ok = error instanceof Error && error.message.startsWith('decryption failed:')
    && (!pattern || pattern.test(error.message));
  check(ok, `${what}: expected "decryption failed:"${pattern ? ' ' + pattern : ''}, got ${error ? JSON.stringify(error.message) : 'success'}`);
  return { message: error ? error.message : '(no error)', emitted };
}

const key = rand(32);
const id = '0191a2b3-c4d5-7e6f-8a9b-0c1d2e3f4a5b';
const info = { name: 'a.bin', type: 'application/octet-stream' };

// ---- Round trips ---------------------------------------------------------------------------
// The size n where P = 4 + meta_len + n is exactly one chunk (meta_len depends on n's digits).
let boundary = -1;
for (let n = CHUNK_SIZE; n >= 0; n--) {
  if (4 + metaBytes({ ...info, size: n }).length + n === CHUNK_SIZE) { boundary = n; break; }
}
check(boundary > 0, 'found the one-chunk boundary');
const sizes = [...new Set([0, 1, boundary - 1, boundary, boundary + 1, 65531, 65532, 65536, 65537,
  2 * CHUNK_SIZE - 4 - metaBytes({ ...info, size: 2 * CHUNK_SIZE }).length, 3 * 65536,
  5 * 1024 * 1024 + 12345])].sort((a, b) => a - b);
const roundTrips = [];
for (const size of sizes) {
  const file = rand(size);
  const blob = await encryptToBytes(file, key, id, info);
  const metaLen = metaBytes({ ...info, size }).length;
  const p = 4 + metaLen + size;
  const chunks = Math.ceil(p / CHUNK_SIZE);
  check(blob.length === sealedLength(metaLen, size), `size ${size}: blob length formula`);
  const lastLen = blob.length - HEADER_LEN - (chunks - 1) * SEALED;
  check(lastLen >= TAG_LEN + 1 && lastLen <= SEALED, `size ${size}: last chunk holds 1..chunk_size bytes`);
  const readers = size > 1_000_000
    ? [() => 65536, () => 1 + Math.floor(Math.random() * 200_000)]
    : [() => 65536, () => 1 + Math.floor(Math.random() * 5000), () => 200_000, (i) => (i % 2 ? 1 : 3)];
  for (const piece of size > 200_000 ? readers : readers.concat([() => blob.length])) {
    if (piece.length === 1 && size > 100_000 && piece(1) === 1) continue; // byte-by-byte only for small blobs
    const stats = {};
    const { meta, data } = await decryptAll(blob, key, id, piece, stats);
    check(equal(data, file), `size ${size}: bytes round-trip`);
    check(meta.name === info.name && meta.type === info.type && meta.size === size, `size ${size}: meta returned`);
    check(stats.progress === blob.length && !stats.progressBack, `size ${size}: progress climbs to the blob length`);
    check(!stats.badChunk, `size ${size}: onChunk gets Uint8Arrays`);
    const metas = stats.events.filter((e) => e[0] === 'meta');
    check(metas.length === 1 && stats.events[0][0] === 'meta', `size ${size}: onMeta once, before any onChunk`);
    check(metas[0][2] <= HEADER_LEN + 2 * SEALED + 200_000, `size ${size}: onMeta right after the first chunk`);
    check(stats.events.every((e) => e[0] !== 'chunk' || e[1] > 0), `size ${size}: no empty onChunk`);
    check(stats.maxAhead <= 2 * SEALED + 200_000 + HEADER_LEN + 4 + metaLen, `size ${size}: buffers about two chunks (${stats.maxAhead})`);
  }
  roundTrips.push(`${size} (${chunks} chunk${chunks === 1 ? '' : 's'}, blob ${blob.length})`);
}

// Unicode metadata, and a small chunk size where the metadata spans several chunks.
{
  const file = rand(10_000);
  const named = { name: 'rapport é ✓ "quoted" \\ \n.pdf', type: 'application/pdf' };
  const blob = await encryptToBytes(file, key, id, named, 1024);
  const { meta, data } = await decryptAll(blob, key, id, () => 333);
  check(equal(data, file) && meta.name === named.name && meta.type === named.type, 'unicode meta, chunk size 1024');
  const long = { name: 'x'.repeat(3000) + '.txt', type: 'text/plain' };
  const blob2 = await encryptToBytes(file, key, id, long, 1024);
  const r2 = await decryptAll(blob2, key, id, () => 4096);
  check(equal(r2.data, file) && r2.meta.name === long.name, 'metadata spanning three 1 KiB chunks');
  let threw = false;
  try { await encryptToBytes(file, key, id, { name: 'x'.repeat(5000), type: 't' }); } catch (_) { threw = true; }
  check(threw, 'encryptToBytes refuses metadata over 4096 bytes');
}

// An independent sealer (raw pieces, explicit flags), to check the nonce layout and to make
// blobs the reference encryptor never would.
async function sealRaw(pieces, { flags, chunkSize = CHUNK_SIZE, k = key, aadId = id, header } = {}) {
  const h = header || cat(new TextEncoder().encode('SCR1'), Uint8Array.of(1, 1),
    Uint8Array.of(chunkSize >>> 24, (chunkSize >>> 16) & 255, (chunkSize >>> 8) & 255, chunkSize & 255), rand(7));
  const ck = await crypto.subtle.importKey('raw', k, 'AES-GCM', false, ['encrypt']);
  const out = [h];
  for (let i = 0; i < pieces.length; i++) {
    const last = flags ? flags[i] : i === pieces.length - 1;
    const iv = cat(h.subarray(10, 17), Uint8Array.of(i >>> 24, (i >>> 16) & 255, (i >>> 8) & 255, i & 255), Uint8Array.of(last ? 1 : 0));
    out.push(new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: cat(h, new TextEncoder().encode(aadId)) }, ck, pieces[i])));
  }
  return cat(...out);
}
const plainOf = (metaJson, file) => {
  const m = new TextEncoder().encode(metaJson);
  const len = Uint8Array.of(m.length >>> 24, (m.length >>> 16) & 255, (m.length >>> 8) & 255, m.length & 255);
  return cat(len, m, file);
};
const cut = (p, size = CHUNK_SIZE) => {
  const out = [];
  for (let i = 0; i < p.length; i += size) out.push(p.subarray(i, i + size));
  return out;
};
{
  const file = rand(150_000);
  const blob = await sealRaw(cut(plainOf(JSON.stringify({ name: 'n', type: 't', size: file.length }), file)));
  const { data } = await decryptAll(blob, key, id, () => 10_000);
  check(equal(data, file), 'independent sealer round-trips (nonce = prefix || u32be i || last)');
}

// ---- Refusals -------------------------------------------------------------------------------
const refusals = [];
async function refuse(what, blob, opts = {}) {
  const r = await expectFailure(what, blob, opts.key || key, opts.id || id, opts.pattern);
  refusals.push(`${what}: ${r.message}`);
  return r;
}
const flip = (blob, at) => { const b = blob.slice(); b[at] ^= 1; return b; };

const file3 = rand(3 * 65536 + 7); // four chunks, the last one short
const blob3 = await encryptToBytes(file3, key, id, info);
const chunks3 = Math.ceil((blob3.length - HEADER_LEN) / SEALED);
const lastStart3 = HEADER_LEN + (chunks3 - 1) * SEALED;
const fileB = rand(boundary); // P is exactly one chunk
const blobB = await encryptToBytes(fileB, key, id, info);
const fileM = rand(2 * CHUNK_SIZE - 4 - metaBytes({ ...info, size: 2 * CHUNK_SIZE }).length); // P = two full chunks
const blobM = await encryptToBytes(fileM, key, id, info);
check(blobM.length === HEADER_LEN + 2 * SEALED, 'P of exactly two chunks: two full chunks, no empty third');
const fileBig = rand(5 * 1024 * 1024 + 12345);
const blobBig = await encryptToBytes(fileBig, key, id, info);

await refuse('header: magic', flip(blob3, 0), { pattern: /magic/ });
await refuse('header: version', flip(blob3, 4), { pattern: /version/ });
await refuse('header: algorithm', flip(blob3, 5), { pattern: /algorithm/ });
await refuse('header: chunk size (out of range)', flip(blob3, 6), { pattern: /chunk size/ });
await refuse('header: chunk size (in range, authenticated)', flip(blob3, 8));
await refuse('header: nonce prefix', flip(blob3, 12));
await refuse('chunk 0 flipped', flip(blob3, HEADER_LEN + 3), { pattern: /chunk 0/ });
await refuse('chunk 0 tag flipped', flip(blob3, HEADER_LEN + SEALED - 1), { pattern: /chunk 0/ });
await refuse('chunk 2 flipped', flip(blob3, HEADER_LEN + 2 * SEALED + 100), { pattern: /chunk 2/ });
await refuse('last chunk flipped', flip(blob3, blob3.length - 20), { pattern: /last chunk/ });
await refuse('last chunk tag flipped', flip(blob3, blob3.length - 1), { pattern: /last chunk/ });
await refuse('one-chunk blob flipped', flip(blobB, HEADER_LEN + 9));
await refuse('5 MB blob, middle chunk flipped', flip(blobBig, HEADER_LEN + 40 * SEALED + 5), { pattern: /chunk 40/ });
await refuse('5 MB blob, last chunk flipped', flip(blobBig, blobBig.length - 3), { pattern: /last chunk/ });
{
  const swapped = blob3.slice();
  swapped.set(blob3.subarray(HEADER_LEN + SEALED, HEADER_LEN + 2 * SEALED), HEADER_LEN);
  swapped.set(blob3.subarray(HEADER_LEN, HEADER_LEN + SEALED), HEADER_LEN + SEALED);
  await refuse('chunks 0 and 1 swapped', swapped, { pattern: /chunk 0/ });
  const dup = cat(blob3.subarray(0, HEADER_LEN + SEALED), blob3.subarray(HEADER_LEN));
  await refuse('chunk 0 duplicated', dup, { pattern: /chunk 1/ });
  const dropped = cat(blob3.subarray(0, HEADER_LEN + SEALED), blob3.subarray(HEADER_LEN + 2 * SEALED));
  await refuse('chunk 1 dropped', dropped, { pattern: /chunk 1/ });
}
await refuse('truncated: last (short) chunk removed exactly', blob3.subarray(0, lastStart3), { pattern: /truncated/ });
await refuse('truncated: last (full) chunk removed exactly', blobM.subarray(0, HEADER_LEN + SEALED), { pattern: /truncated/ });
await refuse('truncated: 5 MB blob, last chunk removed exactly', blobBig.subarray(0, HEADER_LEN + Math.floor((blobBig.length - HEADER_LEN - 1) / SEALED) * SEALED), { pattern: /truncated/ });
await refuse('truncated: cut mid-chunk', blob3.subarray(0, HEADER_LEN + SEALED + 30_000));
await refuse('truncated: cut in the last chunk', blob3.subarray(0, blob3.length - 1));
await refuse('truncated: cut to 16 bytes after a chunk', blob3.subarray(0, HEADER_LEN + SEALED + 16), { pattern: /truncated/ });
await refuse('truncated: header only', blob3.subarray(0, HEADER_LEN), { pattern: /no chunks/ });
await refuse('truncated: inside the header', blob3.subarray(0, 10), { pattern: /header/ });
await refuse('empty stream', new Uint8Array(0), { pattern: /header/ });
await refuse('trailing garbage: 1 byte', cat(blob3, Uint8Array.of(0)));
await refuse('trailing garbage: 20 bytes', cat(blob3, new Uint8Array(20)));
await refuse('trailing garbage: after a full last chunk', cat(blobM, rand(100)), { pattern: /trailing/ });
await refuse('trailing garbage: a whole chunk', cat(blob3, blob3.subarray(HEADER_LEN, HEADER_LEN + SEALED)));
await refuse('blob appended to itself', cat(blobB, blobB));
await refuse('wrong key', blob3, { key: rand(32), pattern: /chunk 0/ });
await refuse('wrong key (one-chunk blob)', blobB, { key: rand(32) });
await refuse('wrong id', blob3, { id: '0191a2b3-c4d5-7e6f-8a9b-0c1d2e3f4a5c', pattern: /chunk 0/ });
await refuse('wrong id (one-chunk blob)', blobB, { id: '0191a2b3-c4d5-7e6f-8a9b-0c1d2e3f4a5c' });
await refuse('key of the wrong length', blob3, { key: rand(16), pattern: /32 bytes/ });
await refuse('chunk size below 1024 (even if sealed)', await encryptToBytes(rand(5000), key, id, info, 512), { pattern: /chunk size/ });
{
  const file = rand(1000);
  const big = rand(200_000);
  const good = JSON.stringify({ name: 'n', type: 't', size: file.length });
  await refuse('meta_len 4097', await sealRaw([plainOf('{' + ' '.repeat(4095) + '}', file)]), { pattern: /metadata too long/ });
  await refuse('meta_len 0xffffffff', await sealRaw([cat(Uint8Array.of(255, 255, 255, 255), file)]), { pattern: /metadata too long/ });
  await refuse('meta not JSON', await sealRaw([plainOf('{name: n}', file)]), { pattern: /metadata/ });
  await refuse('meta not UTF-8', await sealRaw([cat(Uint8Array.of(0, 0, 0, 3), Uint8Array.of(0x22, 0xff, 0x22), file)]), { pattern: /metadata/ });
  await refuse('meta an array', await sealRaw([plainOf('[1,2]', file)]), { pattern: /metadata/ });
  for (const m of ['{"name":"n","type":"t"}', '{"name":"n","type":"t","size":null}']) {
    const seen = [];
    const r = await decryptStream(streamOf(await sealRaw(cut(plainOf(m, big)))), key, id, {
      onMeta: (x) => seen.push(x), onChunk: () => {},
    });
    check(seen.length === 1 && seen[0].size === null && r.size === big.length, `meta ${m}: size unknown to onMeta, counted in the result`);
  }
  await refuse('meta size a string', await sealRaw([plainOf('{"name":"n","type":"t","size":"1000"}', file)]), { pattern: /metadata/ });
  await refuse('meta without type', await sealRaw([plainOf('{"name":"n","size":1000}', file)]), { pattern: /metadata/ });
  await refuse('meta size negative', await sealRaw([plainOf('{"name":"n","type":"t","size":-1}', file)]), { pattern: /metadata/ });
  await refuse('meta size fractional', await sealRaw([plainOf('{"name":"n","type":"t","size":1.5}', file)]), { pattern: /metadata/ });
  await refuse('meta name not a string', await sealRaw([plainOf(`{"name":1,"type":"t","size":${file.length}}`, file)]), { pattern: /metadata/ });
  await refuse('P shorter than meta_len', await sealRaw([plainOf(good, new Uint8Array(0)).subarray(0, 10)]), { pattern: /metadata/ });
  await refuse('size larger than the file', await sealRaw([plainOf(JSON.stringify({ name: 'n', type: 't', size: 1001 }), file)]), { pattern: /size/ });
  await refuse('size smaller than the file', await sealRaw([plainOf(JSON.stringify({ name: 'n', type: 't', size: 999 }), file)]), { pattern: /size/ });
  const r = await refuse('size smaller than a multi-chunk file (caught early)', await sealRaw(cut(plainOf(JSON.stringify({ name: 'n', type: 't', size: 10 }), big))), { pattern: /size/ });
  check(r.emitted <= 10, 'no bytes beyond meta.size are handed out');
  const p = plainOf(good, file);
  await refuse('no chunk carries the last flag', await sealRaw([p], { flags: [false] }), { pattern: /truncated/ });
  await refuse('last flag on a middle chunk', await sealRaw(cut(plainOf(JSON.stringify({ name: 'n', type: 't', size: 200_000 }), big)), { flags: [false, true, false, true] }), { pattern: /trailing/ });
  const pm = plainOf(new TextDecoder().decode(metaBytes({ ...info, size: fileM.length })), fileM);
  check(pm.length === 2 * CHUNK_SIZE, 'crafted P is two whole chunks');
  await refuse('empty last chunk after whole chunks (P is never empty)', await sealRaw([...cut(pm), new Uint8Array(0)]), { pattern: /truncated/ });
}

// ---- The CLI ---------------------------------------------------------------------------------
const tool = fileURLToPath(new URL('./stream-tool.mjs', import.meta.url));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seecret-stream-'));
try {
  const keyText = Buffer.from(key).toString('base64url');
  const input = path.join(dir, 'in.bin');
  const blobPath = path.join(dir, 'in.blob');
  const outPath = path.join(dir, 'out.bin');
  const data = rand(300_000);
  fs.writeFileSync(input, data);
  execFileSync(process.execPath, [tool, 'encrypt', keyText, id, input, blobPath, 'in.bin', 'application/x-test']);
  const line = execFileSync(process.execPath, [tool, 'decrypt', keyText, id, blobPath, outPath], { encoding: 'utf8' });
  check(line === JSON.stringify({ name: 'in.bin', type: 'application/x-test', size: data.length }) + '\n', `CLI prints the meta line (${line.trim()})`);
  check(equal(new Uint8Array(fs.readFileSync(outPath)), data), 'CLI round-trips a file');
  fs.rmSync(outPath);
  const blob = fs.readFileSync(blobPath);
  fs.writeFileSync(blobPath, blob.subarray(0, blob.length - 100));
  const bad = spawnSync(process.execPath, [tool, 'decrypt', keyText, id, blobPath, outPath], { encoding: 'utf8' });
  check(bad.status === 1 && bad.stderr.startsWith('decryption failed:') && bad.stdout === '', `CLI refuses a cut blob with exit 1 (${bad.status}, ${bad.stderr.trim()})`);
  check(!fs.existsSync(outPath) && fs.readdirSync(dir).length === 2, 'CLI leaves no output behind on failure');
  const badKey = spawnSync(process.execPath, [tool, 'decrypt', keyText.slice(1), id, blobPath, outPath], { encoding: 'utf8' });
  check(badKey.status === 1 && /key/.test(badKey.stderr), 'CLI refuses a malformed key');
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

// ---- Summary ---------------------------------------------------------------------------------
console.log(`one-chunk boundary for ${JSON.stringify(info)}: file size ${boundary} (meta_len ${metaBytes({ ...info, size: boundary }).length})`);
console.log(`round trips: ${roundTrips.join('; ')}`);
console.log(`refused (${refusals.length}):\n  ${refusals.join('\n  ')}`);
if (failures.length) {
  console.log(`FAILED ${failures.length} of ${passed + failures.length} checks:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log(`stream self-test: all ${passed} checks passed`);
