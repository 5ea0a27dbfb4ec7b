// number[] -> Float32Array with the checks that give precise messages (field name, index,
// expected vs got). The kernel checks again; these exist so a client learns exactly what is wrong.
import { KernelError } from './errors';

/**
 * Largest accepted |component| at `dim`, in real units: the kernel's bound
 * (native/kernel/src/fixed.rs max_abs_raw: min(2^30 - 1, floor(sqrt(i64::MAX / (4 dim)))) / 2^16),
 * recomputed here so each collection's vectors get exact messages without a native call.
 */
export function maxAbsValueFor(dim: number): number {
  const limit = (2n ** 63n - 1n) / (4n * BigInt(Math.max(1, dim)));
  let root = BigInt(Math.floor(Math.sqrt(Number(limit))));
  while (root * root > limit) root--;
  while ((root + 1n) * (root + 1n) <= limit) root++;
  const raw = root < 2n ** 30n - 1n ? root : 2n ** 30n - 1n;
  return Number(raw) / 65_536;
}

export interface VectorLimits {
  dim: number;
  /** Largest accepted |component| at this dim (from the kernel, so both sides agree). */
  maxAbsValue: number;
}

function checkShape(values: readonly unknown[], field: string, dim: number): void {
  if (values.length === 0) throw new KernelError('EMPTY_VECTOR', `${field} is empty: expected ${dim} numbers`);
  if (values.length !== dim) {
    throw new KernelError('DIMENSION_MISMATCH', `${field} has the wrong dimension: expected ${dim}, got ${values.length}`);
  }
}

/** Writes `values` into `out` at `offset`, validating every component after f32 rounding. */
function fill(values: readonly unknown[], field: string, limits: VectorLimits, out: Float32Array, offset: number): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new KernelError('INVALID_VECTOR', `${field}[${i}] must be a finite number, got ${JSON.stringify(v) ?? String(v)}`);
    }
    out[offset + i] = v;
    // Compare the stored f32, not the double: that is what the kernel converts to Q16.16.
    const stored = out[offset + i];
    if (!Number.isFinite(stored) || Math.abs(stored) > limits.maxAbsValue) {
      throw new KernelError(
        'INVALID_VECTOR',
        `${field}[${i}] = ${v} is out of range: components must be within ±${limits.maxAbsValue} at dim ${limits.dim}`,
      );
    }
  }
}

export function toVector(values: readonly unknown[], field: string, limits: VectorLimits): Float32Array {
  checkShape(values, field, limits.dim);
  const out = new Float32Array(limits.dim);
  fill(values, field, limits, out, 0);
  return out;
}

/** Flattens rows into one row-major Float32Array (count * dim), the form the binding takes. */
export function toFlatBatch(rows: readonly (readonly unknown[])[], field: string, limits: VectorLimits): Float32Array {
  const out = new Float32Array(rows.length * limits.dim);
  for (let r = 0; r < rows.length; r++) {
    const name = `${field}[${r}]`;
    checkShape(rows[r], name, limits.dim);
    fill(rows[r], name, limits, out, r * limits.dim);
  }
  return out;
}
