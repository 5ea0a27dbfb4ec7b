// The linearizability checker (__test__/lincheck: Porcupine with our kv and insert models) and the
// history recorder the cluster workloads use. Every expected verdict comes from how the history was
// built: hand-written intervals, or a simulated register whose linearization points are chosen.
// Needs Go (the checker is built once for this file); without it the suite skips, unless
// VALORI_REQUIRE_GO=1, as in CI.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkHistory, findGo, History, lincheckBinary, runLincheck, type HistoryLine, type LincheckModel, type Out } from './lincheck/history';

const GO = findGo();
const REQUIRED = process.env.VALORI_REQUIRE_GO === '1';
const SKIP_GO = GO !== undefined || REQUIRED ? false : 'go not found on PATH or at /usr/local/go/bin/go, and VALORI_REQUIRE_GO unset: install Go to run the checker tests';

const dir = mkdtempSync(join(tmpdir(), 'valori-lincheck-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;

function writeHistory(lines: (HistoryLine | string)[]): string {
  const path = join(dir, `h${++fileNo}.jsonl`);
  writeFileSync(path, lines.map((l) => `${typeof l === 'string' ? l : JSON.stringify(l)}\n`).join(''));
  return path;
}

async function verdictOf(model: LincheckModel, lines: (HistoryLine | string)[], timeoutS = 20) {
  return checkHistory(writeHistory(lines), model, { timeoutS });
}

// ---- history lines with explicit times (ns)

function done(client: number, op: HistoryLine['op'], key: string, value: string | null, call: number, ret: number, out: Out): HistoryLine {
  return { client, op, key, value, call, ret, status: 'ok', out };
}
function pending(client: number, op: HistoryLine['op'], key: string, value: string | null, call: number): HistoryLine {
  return { client, op, key, value, call, ret: null, status: 'unknown', out: null };
}
const put = (c: number, key: string, value: string, call: number, ret: number) => done(c, 'put', key, value, call, ret, null);
const get = (c: number, key: string, call: number, ret: number, out: string | null) => done(c, 'get', key, null, call, ret, out);
const putUnknown = (c: number, key: string, value: string, call: number) => pending(c, 'put', key, value, call);
const insert = (c: number, key: string, call: number, ret: number, id: number | null) => done(c, 'insert', key, null, call, ret, id);
const insertUnknown = (c: number, key: string, call: number) => pending(c, 'insert', key, null, call);
const find = (c: number, key: string, call: number, ret: number, id: number | null) => done(c, 'find', key, null, call, ret, id);

// ---- a register simulated at chosen linearization points: linearizable by construction

function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % n);
  };
}

interface SimOp {
  line: HistoryLine;
  /** When it took effect; undefined for an unknown put that never did, and for unknown gets. */
  at?: number;
}

/**
 * `clients` clients each run operations back to back with random gaps and durations, so their
 * intervals overlap. Each operation takes effect at a point chosen inside its interval (an
 * unknown put: at some point after its call, possibly after its client gave up, or never), and a
 * get answers the key's value at its point. That order of points is a linearization.
 */
function simulatedRegister(seed: number, opsPerClient: number, clients: number, keys: string[]): HistoryLine[] {
  const r = rng(seed);
  const ops: SimOp[] = [];
  let nextValue = 0;
  for (let c = 0; c < clients; c++) {
    let t = r(50);
    for (let i = 0; i < opsPerClient; i++) {
      const call = t + 1 + r(40);
      const ret = call + 2 + r(300);
      t = ret;
      const key = keys[r(keys.length)];
      const isPut = r(100) < 40;
      const unknown = r(100) < 6;
      const inside = call + 1 + r(ret - call - 1);
      if (isPut) {
        const value = `v${seed}-${nextValue++}`;
        if (unknown) ops.push({ line: putUnknown(c, key, value, call), at: r(3) === 0 ? undefined : call + 1 + r(3000) });
        else ops.push({ line: put(c, key, value, call, ret), at: inside });
      } else if (unknown) {
        ops.push({ line: pending(c, 'get', key, null, call) });
      } else {
        ops.push({ line: get(c, key, call, ret, null), at: inside });
      }
    }
  }
  const register = new Map<string, string>();
  for (const op of ops.filter((o) => o.at !== undefined).sort((a, b) => a.at! - b.at!)) {
    if (op.line.op === 'put') register.set(op.line.key, op.line.value!);
    else op.line.out = register.get(op.line.key) ?? null;
  }
  return ops.map((o) => o.line).sort((a, b) => a.call - b.call);
}

