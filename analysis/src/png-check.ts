import { inflateSync } from 'node:zlib';

/**
 * Decodes a PNG far enough for tests: checks the signature, reads the size from IHDR and inflates
 * the image data. Returns the raw (filtered) scanline bytes.
 */
export function decodePng(png: Uint8Array): { width: number; height: number; data: Buffer } {
  const bytes = Buffer.from(png);
  if (bytes.subarray(0, 8).toString('hex') !== '89504e470d0a1a0a') throw new Error('not a PNG');
  let offset = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  while (offset < bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const type = bytes.subarray(offset + 4, offset + 8).toString('ascii');
    const body = bytes.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
    } else if (type === 'IDAT') idat.push(body);
    offset += 12 + length;
  }
  return { width, height, data: inflateSync(Buffer.concat(idat)) };
}
