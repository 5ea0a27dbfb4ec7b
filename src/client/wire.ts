// Conversions between the client's camelCase values and the server's snake_case JSON, and checked
// reads of response bodies (a body that does not match the route's shape is INVALID_RESPONSE,
// rather than `undefined` leaking into the caller's code).
import { ValoriError } from './errors.js';
import type { JsonObject, SearchOptions, Vector } from './types.js';

/**
 * A vector as a JSON-serializable array (Float32Array does not stringify as an array). NaN and
 * ±Infinity are refused here, before any request: JSON.stringify would turn them into null and the
 * server would blame a null. The error is a ValoriError with the server's code for a bad vector
 * (INVALID_VECTOR), status 0 (no answer: nothing was sent) and the component's index.
 */
export function vectorToJson(v: Vector, name: string, where: { method: string; url: string }): readonly number[] {
  let values: readonly number[];
  if (v instanceof Float32Array) values = Array.from(v);
  else if (Array.isArray(v)) values = v;
  else throw new TypeError(`${name} must be a Float32Array or an array of numbers`);
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    if (typeof x === 'number' && Number.isFinite(x)) continue;
    throw new ValoriError({
      status: 0,
      code: 'INVALID_VECTOR',
      message: `${name}[${i}] must be a finite number, got ${String(x)} (not sent)`,
      body: '',
      method: where.method,
      url: where.url,
    });
  }
  return values;
}

/** Many vectors as JSON arrays. */
export function vectorsToJson(vs: readonly Vector[], name: string, where: { method: string; url: string }): (readonly number[])[] {
  if (!Array.isArray(vs)) throw new TypeError(`${name} must be an array of vectors`);
  return vs.map((v, i) => vectorToJson(v, `${name}[${i}]`, where));
}

/** A query string from the defined entries of `params` ('' when none), values URI-encoded. */
export function queryString(params: Record<string, string | number | undefined>): string {
  const parts = Object.entries(params)
    .filter((e): e is [string, string | number] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`);
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

/** Copies `o` without its undefined entries, so optional fields are left out of the JSON. */
export function compact(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** The search fields of `options`, as the server names them (undefined ones are left out by compact). */
export function searchFields(options: SearchOptions): Record<string, unknown> {
  return { filter_tag: options.filterTag, ef: options.ef, nprobe: options.nprobe, metadata_filter: options.filter, include: options.include };
}

/** The payload fields a hit carries (only those the search asked for are in the answer). */
export function hitPayload(r: Reader, hit: Record<string, unknown>): { metadata?: JsonObject | null; text?: string | null; vector?: number[] } {
  const out: { metadata?: JsonObject | null; text?: string | null; vector?: number[] } = {};
  // Metadata keys are data: the object is handed back as parsed, never copied key by key.
  if (hit.metadata !== undefined) out.metadata = hit.metadata === null ? null : (r.object(hit.metadata, 'metadata') as JsonObject);
  if (hit.text !== undefined) out.text = hit.text === null ? null : r.string(hit, 'text');
  if (hit.vector !== undefined) out.vector = r.array(hit, 'vector').map((x, i) => (typeof x === 'number' ? x : r.fail(`"vector[${i}]" is not a number`)));
  return out;
}

const snakeToCamel = (key: string) => key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/**
 * Converts every object key from snake_case to camelCase, recursively. Only for server-defined
 * documents (health, proofs, replication state); never for user metadata, whose keys are data.
 */
export function camelize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelize);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [snakeToCamel(k), camelize(v)]));
}

/** Reads fields of one response body, failing with INVALID_RESPONSE on a wrong shape. */
export class Reader {
  constructor(
    private readonly method: string,
    private readonly url: string,
    private readonly status: number,
    private readonly body: unknown,
  ) {}

  fail(what: string): never {
    throw new ValoriError({
      status: this.status,
      code: 'INVALID_RESPONSE',
      message: `${this.method} ${this.url}: unexpected response body, ${what}`,
      body: this.body,
      method: this.method,
      url: this.url,
    });
  }

  /** The body itself (or `value`) as an object. */
  object(value: unknown = this.body, name = 'body'): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(`${name} is not a JSON object`);
    return value as Record<string, unknown>;
  }

  number(o: Record<string, unknown>, key: string): number {
    const v = o[key];
    if (typeof v !== 'number') this.fail(`"${key}" is not a number`);
    return v;
  }

  nullableNumber(o: Record<string, unknown>, key: string): number | null {
    return o[key] === null || o[key] === undefined ? null : this.number(o, key);
  }

  string(o: Record<string, unknown>, key: string): string {
    const v = o[key];
    if (typeof v !== 'string') this.fail(`"${key}" is not a string`);
    return v;
  }

  array(o: Record<string, unknown>, key: string): unknown[] {
    const v = o[key];
    if (!Array.isArray(v)) this.fail(`"${key}" is not an array`);
    return v;
  }

  /** Each element of `o[key]` as an object, mapped by `fn`. */
  objects<T>(o: Record<string, unknown>, key: string, fn: (item: Record<string, unknown>) => T): T[] {
    return this.array(o, key).map((item, i) => fn(this.object(item, `${key}[${i}]`)));
  }
}