/**
 * Makes one acknowledged get impossible: it now answers the value of an acknowledged put P1 that
 * ended before another acknowledged put P2 of the same key began, P2 having ended before the get
 * began. Values are unique, so the get would have to come after P2 and read what only P1 wrote.
 */
function corruptOneRead(lines: HistoryLine[], seed: number): { lines: HistoryLine[]; key: string } {
  const r = rng(seed ^ 0x5eed);
  const acked = (l: HistoryLine) => l.status === 'ok';
  const candidates: { read: number; value: string }[] = [];
  lines.forEach((read, i) => {
    if (read.op !== 'get' || !acked(read)) return;
    const puts = lines.filter((p) => p.op === 'put' && acked(p) && p.key === read.key);
    for (const p2 of puts) {
      if (p2.ret! >= read.call) continue;
      const p1 = puts.find((p) => p.ret! < p2.call);
      if (p1) {
        candidates.push({ read: i, value: p1.value! });
        return;
      }
    }
  });
  assert.ok(candidates.length > 0, 'the simulated history has a read to corrupt');
  const pick = candidates[r(candidates.length)];
  const copy = lines.map((l) => ({ ...l }));
  copy[pick.read].out = pick.value;
  return { lines: copy, key: copy[pick.read].key };
}

// ---- the recorder (no Go needed)

describe('History (the recorder)', () => {
  it('when operations are settled ok, unknown, failed or left open, then the lines keep ok and unknown ones, drop failed ones and write open ones as unknown', () => {
    const h = new History();
    const a = h.begin(0, 'put', 'k1', 'v1');
    const b = h.begin(1, 'get', 'k1');
    a.ok();
    b.ok('v1');
    h.begin(2, 'put', 'k2', 'v2').unknown();
    h.begin(3, 'get', 'k2').fail();
    h.begin(4, 'insert', 'x'); // still open
    const c = h.begin(5, 'find', 'x');
    c.ok(17);
    const lines = h.lines();
    assert.deepEqual(
      lines.map(({ call: _c, ret: _r, ...rest }) => rest),
      [
        { client: 0, op: 'put', key: 'k1', value: 'v1', status: 'ok', out: null },
        { client: 1, op: 'get', key: 'k1', value: null, status: 'ok', out: 'v1' },
        { client: 2, op: 'put', key: 'k2', value: 'v2', status: 'unknown', out: null },
        { client: 4, op: 'insert', key: 'x', value: null, status: 'unknown', out: null },
        { client: 5, op: 'find', key: 'x', value: null, status: 'ok', out: 17 },
      ],
    );
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i];
      assert.ok(Number.isSafeInteger(l.call) && l.call >= 0, `call is a time: ${l.call}`);
      if (i > 0) assert.ok(l.call >= lines[i - 1].call, 'calls are in begin order on one clock');
      if (l.status === 'ok') assert.ok(l.ret !== null && l.ret >= l.call, 'ret is not before call');
      else assert.equal(l.ret, null);
    }
    // b returned after a: a.ok() ran first, and both after both began.
    assert.ok(lines[0].ret! <= lines[1].ret!);
    assert.ok(lines[0].ret! >= lines[1].call);
    assert.equal(h.toJsonl(), lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
    const path = join(dir, 'recorded.jsonl');
    h.writeTo(path);
    assert.equal(readFileSync(path, 'utf8'), h.toJsonl());
  });

  it('when an operation is settled twice or begun with the wrong arguments, then it throws', () => {
    const h = new History();
    const a = h.begin(0, 'get', 'k');
    a.ok(null);
    assert.throws(() => a.unknown(), /already settled/);
    assert.throws(() => a.ok('x'), /already settled/);
    assert.throws(() => h.begin(0, 'put', 'k'), /put needs a string value/);
    assert.throws(() => h.begin(0, 'get', 'k', 'v'), /get takes no value/);
    assert.throws(() => h.begin(-1, 'get', 'k'), /client/);
    assert.throws(() => h.begin(0, 'delete' as never, 'k'), /unknown op/);
    assert.throws(() => h.begin(0, 'find', 'k').ok(1.5), /out must be/);
    // The rejected answer settled nothing: that find is still open, so it is written as unknown.
    assert.deepEqual(
      h.lines().map((l) => [l.op, l.status, l.out]),
      [
        ['get', 'ok', null],
        ['find', 'unknown', null],
      ],
    );
    assert.equal(new History().toJsonl(), '', 'an empty history writes nothing');
  });
});

