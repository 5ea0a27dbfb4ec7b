// Hostile input to the snapshot routes (docs/security.md): named
// snapshots can never address the event log, the WAL or the main snapshot and their number is
// bounded; uploads, downloads and a follower's bootstrap download are bounded in size and in
// concurrency; the index build runs one at a time. One-at-a-time behaviour is made deterministic
// by holding the kernel call open (a test gate), never by timing.
import assert from 'node:assert/strict';
import { request as httpRequest, createServer, type Server } from 'node:http';
import { readdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../src/config';
import { Kernel } from '../src/kernel/kernel';
import { LeaderClient, LeaderError } from '../src/replication/leader-client';
import { isErrorEnvelope, request, startServer, vector, type TestServer } from './helpers';
import { assertBuilt, cleanup, DIM as REPL_DIM, startNode, tempDir, waitFor } from './replication-helpers';

const DIM = 4;
const TOKEN = 'hostile-snapshot-test-token-0123456789abcdef';
const MIB = 1_048_576;

/** A promise the test resolves when it wants the held call to finish. */
function gate<T>(): { promise: Promise<T>; open: (v: T) => void } {
  let open!: (v: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

/** POST raw bytes with node:http; resolves with the status and body once the answer arrives. */
function rawPost(base: string, path: string, headers: Record<string, string>, chunks: () => Buffer | null): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, ...headers } });
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (err) => (answered ? undefined : reject(err)));
    // Write until the body ends or the server answers; wait on backpressure, never spin.
    const pump = (): void => {
      for (;;) {
        if (answered) return;
        const c = chunks();
        if (c === null) return void req.end();
        if (!req.write(c)) return void req.once('drain', pump);
      }
    };
    pump();
  });
}

