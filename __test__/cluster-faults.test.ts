// A 3-member Raft cluster of real processes under faults (cluster-harness.ts): the leader killed
// with SIGKILL and SIGSTOPped, symmetric and asymmetric partitions, a minority that must not
// commit, a member cut off long enough that it can only catch up through a snapshot, and a member
// added and removed, each under a concurrent client workload. Every scenario's history is checked
// for linearizability by Porcupine (__test__/lincheck) under two models: a register per metadata
// key (put = /v1/memory/meta/set, get = /v1/memory/meta/get, linearizable by default on any
// member) and insert visibility (insert = POST /v1/records with the key as Idempotency-Key and in
// the metadata, find = POST /v1/search filtered on it). After healing, all members reach the same
// applied index and state hash, every acknowledged insert is on every member, and no key's
// insert was applied twice. Skipped without Go (the checker needs it), unless VALORI_REQUIRE_GO.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Reply } from '../scripts/lib/cluster-nodes';
import { apiAddr, Harness, raftProxyAddr, until } from './cluster-harness';
import { checkHistory, findGo, History, type LincheckModel } from './lincheck/history';

const HAVE_GO = findGo() !== undefined;
if (!HAVE_GO && process.env.VALORI_REQUIRE_GO === '1') throw new Error('VALORI_REQUIRE_GO=1 but go is not installed');

const REQUEST_TIMEOUT_MS = 4_000;
const CLIENTS = 6;

/** A dim-4 vector of its own for each key, so a keyed retry sends the same body. */
function vectorOf(key: string): number[] {
  let h = 0;
  for (const c of key) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return [1 + (h % 97), 1 + ((h >>> 7) % 89), 1 + ((h >>> 14) % 83), 1 + ((h >>> 21) % 79)];
}

