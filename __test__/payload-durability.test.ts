// Payloads are state: after a restart that replays the event log, after a snapshot save and
// restore (named, and at start-up from the snapshot plus the log after it), and on a follower,
// every record's metadata and text, every filtered search and the state hash are what was
// written. Expected values come from the writes (the filter oracle ranks the matches).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compileFilter, type Json } from './filter-oracle';
import { request, startServer, type TestServer } from './helpers';
import { exactVectors, observe, rankL2 } from './payload-helpers';

const DIM = 4;
const CATCH_UP_MS = 10_000;
const FILTERS: Json[] = [
  { kind: 'doc' },
  { year: { $gte: 2024 } },
  { 'author.name': { $in: ['ann', 'bob'] } },
  { $not: { tags: 'x' } },
  { year: { gte: 2020, lte: 2023 }, kind: 'doc' },
  { $or: [{ 'author.team': { $exists: false } }, { kind: { $ne: 'doc' } }] },
];

/** What the test wrote to one collection: the source of every expectation. */
class Written {
  vectors = new Map<number, number[]>();
  metadata = new Map<number, Json>();
  texts = new Map<number, string>();
}

function payloadFor(i: number): { [k: string]: Json } {
  const md: { [k: string]: Json } = { kind: i % 3 === 0 ? 'doc' : 'note', year: 2018 + (i % 8), tags: i % 4 === 0 ? ['x', 'y'] : ['y'] };
  if (i % 5 !== 0) md.author = { name: ['ann', 'bob', 'cy'][i % 3], ...(i % 2 === 0 ? { team: 'core' } : {}) };
  return md;
}

/** Writes 60 records (batch and single), replaces some payloads (PATCH, meta/set), deletes two. */
async function writeAll(base: string, collection: string, w: Written): Promise<void> {
  const vecs = exactVectors(collection.length, 60, DIM);
  const batch = await request(base, '/v1/vectors/batch-insert', {
    body: { collection, batch: vecs.slice(0, 40), metadata: vecs.slice(0, 40).map((_, i) => (i % 2 ? JSON.stringify(payloadFor(i)) : payloadFor(i))), texts: vecs.slice(0, 40).map((_, i) => `text ${i}`) },
  });
  assert.equal(batch.status, 200, batch.text);
  batch.json.ids.forEach((id: number, i: number) => {
    w.vectors.set(id, vecs[i]);
    w.metadata.set(id, payloadFor(i));
    w.texts.set(id, `text ${i}`);
  });
  for (let i = 40; i < 60; i++) {
    const r = await request(base, '/v1/records', { body: { collection, values: vecs[i], metadata: payloadFor(i), text: `single ${i}` } });
    assert.equal(r.status, 200, r.text);
    w.vectors.set(r.json.id, vecs[i]);
    w.metadata.set(r.json.id, payloadFor(i));
    w.texts.set(r.json.id, `single ${i}`);
  }
  const ids = [...w.vectors.keys()];
  for (const id of ids.slice(0, 6)) {
    const md = { kind: 'patched', year: 2030 + id };
    assert.equal((await request(base, `/v1/records/${id}/metadata?collection=${collection}`, { method: 'PATCH', body: md })).status, 200);
    w.metadata.set(id, md);
  }
  const meta = { kind: 'doc', year: 2025, author: { name: 'bob' } };
  assert.equal((await request(base, '/v1/memory/meta/set', { body: { target_id: `rec:${ids[7]}`, metadata: meta, collection } })).status, 200);
  w.metadata.set(ids[7], meta);
  for (const [route, id] of [['/v1/delete', ids[10]], ['/v1/soft-delete', ids[11]]] as const) {
    assert.equal((await request(base, route, { body: { id, collection } })).status, 200);
    w.vectors.delete(id);
  }
}

/** Every live record reads back as written, and every filter answers the oracle's ranking. */
async function verify(base: string, collection: string, w: Written, what: string): Promise<void> {
  for (const [id, v] of w.vectors) {
    const r = await request(base, `/v1/records/${id}?collection=${collection}`);
    assert.equal(r.status, 200, `${what}: record ${id}`);
    assert.deepEqual([r.json.vector, r.json.metadata, r.json.text], [v, w.metadata.get(id), w.texts.get(id)], `${what}: record ${id}`);
  }
  const q = [0.5, -0.25, 1, 0];
  for (const f of FILTERS) {
    const pred = compileFilter(f);
    const matching = new Map([...w.vectors].filter(([id]) => pred(w.metadata.get(id))));
    const r = await request(base, '/v1/search', { body: { query: q, k: 100, collection, metadata_filter: f, include: ['metadata', 'text'] } });
    assert.equal(r.status, 200, r.text);
    const hits = r.json.results as { id: number; metadata: Json; text: string }[];
    assert.deepEqual(hits.map((h) => h.id), rankL2(matching, q), `${what}: ${JSON.stringify(f)}`);
    for (const h of hits) assert.deepEqual([h.metadata, h.text], [w.metadata.get(h.id), w.texts.get(h.id)]);
  }
}

