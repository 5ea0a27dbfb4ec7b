// Fashion-MNIST for the benchmarks: Debian package dataset-fashion-mnist (or FASHION_MNIST_DIR),
// IDX files, gzipped or not. Images are 28 × 28 u8 pixels, used as 784 floats; labels are 0-9.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

export const DIM = 784;

function readIdx(name: string): Buffer {
  const dir = process.env.FASHION_MNIST_DIR ?? '/usr/share/datasets/fashion-mnist';
  const plain = path.join(dir, name);
  return fs.existsSync(plain) ? fs.readFileSync(plain) : zlib.gunzipSync(fs.readFileSync(plain + '.gz'));
}

/** An image file (`train-images-idx3-ubyte`, `t10k-images-idx3-ubyte`): 16-byte header, then pixels. */
export function loadImages(name: string): Float32Array {
  const raw = readIdx(name);
  if (raw.readUInt32BE(0) !== 0x803 || raw.readUInt32BE(8) * raw.readUInt32BE(12) !== DIM) {
    throw new Error(`${name}: not a 28×28 IDX image file`);
  }
  return Float32Array.from(raw.subarray(16));
}

/** A label file (`train-labels-idx1-ubyte`, `t10k-labels-idx1-ubyte`): 8-byte header, then labels. */
export function loadLabels(name: string): Uint8Array {
  const raw = readIdx(name);
  if (raw.readUInt32BE(0) !== 0x801) throw new Error(`${name}: not an IDX label file`);
  return Uint8Array.from(raw.subarray(8, 8 + raw.readUInt32BE(4)));
}