/** An idempotency key (32 hex characters) standing for `text`. */
function keyOf(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

type Outcome = { kind: 'ok'; reply: Reply } | { kind: 'unknown'; why: string } | { kind: 'failed'; why: string };

/**
 * One request to member `id`, following 307s to the member they name. A 503 NO_LEADER is a
 * definite refusal (nothing was proposed); LEADER_CHANGED, a timeout or a broken connection leave
 * the outcome unknown.
 */
async function call(h: Harness, id: number, method: string, path: string, body: unknown): Promise<Outcome> {
  let target = h.client(id);
  const text = body === undefined ? undefined : JSON.stringify(body);
  for (let hop = 0; hop < 4; hop++) {
    let r: Reply;
    try {
      r = await target.send(method, path, text, REQUEST_TIMEOUT_MS);
    } catch (err) {
      // Refused connections were never sent; anything else may have reached the member.
      if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED') return { kind: 'failed', why: 'ECONNREFUSED' };
      return { kind: 'unknown', why: String(err) };
    }
    if (r.status === 307 && r.location !== undefined) {
      const u = new URL(r.location);
      const next = [...h.nodes.entries()].find(([, n]) => n.base === `${u.protocol}//${u.host}`);
      if (next === undefined) return { kind: 'failed', why: `307 to an unknown member ${r.location}` };
      assert.equal(u.pathname + u.search, path, 'a 307 keeps the path and query');
      target = next[1].client;
      continue;
    }
    if (r.status === 200) return { kind: 'ok', reply: r };
    if (r.status === 503) {
      const code = (JSON.parse(r.body) as { code?: string }).code;
      if (code === 'LEADER_CHANGED') return { kind: 'unknown', why: code };
      // Refused before anything was proposed: no leader known, or the member still recovering.
      if (code === 'NO_LEADER' || code === 'RECOVERING') return { kind: 'failed', why: code };
    }
    throw new Error(`${method} ${path} answered ${r.status}: ${r.body.slice(0, 300)}`);
  }
  return { kind: 'failed', why: 'too many redirects' };
}

interface Acked {
  key: string;
  id: number;
}

/** The concurrent clients of one scenario, recording two histories. */
class Workload {
  readonly kv = new History();
  readonly inserts = new History();
  readonly acked: Acked[] = [];
  private running = true;
  private readonly loops: Promise<void>[] = [];
  private n = 0;
  counts = { ok: 0, unknown: 0, failed: 0 };

  constructor(
    private readonly h: Harness,
    private readonly tag: string,
  ) {}

  start(): void {
    for (let c = 0; c < CLIENTS; c++) this.loops.push(this.loop(c));
  }

  /** Stops the clients; throws the first error a client met (an answer no fault explains). */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    if (this.error !== undefined) throw this.error;
  }

  private error: unknown;

  private async loop(client: number): Promise<void> {
    try {
      await this.run(client);
    } catch (err) {
      this.error ??= err;
      this.running = false;
    }
  }

  private count(o: Outcome): void {
    this.counts[o.kind]++;
    if (o.kind === 'failed') this.backoff = true;
  }

  /** Set after a refusal: the client pauses briefly (as a real client backs off) instead of spinning. */
  private backoff = false;

  private async run(client: number): Promise<void> {
    let i = 0;
    while (this.running) {
      const live = this.h.live();
      if (live.length === 0) {
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      if (this.backoff) {
        this.backoff = false;
        await new Promise((r) => setTimeout(r, 20));
      }
      const id = live[(client + i++) % live.length];
      const n = this.n++;
      switch (n % 4) {
        case 0:
          await this.put(client, id, `${this.tag}-k${n % 16}`, `c${client}-${n}`);
          break;
        case 1:
          await this.get(client, id, `${this.tag}-k${(n * 5) % 16}`);
          break;
        case 2:
          await this.insert(client, id, `${this.tag}-i${Math.floor(n / 8)}`);
          break;
        default:
          await this.find(client, id, `${this.tag}-i${Math.floor(n / 8) - (n % 3)}`);
      }
    }
  }

  private async put(client: number, id: number, key: string, value: string): Promise<void> {
    const op = this.kv.begin(client, 'put', key, value);
    // request_id is the body's idempotency key: a write retried with it applies once.
    const o = await call(this.h, id, 'POST', '/v1/memory/meta/set', { target_id: key, metadata: value, request_id: keyOf(`${key}=${value}`) });
    this.count(o);
    if (o.kind === 'ok') op.ok();
    else if (o.kind === 'unknown') op.unknown();
    else op.fail();
  }

  private async get(client: number, id: number, key: string): Promise<void> {
    const op = this.kv.begin(client, 'get', key);
    const o = await call(this.h, id, 'GET', `/v1/memory/meta/get?target_id=${encodeURIComponent(key)}`, undefined);
    this.count(o);
    // A read that got no answer constrains nothing: it is left out.
    if (o.kind === 'ok') op.ok((JSON.parse(o.reply.body) as { metadata: string | null }).metadata);
    else op.fail();
  }

  private async insert(client: number, id: number, key: string): Promise<void> {
    const op = this.inserts.begin(client, 'insert', key);
    const o = await call(this.h, id, 'POST', '/v1/records', { values: vectorOf(key), metadata: { key }, request_id: keyOf(key) });
    this.count(o);
    if (o.kind === 'ok') {
      const rid = (JSON.parse(o.reply.body) as { id: number }).id;
      op.ok(rid);
      this.acked.push({ key, id: rid });
    } else if (o.kind === 'unknown') op.unknown();
    else op.fail();
  }

  private async find(client: number, id: number, key: string): Promise<void> {
    if (key.endsWith('-i-1') || key.endsWith('-i-2')) return;
    const op = this.inserts.begin(client, 'find', key);
    const o = await call(this.h, id, 'POST', '/v1/search', { query: vectorOf(key), k: 2, metadata_filter: { key } });
    this.count(o);
    if (o.kind !== 'ok') return op.fail();
    const hits = (JSON.parse(o.reply.body) as { results: { id: number }[] }).results;
    assert.ok(hits.length <= 1, `key ${key} was inserted twice: ${JSON.stringify(hits)}`);
    op.ok(hits.length === 0 ? null : hits[0].id);
  }

  /** Runs the checker on both histories; fails the test with its output when one is not linearizable. */
  async check(dir: string): Promise<void> {
    for (const [model, history] of [['kv', this.kv], ['insert', this.inserts]] as [LincheckModel, History][]) {
      const file = join(dir, `${this.tag}-${model}.jsonl`);
      history.writeTo(file);
      const lines = history.lines().length;
      assert.ok(lines > 20, `${this.tag}: only ${lines} ${model} operations were recorded`);
      const r = await checkHistory(file, model, { timeoutS: 60 });
      assert.equal(r.verdict, 'linearizable', `${this.tag} ${model}: ${r.output}`);
    }
  }
}

/** Load while `during` runs its faults, then stops the clients. */
async function underLoad(h: Harness, tag: string, during: (w: Workload) => Promise<void>): Promise<Workload> {
  const w = new Workload(h, tag);
  w.start();
  try {
    await during(w);
  } finally {
    await w.stop();
  }
  return w;
}

/** Every acknowledged insert is on every member, once. */
async function noAckedInsertLost(h: Harness, ids: readonly number[], acked: readonly Acked[]): Promise<void> {
  const byKey = new Map<string, number>();
  for (const a of acked) {
    const prev = byKey.get(a.key);
    assert.ok(prev === undefined || prev === a.id, `key ${a.key} acknowledged with ids ${prev} and ${a.id}`);
    byKey.set(a.key, a.id);
  }
  for (const id of ids) {
    for (const [key, rid] of byKey) {
      const r = await h.client(id).json<{ results: { id: number }[] }>('POST', '/v1/search', { query: vectorOf(key), k: 2, metadata_filter: { key }, consistency: 'local' });
      assert.deepEqual(r.results.map((x) => x.id), [rid], `member ${id}: insert of ${key} (acknowledged as id ${rid})`);
    }
  }
}

const MEMBERS = [1, 2, 3];

describe('a 3-member cluster under faults, checked by Porcupine', { skip: HAVE_GO ? false : 'go is not installed (the checker needs it)', timeout: 240_000 }, () => {
  let h: Harness;
  const acked: Acked[] = [];

  before(async () => {
    h = new Harness({
      VALORI_RAFT_HEARTBEAT_MS: '50',
      VALORI_RAFT_ELECTION_TIMEOUT_MS: '300',
      VALORI_CLUSTER_COMMIT_TIMEOUT_MS: '3000',
      // Snapshots often and little log kept behind them: a member cut off for a while can only
      // come back through a snapshot.
      VALORI_SNAPSHOT_EVERY_EVENTS: '150',
      VALORI_RAFT_SNAPSHOT_KEEP: '20',
      VALORI_REPLICATION_CHECK_INTERVAL_MS: '500',
    });
    await Promise.all(MEMBERS.map((id) => h.start(id, MEMBERS, id === 1)));
    await h.leader();
  });

  after(async () => {
    await h?.close(process.env.VALORI_KEEP_CLUSTER === '1');
    // Safety net: every member is killed and every proxy closed by now, so nothing should keep
    // this file's process alive. Once, in CI, a proxied socket did (libuv refused the reset of a
    // half-closed socket, since fixed in link-proxy.ts); if anything ever does again, say what and
    // exit with the verdict already reported rather than hang the whole run.
    setTimeout(() => {
      process.stderr.write(`cluster-faults: still alive 15 s after the suite (${process.getActiveResourcesInfo().join(', ')}); exiting\n`);
      process.exit();
    }, 15_000).unref();
  });

  /** Runs a scenario, checks its histories, heals, and checks convergence and durability. */
  async function scenario(tag: string, faults: (w: Workload) => Promise<void>): Promise<Workload> {
    const t0 = performance.now();
    const w = await underLoad(h, tag, faults);
    const t1 = performance.now();
    h.heal();
    for (const id of [...h.stopped]) h.sigcont(id);
    acked.push(...w.acked);
    if (process.env.VALORI_TEST_VERBOSE === '1') process.stderr.write(`${tag}: ${JSON.stringify(w.counts)}\n`);
    assert.ok(w.counts.ok > 20, `${tag}: only ${w.counts.ok} operations succeeded (${JSON.stringify(w.counts)})`);
    await w.check(h.dir);
    const t2 = performance.now();
    await h.leader();
    await h.converged(MEMBERS);
    const t3 = performance.now();
    await noAckedInsertLost(h, MEMBERS, acked);
    if (process.env.VALORI_TEST_VERBOSE === '1') {
      const ms = (a: number, b: number) => Math.round(b - a);
      process.stderr.write(`${tag}: load ${ms(t0, t1)} ms, check ${ms(t1, t2)} ms, converge ${ms(t2, t3)} ms, durability ${ms(t3, performance.now())} ms\n`);
    }
    return w;
  }

  /** Lets the load run until `n` more operations have succeeded. */
  async function progress(w: Workload, n: number): Promise<void> {
    const goal = w.counts.ok + n;
    await until(`${n} more successful operations`, 30_000, async () => (w.counts.ok >= goal ? true : undefined), 10);
  }

  it('when the leader is killed with SIGKILL under load and restarted, then the history is linearizable and nothing acknowledged is lost', async () => {
    await scenario('kill', async (w) => {
      await progress(w, 100);
      const leader = await h.leader();
      await h.kill9(leader);
      const next = await h.leader(20_000, MEMBERS.filter((m) => m !== leader));
      assert.notEqual(next, leader);
      await progress(w, 100);
      await h.restart(leader);
      await progress(w, 50);
    });
  });

  it('when the leader is SIGSTOPped and resumed, then the others elect a leader and the resumed one follows it', async () => {
    await scenario('sigstop', async (w) => {
      await progress(w, 50);
      const leader = await h.leader();
      h.sigstop(leader);
      const next = await h.leader(20_000, MEMBERS.filter((m) => m !== leader));
      assert.notEqual(next, leader);
      await progress(w, 100);
      h.sigcont(leader);
      await until('the resumed member to follow the new leader', 20_000, async () => {
        const s = await h.status(leader);
        return !s.is_leader && s.current_leader !== null ? true : undefined;
      });
    });
  });

  it('when the leader is partitioned from the others (both ways, then one way), then the majority goes on and the old leader reports its quorum lost', async () => {
    await scenario('partition', async (w) => {
      await progress(w, 50);
      const leader = await h.leader();
      const rest = MEMBERS.filter((m) => m !== leader);
      h.partition([leader], rest);
      const next = await h.leader(20_000, rest);
      assert.notEqual(next, leader);
      // openraft keeps the cut-off node leader until it hears a higher term; health says so.
      await until('the cut-off leader to report its quorum lost or step down', 20_000, async () => {
        const s = await h.status(leader);
        return s.quorum_lost || !s.is_leader ? true : undefined;
      });
      const health = await h.client(leader).send('GET', '/v1/cluster/health');
      assert.equal(health.status, 503, health.body);
      await progress(w, 100);
      h.heal();
      // Asymmetric: the new leader's connections to one follower carry nothing; the follower's
      // own connections to it pass.
      const leader2 = await h.leader();
      const follower = MEMBERS.find((m) => m !== leader2)!;
      h.cut(leader2, follower);
      await progress(w, 150);
    });
  });

  it('when one member is cut off, then it cannot commit or serve a linearizable read, and the others can', async () => {
    await scenario('minority', async (w) => {
      const leader = await h.leader();
      const lone = MEMBERS.find((m) => m !== leader)!;
      h.partition([lone], MEMBERS.filter((m) => m !== lone));
      await until('the cut-off member to lose its leader', 20_000, async () => ((await h.status(lone)).current_leader === null ? true : undefined));
      // Explicitly: a write to the minority is not acknowledged, and a linearizable read there fails.
      const write = await h.client(lone).send('POST', '/v1/memory/meta/set', JSON.stringify({ target_id: 'minority-probe', metadata: 'x' }), REQUEST_TIMEOUT_MS);
      assert.equal(write.status, 503, write.body);
      const r = await h.client(lone).send('GET', '/v1/memory/meta/get?target_id=minority-probe', undefined, REQUEST_TIMEOUT_MS);
      assert.equal(r.status, 503, r.body);
      // A local read is served (and says nothing about the others).
      const local = await h.client(lone).send('GET', '/v1/memory/meta/get?target_id=minority-probe&consistency=local', undefined, REQUEST_TIMEOUT_MS);
      assert.equal(local.status, 200, local.body);
      await progress(w, 100);
    });
    // The probe was never written anywhere.
    for (const id of MEMBERS) {
      const r = await h.client(id).json<{ metadata: unknown }>('GET', '/v1/memory/meta/get?target_id=minority-probe');
      assert.equal(r.metadata, null, `member ${id}`);
    }
  });

  it('when a member misses more entries than the leader keeps, then it catches up through a snapshot under load', async () => {
    let lagging = 0;
    let leaderPurged = 0;
    let laggingLog = 0;
    await scenario('snapshot', async (w) => {
      const leader = await h.leader();
      lagging = MEMBERS.find((m) => m !== leader)!;
      h.partition([lagging], MEMBERS.filter((m) => m !== lagging));
      laggingLog = (await h.status(lagging)).last_log_index ?? 0;
      // Until the leader has purged past the end of the cut-off member's log.
      await until('the leader to purge past the lagging member', 60_000, async () => {
        const s = await h.status(await h.leader());
        leaderPurged = (s as unknown as { purged_index: number | null }).purged_index ?? 0;
        return leaderPurged > laggingLog + 10 ? true : undefined;
      }, 100);
      // Catch up through a slow link while the load goes on.
      h.heal();
      await progress(w, 100);
    });
    const s = (await h.status(lagging)) as unknown as { snapshot_index: number | null };
    assert.ok((s.snapshot_index ?? 0) >= leaderPurged, `member ${lagging} holds a snapshot at ${s.snapshot_index}, the leader had purged to ${leaderPurged} (its log ended at ${laggingLog})`);
  });

  it('when a member is added and then removed under load, then it becomes a voter, leaves cleanly and its id cannot be added again, and the history stays linearizable', async () => {
    await scenario('membership', async (w) => {
      await h.start(4, [...MEMBERS, 4], false);
      const leader = await h.leader();
      const add = await h.client(leader).send('POST', '/v1/cluster/add-node', JSON.stringify({ node_id: 4, raft_addr: raftProxyAddr(4), api_addr: apiAddr(4) }));
      assert.equal(add.status, 200, add.body);
      await until('member 4 to become a voter', 30_000, async () => {
        const st = await h.status(await h.leader());
        return st.members.some((m) => m.id === 4 && m.voter) ? true : undefined;
      });
      await progress(w, 100);
      const rm = await h.client(await h.leader()).send('POST', '/v1/cluster/remove-node', JSON.stringify({ node_id: 4 }));
      assert.equal(rm.status, 200, rm.body);
      await until('member 4 to leave the membership', 30_000, async () => {
        const st = await h.status(await h.leader());
        return st.members.every((m) => m.id !== 4) ? true : undefined;
      });
      await h.kill9(4);
      await progress(w, 50);
      // A removed id is never reused: adding it again is refused whatever node answers there.
      const again = await h.client(await h.leader()).send('POST', '/v1/cluster/add-node', JSON.stringify({ node_id: 4, raft_addr: raftProxyAddr(4), api_addr: apiAddr(4) }));
      assert.equal(again.status, 400, again.body);
      assert.match(JSON.parse(again.body).error, /node id 4 was removed from this cluster/);
    });
  });

  it('after every scenario, the members agree on the state hash at the same applied index', async () => {
    const c = await h.converged(MEMBERS);
    assert.ok(c.height > 0);
    writeFileSync(join(h.dir, 'converged.json'), JSON.stringify(c));
  });
});