describe('payload durability: restart, snapshots', () => {
  let dir: string;
  const w = new Written();
  const env = () => ({ VALORI_DIM: String(DIM), VALORI_EVENT_LOG_PATH: join(dir, 'events.log'), VALORI_SNAPSHOT_PATH: join(dir, 'snapshot.bin'), VALORI_SNAPSHOT_ON_SHUTDOWN: 'false' });
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'valori-payload-dur-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('when the node restarts on its event log, then payloads, filtered results and the hash are the same', async () => {
    let s = await startServer(env());
    let hash: string;
    try {
      assert.equal((await request(s.base, '/v1/namespaces', { body: { name: 'h', dimension: DIM, index: 'hnsw' } })).status, 200);
      await writeAll(s.base, 'h', w);
      await verify(s.base, 'h', w, 'before the restart');
      hash = (await observe(s.base)).hash;
    } finally {
      await s.stop();
    }
    s = await startServer(env());
    try {
      assert.equal((await observe(s.base)).hash, hash, 'replay gives the same hash');
      await verify(s.base, 'h', w, 'after replay');
    } finally {
      await s.stop();
    }
  });

  it('when a snapshot is saved and restored, and the node restarts from it, then payloads come back as they were', async () => {
    const s = await startServer(env());
    let hash: string;
    const ids = [...w.vectors.keys()];
    try {
      assert.equal((await request(s.base, '/v1/snapshot/save', { body: { path: 'before-patch.snap' } })).status, 200);
      hash = (await observe(s.base)).hash;
      assert.equal((await request(s.base, `/v1/records/${ids[20]}/metadata?collection=h`, { method: 'PATCH', body: { kind: 'later' } })).status, 200);
      assert.notEqual((await observe(s.base)).hash, hash, 'a payload change is a state change');
      assert.equal((await request(s.base, '/v1/snapshot/restore', { body: { path: 'before-patch.snap' } })).status, 200);
      assert.equal((await observe(s.base)).hash, hash);
      await verify(s.base, 'h', w, 'after a named restore');
      // The main snapshot, then one more write that only the log holds.
      assert.equal((await request(s.base, '/v1/snapshot/save', { body: {} })).status, 200);
      const md = { kind: 'doc', year: 2026, tags: 'x' };
      assert.equal((await request(s.base, `/v1/records/${ids[21]}/metadata?collection=h`, { method: 'PATCH', body: md })).status, 200);
      w.metadata.set(ids[21], md);
      hash = (await observe(s.base)).hash;
    } finally {
      await s.stop();
    }
    const again = await startServer(env());
    try {
      assert.equal((await observe(again.base)).hash, hash, 'snapshot + log tail gives the same hash');
      await verify(again.base, 'h', w, 'after a restart from the snapshot');
    } finally {
      await again.stop();
    }
  });
});

describe('payload on a follower', () => {
  let dir: string;
  let leader: TestServer;
  let follower: TestServer;
  const w = new Written();
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'valori-payload-repl-'));
    leader = await startServer({ VALORI_DIM: String(DIM), VALORI_EVENT_LOG_PATH: join(dir, 'leader.log') });
    follower = await startServer({ VALORI_DIM: String(DIM), VALORI_EVENT_LOG_PATH: join(dir, 'follower.log'), VALORI_FOLLOWER_OF: leader.base });
  });
  after(async () => {
    await follower.stop();
    await leader.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when the leader writes payloads, then the follower serves the same records, filtered results and state hash', async () => {
    assert.equal((await request(leader.base, '/v1/namespaces', { body: { name: 'r', dimension: DIM, index: 'ivf' } })).status, 200);
    await writeAll(leader.base, 'r', w);
    const target = leader.kernel.stats().height;
    for (let i = 0; i < 1_000 && follower.kernel.stats().height < target; i++) {
      await follower.kernel.waitForHeight(follower.kernel.stats().height, CATCH_UP_MS);
    }
    assert.equal(follower.kernel.stats().height, target, 'the follower caught up');
    await verify(leader.base, 'r', w, 'leader');
    await verify(follower.base, 'r', w, 'follower');
    assert.equal((await observe(follower.base)).hash, (await observe(leader.base)).hash);
  });
});
