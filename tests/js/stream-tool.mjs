// The browser's file stream code (api-server/assets/stream.js), driven from the command line so
// the Rust tests can cross-check it against core/src/filestream.rs. No dependencies.
//   node stream-tool.mjs decrypt <keyB64url> <id> <in.blob> <out.file>
//       streams the blob from disk, writes the file, prints {"name","type","size"} as one JSON
//       line. On failure: the message on stderr, exit 1, and no <out.file> is left behind.
//   node stream-tool.mjs encrypt <keyB64url> <id> <in.file> <out.blob> <name> <type> [chunkSize]
//       writes a blob made by the reference encryptor (chunkSize defaults to 65536).
import fs from 'node:fs';
import { Readable } from 'node:stream';

await import(new URL('../../api-server/assets/stream.js', import.meta.url));
const { decryptStream, encryptToBytes } = globalThis.SeecretStream;

function parseKey(text) {
  if (!/^[A-Za-z0-9_-]{43}$/.test(text || '')) throw new Error('key must be 43 characters of base64url');
  const bytes = Buffer.from(text, 'base64url');
  // Canonical only (unused trailing bits zero), as the Rust side decodes it.
  if (bytes.length !== 32 || bytes.toString('base64url') !== text) throw new Error('key must decode to 32 bytes');
  return new Uint8Array(bytes);
}

async function decrypt([keyText, id, input, output]) {
  if (!output) throw new Error('usage: decrypt <keyB64url> <id> <in.blob> <out.file>');
  const key = parseKey(keyText);
  const partial = `${output}.partial-${process.pid}`;
  const file = await fs.promises.open(partial, 'w');
  let meta;
  try {
    const readable = Readable.toWeb(fs.createReadStream(input));
    meta = await decryptStream(readable, key, id, {
      onChunk: async (bytes) => {
        let at = 0;
        while (at < bytes.length) {
          const { bytesWritten } = await file.write(bytes, at, bytes.length - at);
          at += bytesWritten;
        }
      },
    });
    await file.close();
  } catch (e) {
    await file.close().catch(() => {});
    await fs.promises.rm(partial, { force: true });
    throw e;
  }
  await fs.promises.rename(partial, output);
  process.stdout.write(JSON.stringify({ name: meta.name, type: meta.type, size: meta.size }) + '\n');
}

async function encrypt([keyText, id, input, output, name, type, chunkSize]) {
  if (type === undefined) throw new Error('usage: encrypt <keyB64url> <id> <in.file> <out.blob> <name> <type> [chunkSize]');
  const key = parseKey(keyText);
  const data = new Uint8Array(await fs.promises.readFile(input));
  const size = chunkSize === undefined ? undefined : Number(chunkSize);
  const blob = await encryptToBytes(data, key, id, { name, type }, size);
  await fs.promises.writeFile(output, blob);
}

const [command, ...args] = process.argv.slice(2);
try {
  if (command === 'decrypt') await decrypt(args);
  else if (command === 'encrypt') await encrypt(args);
  else throw new Error('usage: stream-tool.mjs decrypt|encrypt …');
} catch (e) {
  process.stderr.write(`${e && e.message ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