describe('snapshot routes under hostile input', () => {
  let s: TestServer;
  let dir: string;
  let kernel: Kernel;
  const auth = { token: TOKEN };

  before(async () => {
    dir = tempDir();
    const env = {
      VALORI_DIM: String(DIM),
      VALORI_AUTH_TOKEN: TOKEN,
      VALORI_EVENT_LOG_PATH: join(dir, 'events.log'),
      VALORI_SNAPSHOT_PATH: join(dir, 'snapshot.bin'),
      VALORI_MAX_NAMED_SNAPSHOTS: '2',
      VALORI_MAX_SNAPSHOT_BYTES: String(MIB),
    };
    kernel = await Kernel.open(loadConfig(env));
    s = await startServer(env, () => kernel);
    for (let i = 0; i < 3; i++) await request(s.base, '/records', { body: { values: vector(DIM, i) }, ...auth });
  });
  after(async () => {
    await s.stop();
    cleanup();
  });

  it('when a named save addresses the log, the main snapshot or a path, then 400 and no file is moved', async () => {
    for (const path of ['events.log', 'events.log.prev', 'events.log.snapshot', 'snapshot.bin', 'snapshot.bin.prev', 'snapshot.bin.tmp', '../x', 'a/b', '.hidden']) {
      const r = await request(s.base, '/v1/snapshot/save', { body: { path }, ...auth });
      assert.equal(r.status, 400, `${path}: ${r.text}`);
      assert.ok(isErrorEnvelope(r.json, 'INVALID_ARGUMENT'), r.text);
    }
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('broken')), []);
    const w = await request(s.base, '/records', { body: { values: vector(DIM, 50) }, ...auth });
    assert.equal(w.status, 200, 'writes are still acknowledged');
    assert.equal((await request(s.base, '/health', auth)).json.read_only, false);
  });

  it('when more names than VALORI_MAX_NAMED_SNAPSHOTS are saved, then 507 naming the limit, and an existing name can be overwritten', async () => {
    assert.equal((await request(s.base, '/v1/snapshot/save', { body: { path: 'one' }, ...auth })).status, 200);
    const two = await request(s.base, '/v1/snapshot/save', { body: { path: 'two.val1' }, ...auth });
    assert.deepEqual([two.status, two.json.path], [200, 'two.val1']);
    const three = await request(s.base, '/v1/snapshot/save', { body: { path: 'three' }, ...auth });
    assert.equal(three.status, 507, three.text);
    assert.ok(isErrorEnvelope(three.json, 'CAPACITY_EXCEEDED'), three.text);
    assert.match(three.json.error, /VALORI_MAX_NAMED_SNAPSHOTS/);
    assert.equal((await request(s.base, '/v1/snapshot/save', { body: { path: 'one' }, ...auth })).status, 200);
    assert.deepEqual(readdirSync(join(dir, 'snapshots')).sort(), ['one', 'two.val1']);
  });

  it('when an upload is not application/octet-stream or is compressed, then 415 and nothing changes', async () => {
    const before = (await request(s.base, '/v1/proof/state', auth)).json.final_state_hash;
    const refused: Record<string, string>[] = [{ 'content-type': 'text/plain' }, { 'content-type': 'application/json' }, { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip' }];
    for (const headers of refused) {
      const r = await rawPost(s.base, '/v1/snapshot/upload', headers, once(Buffer.from('VAL1')));
      assert.equal(r.status, 415, `${JSON.stringify(headers)}: ${r.body}`);
      assert.ok(isErrorEnvelope(JSON.parse(r.body), 'UNSUPPORTED_MEDIA_TYPE'), r.body);
    }
    assert.equal((await request(s.base, '/v1/proof/state', auth)).json.final_state_hash, before);
  });

  it('when an upload declares more than VALORI_MAX_SNAPSHOT_BYTES, then 413 before the body is read', async () => {
    const r = await rawPost(s.base, '/v1/snapshot/upload', { 'content-type': 'application/octet-stream', 'content-length': String(2 * MIB) }, () => null);
    assert.equal(r.status, 413, r.body);
    assert.match(JSON.parse(r.body).error, /VALORI_MAX_SNAPSHOT_BYTES/);
  });

  it('when a chunked upload grows past VALORI_MAX_SNAPSHOT_BYTES, then 413 and the server stops reading', async () => {
    let sent = 0;
    // Bounded: at most 64 MiB are ever offered; the server must answer long before.
    const r = await rawPost(s.base, '/v1/snapshot/upload', { 'content-type': 'application/octet-stream' }, () => {
      if (sent >= 64 * MIB) return null;
      sent += 65_536;
      return Buffer.alloc(65_536, 7);
    });
    assert.equal(r.status, 413, r.body);
    assert.ok(sent < 64 * MIB, `the server answered after ${sent} bytes`);
  });

  it('when an upload is running, then a second upload or named restore answers 429 until it is done', async () => {
    const snap = await kernel.snapshotBytes();
    const real = kernel.restoreSnapshot.bind(kernel);
    const held = gate<void>();
    let calls = 0;
    kernel.restoreSnapshot = async (bytes, bootstrap) => {
      calls++;
      await held.promise;
      return real(bytes, bootstrap);
    };
    try {
      const first = rawPost(s.base, '/v1/snapshot/upload', { 'content-type': 'application/octet-stream' }, once(snap));
      await waitFor('the first upload to reach the kernel', async () => (calls === 1 ? true : undefined), 10_000);
      const second = await rawPost(s.base, '/v1/snapshot/upload', { 'content-type': 'application/octet-stream' }, once(snap));
      assert.equal(second.status, 429, second.body);
      assert.ok(isErrorEnvelope(JSON.parse(second.body), 'OPERATION_IN_PROGRESS'), second.body);
      const restore = await request(s.base, '/v1/snapshot/restore', { body: { path: 'one' }, ...auth });
      assert.equal(restore.status, 429, restore.text);
      held.open();
      assert.equal((await first).status, 200);
      assert.equal(calls, 1, 'the refused calls never reached the kernel');
    } finally {
      kernel.restoreSnapshot = real;
    }
    const again = await request(s.base, '/v1/snapshot/restore', { body: { path: 'one' }, ...auth });
    assert.equal(again.status, 200, again.text);
  });

  it('when the index is being built, then a second build answers 429 and a later one succeeds', async () => {
    const real = kernel.buildIndex.bind(kernel);
    const held = gate<boolean>();
    let calls = 0;
    kernel.buildIndex = () => {
      calls++;
      return held.promise;
    };
    try {
      const first = request(s.base, '/v1/index/build', { method: 'POST', ...auth });
      await waitFor('the first build to reach the kernel', async () => (calls === 1 ? true : undefined), 10_000);
      const second = await request(s.base, '/v1/index/build', { method: 'POST', ...auth });
      assert.equal(second.status, 429, second.text);
      assert.ok(isErrorEnvelope(second.json, 'OPERATION_IN_PROGRESS'), second.text);
      held.open(false);
      assert.equal((await first).status, 200);
    } finally {
      kernel.buildIndex = real;
    }
    assert.equal((await request(s.base, '/v1/index/build', { method: 'POST', ...auth })).status, 200);
  });

  it('when two downloads are stalled by their clients, then a third answers 429, and aborting them frees the slots', async () => {
    const real = kernel.snapshotStream.bind(kernel);
    // Larger than any socket buffer, so an unread download blocks on backpressure.
    const piece = Buffer.alloc(MIB, 1);
    const big = { length: 64 * MIB };
    let builds = 0;
    let closed = 0;
    kernel.snapshotStream = async () => {
      builds++;
      let left = 64;
      return {
        length: big.length,
        height: 0,
        next: async () => (left-- > 0 ? piece : null),
        close: () => {
          closed++;
        },
      };
    };
    const stalled = [new AbortController(), new AbortController()];
    try {
      for (const c of stalled) {
        const res = await fetch(`${s.base}/v1/snapshot/download`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: c.signal });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('content-length'), String(big.length));
      }
      const third = await request(s.base, '/v1/snapshot/download', auth);
      assert.equal(third.status, 429, third.text.slice(0, 200));
      assert.ok(isErrorEnvelope(third.json, 'OPERATION_IN_PROGRESS'), third.text.slice(0, 200));
      const head = await fetch(`${s.base}/v1/snapshot/download`, { method: 'HEAD', headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(head.status, 200, 'HEAD builds no copy and needs no slot');
      assert.equal(builds, 2);
      for (const c of stalled) c.abort();
      // The handlers notice the closed sockets (drain OR close) and give their slots back.
      const ok = await waitFor('a download slot to be free again', async () => {
        const res = await fetch(`${s.base}/v1/snapshot/download`, { headers: { authorization: `Bearer ${TOKEN}` } });
        if (res.status === 200) return res;
        await res.body?.cancel();
        return undefined;
      }, 20_000);
      assert.equal((await ok.arrayBuffer()).byteLength, big.length);
      // Every stream, read to the end or abandoned by its client, is closed.
      await waitFor('every stream to be closed', async () => (closed === builds ? true : undefined), 10_000);
    } finally {
      kernel.snapshotStream = real;
    }
  });
});

