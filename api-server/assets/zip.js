// Seecret zip writer: several files (or a folder) become one "stored" zip archive (no
// compression: secrets are mostly small or already compressed, and this keeps the writer short
// enough to read). A classic script with no dependencies: it runs in browsers (loaded before
// app.js) and in Node 20+ (the tests check its archives with a real unzip), and defines
// globalThis.SeecretZip.
//
// Layout (APPNOTE 6.3.x): per file a local header + its bytes; then the central directory and
// its end record. Names are UTF-8 (flag bit 11). No zip64: the server's file limit is far below
// 4 GiB, and zip() refuses anything that would need it.
(function (root) {
  'use strict';

  const CRC_TABLE = (() => {
    const t = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      t[n] = c >>> 0;
    }
    return t;
  })();

  function crc32(bytes, crc = 0) {
    let c = crc ^ 0xffffffff;
    for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  }

  // MS-DOS date and time of a JS timestamp (local time, 2-second resolution, from 1980).
  function dosTime(ms) {
    const d = new Date(Number.isFinite(ms) ? ms : Date.now());
    const year = Math.max(1980, Math.min(2107, d.getFullYear()));
    return {
      time: (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1),
      date: ((year - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
    };
  }

  // A path inside the archive: forward slashes, no leading slash, no "." or ".." parts.
  function cleanPath(name) {
    const parts = String(name).replace(/\\/g, '/').split('/')
      .filter((p) => p !== '' && p !== '.' && p !== '..');
    return parts.length ? parts.join('/') : 'file';
  }

  const MAX = 0xffffffff;

  /**
   * The archive of `entries` ({name, data: Blob|Uint8Array, lastModified?}), as a Blob.
   * Reads one file at a time (for its CRC); names repeated get " (2)", " (3)"… before the
   * extension so that no entry hides another.
   */
  async function zip(entries) {
    const enc = new TextEncoder();
    const parts = [];
    const central = [];
    const seen = new Set();
    let offset = 0;
    for (const entry of entries) {
      let path = cleanPath(entry.name);
      if (seen.has(path)) {
        const dot = path.lastIndexOf('.');
        const slash = path.lastIndexOf('/');
        const [stem, ext] = dot > slash + 1 ? [path.slice(0, dot), path.slice(dot)] : [path, ''];
        let n = 2;
        while (seen.has(`${stem} (${n})${ext}`)) n++;
        path = `${stem} (${n})${ext}`;
      }
      seen.add(path);
      const name = enc.encode(path);
      const data = entry.data instanceof Uint8Array
        ? entry.data
        : new Uint8Array(await entry.data.arrayBuffer());
      if (data.length >= MAX || offset >= MAX) throw new RangeError('the archive would exceed 4 GiB');
      const crc = crc32(data);
      const { time, date } = dosTime(entry.lastModified);
      const local = new Uint8Array(30 + name.length);
      const lv = new DataView(local.buffer);
      lv.setUint32(0, 0x04034b50, true);
      lv.setUint16(4, 20, true); // version needed: 2.0
      lv.setUint16(6, 0x0800, true); // UTF-8 names
      lv.setUint16(8, 0, true); // stored
      lv.setUint16(10, time, true);
      lv.setUint16(12, date, true);
      lv.setUint32(14, crc, true);
      lv.setUint32(18, data.length, true);
      lv.setUint32(22, data.length, true);
      lv.setUint16(26, name.length, true);
      lv.setUint16(28, 0, true);
      local.set(name, 30);
      const head = new Uint8Array(46 + name.length);
      const cv = new DataView(head.buffer);
      cv.setUint32(0, 0x02014b50, true);
      cv.setUint16(4, 0x031e, true); // made by: Unix, 3.0
      cv.setUint16(6, 20, true);
      cv.setUint16(8, 0x0800, true);
      cv.setUint16(10, 0, true);
      cv.setUint16(12, time, true);
      cv.setUint16(14, date, true);
      cv.setUint32(16, crc, true);
      cv.setUint32(20, data.length, true);
      cv.setUint32(24, data.length, true);
      cv.setUint16(28, name.length, true);
      cv.setUint32(38, (0o100644 << 16) >>> 0, true); // a regular file, rw-r--r--
      cv.setUint32(42, offset, true);
      head.set(name, 46);
      central.push(head);
      parts.push(local, data);
      offset += local.length + data.length;
    }
    const dirSize = central.reduce((n, c) => n + c.length, 0);
    if (entries.length > 0xffff || offset + dirSize >= MAX) throw new RangeError('the archive would exceed the zip limits');
    const end = new Uint8Array(22);
    const ev = new DataView(end.buffer);
    ev.setUint32(0, 0x06054b50, true);
    ev.setUint16(8, central.length, true);
    ev.setUint16(10, central.length, true);
    ev.setUint32(12, dirSize, true);
    ev.setUint32(16, offset, true);
    return new Blob([...parts, ...central, end], { type: 'application/zip' });
  }

  root.SeecretZip = Object.freeze({ zip, crc32 });
})(globalThis);
