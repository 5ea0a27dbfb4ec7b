// Small helpers shared by the payload tests: the node's observable state (to prove a refused
// request changed nothing), exact distances, and a seeded vector source.
import assert from 'node:assert/strict';
import { isErrorEnvelope, request } from './helpers';
import { Gen, prng } from './payload-random';

export interface Observed {
  hash: string;
  height: number;
  counts: Record<string, number>;
}

/** The whole-state hash, the height and every collection's live record count. */
export async function observe(base: string): Promise<Observed> {
  const proof = (await request(base, '/v1/proof/state')).json;
  const cols = (await request(base, '/v1/namespaces')).json.collections as { name: string; record_count: number }[];
  return { hash: proof.final_state_hash, height: proof.height, counts: Object.fromEntries(cols.map((c) => [c.name, c.record_count])) };
}

/** A refused request: its status, its code, a message matching `names`, and nothing changed. */
export async function refused(base: string, send: () => Promise<{ status: number; json: any; text: string }>, status: number, code: string, names: RegExp): Promise<void> {
  const before = await observe(base);
  const r = await send();
  assert.equal(r.status, status, r.text.slice(0, 300));
  assert.ok(isErrorEnvelope(r.json, code), r.text.slice(0, 300));
  assert.match(r.json.error, names);
  assert.deepEqual(await observe(base), before, 'a refused request changed nothing');
}

export const sqL2 = (a: readonly number[], b: readonly number[]): number => a.reduce((acc, x, i) => acc + (x - b[i]) ** 2, 0);
export const dot = (a: readonly number[], b: readonly number[]): number => a.reduce((acc, x, i) => acc + x * b[i], 0);
export const cosine = (a: readonly number[], b: readonly number[]): number => dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));

/**
 * Seeded vectors whose components are multiples of 1/64 in [-2, 2): exact in Q16.16, so squared
 * distances and dot products computed here in f64 are the kernel's exactly.
 */
export function exactVectors(seed: number, count: number, dim: number): number[][] {
  const g = new Gen(prng(seed));
  return Array.from({ length: count }, () => Array.from({ length: dim }, () => (g.int(256) - 128) / 64));
}

/** The ids of `rows` (id → vector) ranked by squared L2 to `query`, ties by id. */
export function rankL2(rows: ReadonlyMap<number, readonly number[]>, query: readonly number[]): number[] {
  return [...rows.keys()].sort((x, y) => sqL2(rows.get(x)!, query) - sqL2(rows.get(y)!, query) || x - y);
}

/** Inserts rows in batches of at most 5,000 and returns their ids. */
export async function insertRows(base: string, collection: string, rows: readonly number[][], metadata?: readonly unknown[]): Promise<number[]> {
  const ids: number[] = [];
  for (let at = 0; at < rows.length; at += 5_000) {
    const body: Record<string, unknown> = { collection, batch: rows.slice(at, at + 5_000) };
    if (metadata) body.metadata = metadata.slice(at, at + 5_000);
    const r = await request(base, '/v1/vectors/batch-insert', { body });
    assert.equal(r.status, 200, r.text.slice(0, 300));
    ids.push(...r.json.ids);
  }
  return ids;
}