/** A body of exactly one chunk. */
function once(buf: Buffer): () => Buffer | null {
  let done = false;
  return () => {
    if (done) return null;
    done = true;
    return buf;
  };
}

describe("a follower's bootstrap download from a hostile leader", () => {
  let server: Server;
  let base: string;
  let closed = 0;
  before(async () => {
    server = createServer((req, res) => {
      res.on('close', () => closed++);
      if (req.url?.startsWith('/declared')) {
        // Claims more than the cap: the client must not read it.
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(8 * MIB) });
        res.end(Buffer.alloc(8 * MIB));
        return;
      }
      // Streams without a length, up to 256 MiB, unless the client goes away first.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      let sent = 0;
      const chunk = Buffer.alloc(MIB, 2);
      const pump = (): void => {
        while (sent < 256 * MIB && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** A client whose snapshot path is rewritten to one of the fake leader's behaviours. */
  function client(behaviour: string): LeaderClient {
    return new LeaderClient(`${base}/${behaviour}?`, null);
  }

  it('when the leader declares a snapshot above the cap, then the download is refused without reading it', async () => {
    await assert.rejects(client('declared').snapshot(new AbortController().signal, MIB), (err: unknown) => {
      assert.ok(err instanceof LeaderError);
      assert.equal(err.code, 'SNAPSHOT_TOO_LARGE');
      assert.match(err.message, /VALORI_MAX_SNAPSHOT_BYTES/);
      return true;
    });
  });

  it('when the leader streams without end, then the download stops just above the cap and the connection is closed', async () => {
    const before = closed;
    await assert.rejects(client('endless').snapshot(new AbortController().signal, 2 * MIB), (err: unknown) => {
      assert.ok(err instanceof LeaderError);
      assert.equal(err.code, 'SNAPSHOT_TOO_LARGE');
      return true;
    });
    await waitFor('the leader to see the connection closed', async () => (closed > before ? true : undefined), 10_000);
  });
});

describe('the audit exploit against a real server process (named save over the log), then a restart', () => {
  after(cleanup);

  for (const mode of ['event log', 'WAL'] as const) {
    it(`when a ${mode} node is asked to save snapshots named like its own files, then every save is refused, writes go on and a restart keeps them`, async () => {
      assertBuilt();
      const dir = tempDir();
      const logName = mode === 'WAL' ? 'valori.wal' : 'events.log';
      const env = {
        ...(mode === 'WAL' ? { VALORI_WAL_PATH: join(dir, logName) } : { VALORI_EVENT_LOG_PATH: join(dir, logName) }),
        VALORI_SNAPSHOT_PATH: join(dir, 'snapshot.bin'),
      };
      const node = await startNode(env);
      const write = async (seed: number): Promise<void> => {
        const r = await request(node.base, '/records', { body: { values: vector(REPL_DIM, seed) } });
        assert.equal(r.status, 200, r.text);
      };
      await write(1);
      assert.equal((await request(node.base, '/v1/snapshot/save', { method: 'POST' })).status, 200);
      await write(2);
      for (const path of [logName, `${logName}.prev`, 'snapshot.bin', 'snapshot.bin.prev', 'snapshot.bin.tmp', `../${logName}`, 'package.json.x.y']) {
        const r = await request(node.base, '/v1/snapshot/save', { body: { path } });
        assert.equal(r.status, 400, `${path}: ${r.text}`);
      }
      await write(3);
      await write(4);
      const want = (await request(node.base, '/v1/proof/state')).json;
      assert.equal(want.height, 4);
      await node.stop();
      assert.deepEqual(readdirSync(dir).filter((f) => f.includes('broken')), [], 'nothing was moved aside');
      const again = await startNode(env);
      const got = (await request(again.base, '/v1/proof/state')).json;
      assert.deepEqual([got.height, got.final_state_hash], [4, want.final_state_hash]);
      const health = (await request(again.base, '/health')).json;
      assert.equal(health.read_only, false);
      const w = await request(again.base, '/records', { body: { values: vector(REPL_DIM, 5) } });
      assert.equal(w.status, 200, w.text);
      await again.stop();
    });
  }
});