// ---- the checker

describe('lincheck (Porcupine with the kv and insert models)', { skip: SKIP_GO }, () => {
  it('when Go is required (VALORI_REQUIRE_GO=1) or found, then it is there and the checker builds', async () => {
    assert.ok(GO, 'VALORI_REQUIRE_GO=1 but go was not found on PATH or at /usr/local/go/bin/go (.ci/run puts it there)');
    await lincheckBinary(); // once for the file: every check below reuses this binary
  });

  describe('kv', () => {
    it('when puts and gets run one after another, then it is linearizable, and the summary counts operations and keys', async () => {
      const r = await verdictOf('kv', [
        get(0, 'k1', 0, 5, null),
        put(0, 'k1', 'v1', 10, 20),
        get(1, 'k1', 30, 40, 'v1'),
        put(1, 'k1', 'v2', 50, 60),
        get(0, 'k1', 70, 80, 'v2'),
        get(0, 'k2', 90, 95, null),
      ]);
      assert.equal(r.verdict, 'linearizable', r.output);
      assert.match(r.output, /^ok: linearizable \(6 operations, 2 partitions\)$/m);
    });

    it('when a get overlaps a put, then it may answer the old or the new value', async () => {
      for (const seen of ['v1', 'v2']) {
        const r = await verdictOf('kv', [put(0, 'k', 'v1', 0, 10), put(0, 'k', 'v2', 20, 60), get(1, 'k', 30, 50, seen)]);
        assert.equal(r.verdict, 'linearizable', `get → ${seen}: ${r.output}`);
      }
      // Both at once: one get before the put's point, one after it.
      const both = await verdictOf('kv', [put(0, 'k', 'v1', 0, 10), put(0, 'k', 'v2', 20, 60), get(1, 'k', 30, 50, 'v2'), get(2, 'k', 25, 55, 'v1')]);
      assert.equal(both.verdict, 'linearizable', both.output);
    });

    it('when a get answers the old value after a put of a new value returned, then it is not linearizable', async () => {
      const r = await verdictOf('kv', [put(0, 'k', 'v1', 0, 10), put(0, 'k', 'v2', 20, 30), get(1, 'k', 40, 50, 'v1')]);
      assert.equal(r.verdict, 'not-linearizable', r.output);
      assert.match(r.output, /not linearizable: key "k" \(partition 1 of 1, 3 operations/);
    });

    it('when two gets that do not overlap see a new value and then the old one again, then it is not linearizable', async () => {
      const r = await verdictOf('kv', [put(0, 'k', 'v1', 0, 10), put(0, 'k', 'v2', 20, 200), get(1, 'k', 30, 40, 'v2'), get(1, 'k', 50, 60, 'v1')]);
      assert.equal(r.verdict, 'not-linearizable', r.output);
    });

    it('when a get answers a value never written, or one written only after it returned, then it is not linearizable', async () => {
      const never = await verdictOf('kv', [put(0, 'k', 'v1', 0, 10), get(1, 'k', 20, 30, 'v9')]);
      assert.equal(never.verdict, 'not-linearizable', never.output);
      const future = await verdictOf('kv', [get(1, 'k', 0, 10, 'v1'), put(0, 'k', 'v1', 20, 30)]);
      assert.equal(future.verdict, 'not-linearizable', future.output);
      const unwritten = await verdictOf('kv', [get(1, 'k', 0, 10, 'v1')]);
      assert.equal(unwritten.verdict, 'not-linearizable', unwritten.output);
    });

    it('when a put has an unknown outcome, then a later get may see it or not, but once seen it cannot be unseen', async () => {
      const seen = await verdictOf('kv', [put(0, 'k', 'v1', 0, 10), putUnknown(0, 'k', 'v2', 20), get(1, 'k', 100, 110, 'v2'), get(1, 'k', 120, 130, 'v2')]);
      assert.equal(seen.verdict, 'linearizable', seen.output);
      const unseen = await verdictOf('kv', [put(0, 'k', 'v1', 0, 10), putUnknown(0, 'k', 'v2', 20), get(1, 'k', 100, 110, 'v1'), get(1, 'k', 120, 130, 'v1')]);
      assert.equal(unseen.verdict, 'linearizable', unseen.output);
      // A write that may have happened happened once: v2 then v1 again needs a second write of v1.
      const flicker = await verdictOf('kv', [put(0, 'k', 'v1', 0, 10), putUnknown(0, 'k', 'v2', 20), get(1, 'k', 100, 110, 'v2'), get(1, 'k', 120, 130, 'v1')]);
      assert.equal(flicker.verdict, 'not-linearizable', flicker.output);
      // An unknown put cannot take effect before it was called.
      const early = await verdictOf('kv', [get(1, 'k', 0, 10, 'v2'), putUnknown(0, 'k', 'v2', 20)]);
      assert.equal(early.verdict, 'not-linearizable', early.output);
    });

    it('when a get has an unknown outcome, then it constrains nothing', async () => {
      const r = await verdictOf('kv', [put(0, 'k', 'v1', 0, 10), pending(1, 'get', 'k', null, 20), get(1, 'k', 30, 40, 'v1')]);
      assert.equal(r.verdict, 'linearizable', r.output);
    });

    it('when two keys are checked and only one is broken, then it is not linearizable and names that key only', async () => {
      const r = await verdictOf('kv', [
        put(0, 'fine', 'a1', 0, 10),
        put(1, 'broken', 'b1', 0, 10),
        get(0, 'fine', 20, 30, 'a1'),
        put(1, 'broken', 'b2', 20, 30),
        get(0, 'broken', 40, 50, 'b1'),
        get(1, 'fine', 40, 50, 'a1'),
      ]);
      assert.equal(r.verdict, 'not-linearizable', r.output);
      assert.match(r.output, /not linearizable: key "broken" \(partition 1 of 2, 3 operations, lines 2, 4, 5\)/);
      assert.match(r.output, /1 of 2 keys broken: "broken"$/m);
      assert.doesNotMatch(r.output, /key "fine"/);
    });

    it('when -html is given and the history is not linearizable, then the visualization is written there', async () => {
      const html = join(dir, 'stale.html');
      const r = await checkHistory(writeHistory([put(0, 'k', 'v1', 0, 10), put(0, 'k', 'v2', 20, 30), get(1, 'k', 40, 50, 'v1')]), 'kv', { timeoutS: 20, html });
      assert.equal(r.verdict, 'not-linearizable', r.output);
      assert.match(r.output, /^visualization: .*stale\.html$/m);
      const page = readFileSync(html, 'utf8');
      assert.match(page, /^<!doctype html>/i);
      assert.ok(page.includes('get(\\"k\\") → \\"v1\\"'), 'the page describes the stale get');
    });
  });

  describe('insert', () => {
    it('when a find after an acknowledged insert answers null, then it is not linearizable', async () => {
      const r = await verdictOf('insert', [insert(0, 'x', 0, 10, 7), find(1, 'x', 20, 30, null)]);
      assert.equal(r.verdict, 'not-linearizable', r.output);
      assert.match(r.output, /key "x"/);
    });

    it('when a find overlaps the insert, then it may answer null or the id', async () => {
      const absent = await verdictOf('insert', [insert(0, 'x', 0, 50, 7), find(1, 'x', 10, 20, null), find(1, 'x', 60, 70, 7)]);
      assert.equal(absent.verdict, 'linearizable', absent.output);
      const present = await verdictOf('insert', [insert(0, 'x', 0, 50, 7), find(1, 'x', 10, 20, 7)]);
      assert.equal(present.verdict, 'linearizable', present.output);
    });

    it('when a find answers another id than the acknowledged insert, then it is not linearizable', async () => {
      const r = await verdictOf('insert', [insert(0, 'x', 0, 10, 7), find(1, 'x', 20, 30, 8)]);
      assert.equal(r.verdict, 'not-linearizable', r.output);
      // 7 and "7" are different ids.
      const typed = await verdictOf('insert', [insert(0, 'x', 0, 10, 7), done(1, 'find', 'x', null, 20, 30, '7')]);
      assert.equal(typed.verdict, 'not-linearizable', typed.output);
    });

    it('when an insert has an unknown outcome, then a later find may see it with any id, and every later find must agree', async () => {
      const found = await verdictOf('insert', [insertUnknown(0, 'x', 0), find(1, 'x', 100, 110, 7), find(2, 'x', 120, 130, 7)]);
      assert.equal(found.verdict, 'linearizable', found.output);
      const late = await verdictOf('insert', [insertUnknown(0, 'x', 0), find(1, 'x', 100, 110, null), find(1, 'x', 120, 130, 7)]);
      assert.equal(late.verdict, 'linearizable', late.output);
      const never = await verdictOf('insert', [insertUnknown(0, 'x', 0), find(1, 'x', 100, 110, null)]);
      assert.equal(never.verdict, 'linearizable', never.output);
      const twoIds = await verdictOf('insert', [insertUnknown(0, 'x', 0), find(1, 'x', 100, 110, 7), find(2, 'x', 120, 130, 8)]);
      assert.equal(twoIds.verdict, 'not-linearizable', twoIds.output);
      const vanished = await verdictOf('insert', [insertUnknown(0, 'x', 0), find(1, 'x', 100, 110, 7), find(2, 'x', 120, 130, null)]);
      assert.equal(vanished.verdict, 'not-linearizable', vanished.output);
    });

    it('when an acknowledged insert did not report its id, then the first find names it and later answers must agree', async () => {
      const agree = await verdictOf('insert', [insert(0, 'x', 0, 10, null), find(1, 'x', 20, 30, 7), find(1, 'x', 40, 50, 7)]);
      assert.equal(agree.verdict, 'linearizable', agree.output);
      const disagree = await verdictOf('insert', [insert(0, 'x', 0, 10, null), find(1, 'x', 20, 30, 7), find(1, 'x', 40, 50, 8)]);
      assert.equal(disagree.verdict, 'not-linearizable', disagree.output);
      const missing = await verdictOf('insert', [insert(0, 'x', 0, 10, null), find(1, 'x', 20, 30, null)]);
      assert.equal(missing.verdict, 'not-linearizable', missing.output);
    });

    it('when the same key is inserted again (a retry), then it must answer the id it already has', async () => {
      const retry = await verdictOf('insert', [insertUnknown(0, 'x', 0), insert(0, 'x', 100, 110, 7), find(1, 'x', 120, 130, 7)]);
      assert.equal(retry.verdict, 'linearizable', retry.output);
      const duplicate = await verdictOf('insert', [insert(0, 'x', 0, 10, 7), insert(0, 'x', 20, 30, 8)]);
      assert.equal(duplicate.verdict, 'not-linearizable', duplicate.output);
    });
  });

  describe('randomized register histories', () => {
    for (const seed of [1, 2, 3]) {
      it(`seed ${seed}: when a simulated register history is checked, then it is linearizable; when one read is made stale, then it is not, naming that key`, async () => {
        const lines = simulatedRegister(seed, 50, 6, ['r0', 'r1', 'r2']);
        assert.equal(lines.length, 300);
        assert.ok(lines.some((l) => l.status === 'unknown'), 'some outcomes are unknown');
        const good = await verdictOf('kv', lines);
        assert.equal(good.verdict, 'linearizable', good.output);
        assert.match(good.output, /\(300 operations, 3 partitions\)/);
        const { lines: bad, key } = corruptOneRead(lines, seed);
        const broken = await verdictOf('kv', bad);
        assert.equal(broken.verdict, 'not-linearizable', broken.output);
        assert.match(broken.output, new RegExp(`1 of 3 keys broken: "${key}"$`, 'm'));
      });
    }
  });

  describe('the recorder with the checker', () => {
    /** Lets other clients run between two steps of one operation. */
    const yieldTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

    it('when clients interleave on an atomic in-memory store, then the recorded history is linearizable', async () => {
      const h = new History();
      const store = new Map<string, string>();
      const run = async (c: number) => {
        for (let i = 0; i < 40; i++) {
          const key = `k${(c + i) % 3}`;
          const write = (c * 7 + i) % 3 === 0;
          const value = `v${c}-${i}`;
          const op = write ? h.begin(c, 'put', key, value) : h.begin(c, 'get', key);
          await yieldTurn();
          // The store applies the operation atomically here, between begin and the answer.
          const out = write ? (store.set(key, value), null) : (store.get(key) ?? null);
          await yieldTurn();
          // Some answers get lost on the way back: the client cannot tell what happened.
          if (i % 13 === 5) op.unknown();
          else op.ok(out);
        }
      };
      await Promise.all([0, 1, 2, 3].map(run));
      const path = join(dir, 'atomic.jsonl');
      h.writeTo(path);
      const r = await checkHistory(path, 'kv', { timeoutS: 20 });
      assert.equal(r.verdict, 'linearizable', r.output);
      assert.match(r.output, /\(160 operations, 3 partitions\)/);
    });

    it('when a store acknowledges a put it then loses, then the recorded history is not linearizable', async () => {
      const h = new History();
      const store = new Map<string, string>();
      const first = h.begin(0, 'put', 'k', 'v1');
      store.set('k', 'v1');
      first.ok();
      const lost = h.begin(0, 'put', 'k', 'v2');
      lost.ok(); // acknowledged, never applied
      const read = h.begin(1, 'get', 'k');
      read.ok(store.get('k') ?? null);
      const path = join(dir, 'lost.jsonl');
      h.writeTo(path);
      const r = await checkHistory(path, 'kv', { timeoutS: 20 });
      assert.equal(r.verdict, 'not-linearizable', r.output);
    });
  });

  describe('limits and bad input', () => {
    it('when the search cannot finish within -timeout, then the verdict is timeout (exit 2)', async () => {
      // 30 writes that may or may not have happened, in any order, and then a read of a value no
      // one wrote: proving that impossible means trying every subset and order of those writes.
      const lines: HistoryLine[] = [];
      for (let i = 0; i < 30; i++) lines.push(putUnknown(i, 'k', `w${i}`, i));
      lines.push(get(99, 'k', 1000, 1010, 'nobody'));
      const started = Date.now();
      const r = await verdictOf('kv', lines, 1);
      assert.equal(r.verdict, 'timeout', r.output);
      assert.match(r.output, /^unknown: the check did not finish within 1s \(31 operations, 1 partitions\)$/m);
      assert.ok(Date.now() - started < 15_000, 'it stops near the timeout');
    });

    const good = JSON.stringify(put(0, 'k', 'v1', 0, 10));
    const bad: { name: string; model: LincheckModel; lines: string[]; line: number; problem: RegExp }[] = [
      { name: 'a line that is not JSON', model: 'kv', lines: [good, '{"client":0,"op":"put"'], line: 2, problem: /not a JSON object/ },
      { name: 'two JSON values on a line', model: 'kv', lines: [`${good} {}`], line: 1, problem: /more than one JSON value/ },
      { name: 'a JSON array', model: 'kv', lines: [good, good, '[1,2]'], line: 3, problem: /not a JSON object/ },
      { name: 'a missing field', model: 'kv', lines: [good, good, '{"client":0,"op":"get","key":"k","ret":5,"status":"ok","out":null}'], line: 3, problem: /missing field "call"/ },
      { name: 'ret before call', model: 'kv', lines: [good, JSON.stringify(put(0, 'k', 'v2', 9, 5))], line: 2, problem: /ret \(5\) is before call \(9\)/ },
      { name: 'an unknown op', model: 'kv', lines: [JSON.stringify({ ...put(0, 'k', 'v', 0, 1), op: 'delete' })], line: 1, problem: /op "delete" is not an operation of the kv model/ },
      { name: "another model's op", model: 'kv', lines: [good, JSON.stringify(find(0, 'k', 20, 30, 1))], line: 2, problem: /op "find" is not an operation of the kv model/ },
      { name: 'an unknown status', model: 'kv', lines: [good, JSON.stringify({ ...get(0, 'k', 20, 30, 'v1'), status: 'failed' })], line: 2, problem: /"status" is "failed"/ },
      { name: 'a fractional time', model: 'kv', lines: [good, JSON.stringify(get(0, 'k', 20.5, 30, 'v1'))], line: 2, problem: /"call" must be an integer/ },
      { name: 'a misspelt field', model: 'kv', lines: [good, JSON.stringify({ ...get(0, 'k', 20, 30, 'v1'), vlaue: null })], line: 2, problem: /unknown field "vlaue"/ },
      { name: 'a put without a value', model: 'kv', lines: [JSON.stringify({ ...put(0, 'k', 'v', 0, 1), value: null })], line: 1, problem: /put needs a string field "value"/ },
      { name: 'a get answering a number', model: 'kv', lines: [good, JSON.stringify(get(0, 'k', 20, 30, 7 as never))], line: 2, problem: /"out" must be a string or null/ },
      { name: 'ok without a ret', model: 'insert', lines: [JSON.stringify({ ...insert(0, 'x', 0, 10, 1), ret: null })], line: 1, problem: /status is "ok" but "ret" is null/ },
      { name: 'an unknown outcome with an answer', model: 'insert', lines: [JSON.stringify({ ...insertUnknown(0, 'x', 0), out: 3 })], line: 1, problem: /"unknown" but "out" is not null/ },
    ];
    for (const c of bad) {
      it(`when the history has ${c.name}, then it exits 3 with one line naming line ${c.line}`, async () => {
        const r = await runLincheck(['-history', writeHistory(c.lines), '-model', c.model]);
        assert.equal(r.code, 3, r.output);
        const out = r.output.trimEnd().split('\n');
        assert.equal(out.length, 1, r.output);
        assert.match(out[0], new RegExp(`: line ${c.line}: `));
        assert.match(out[0], c.problem);
        await assert.rejects(checkHistory(writeHistory(c.lines), c.model), /exit 3/);
      });
    }

    it('when the arguments are wrong, then it exits 3 with a usage message', async () => {
      const path = writeHistory([good]);
      for (const args of [['-model', 'kv'], ['-history', path], ['-history', path, '-model', 'graph'], ['-history', path, '-model', 'kv', 'extra'], ['-history', join(dir, 'absent.jsonl'), '-model', 'kv']]) {
        const r = await runLincheck(args);
        assert.equal(r.code, 3, `${args.join(' ')}: ${r.output}`);
        assert.match(r.output, /lincheck: /);
      }
    });
  });
});
