// Logs as an operator reads them: one access line per request (VALORI_ACCESS_LOG), one audit line
// per admin call, service/version/pid on every JSON line, a W3C traceparent's trace id, and never
// a token. The server runs in-process with its log stream captured line by line.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/log';
import { openValori } from '../src/valori';
import { request, vector, type RequestOptions } from './helpers';

const ROOT = 'root-token-logs-0123456789abcdef0123456789abcdef';
const VERSION = (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
// Longest a line may take to follow the response it describes before a test gives up.
const LINE_WAIT_MS = 10_000;

type Line = Record<string, unknown>;

/** The captured JSON lines, and a way to wait for one (no sleeps: woken by each new line). */
class Captured {
  readonly raw: string[] = [];
  private waiters: (() => void)[] = [];

  readonly stream = new Writable({
    write: (chunk: Buffer, _enc, done) => {
      this.raw.push(chunk.toString('utf8'));
      for (const wake of this.waiters.splice(0)) wake();
      done();
    },
  });

  get lines(): Line[] {
    return this.raw.flatMap((chunk) => chunk.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Line));
  }

  async waitFor(what: string, match: (l: Line) => boolean): Promise<Line> {
    const deadline = Date.now() + LINE_WAIT_MS;
    for (;;) {
      const found = this.lines.find(match);
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`no log line for ${what}; got:\n${this.raw.join('')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for the access line of `requestId` (written last for a request), then returns all its lines. */
  async linesOf(requestId: string): Promise<Line[]> {
    await this.waitFor(`the access line of ${requestId}`, (l) => l.message === 'access' && l.requestId === requestId);
    return this.lines.filter((l) => l.requestId === requestId);
  }
}

interface Server {
  base: string;
  logs: Captured;
  stop(): Promise<void>;
}

async function start(env: Record<string, string>): Promise<Server> {
  const logs = new Captured();
  const config = loadConfig({ VALORI_DIM: '4', ...env });
  const logger = createLogger({ level: 'debug', format: 'json', stream: logs.stream });
  const valori = await openValori({ ...config, bind: { host: '127.0.0.1', port: 0 } }, { logger });
  try {
    const address = await valori.start();
    return { base: `http://127.0.0.1:${address.port}`, logs, stop: () => valori.stop() };
  } catch (err) {
    await valori.stop();
    throw err;
  }
}

describe('access and audit lines, with auth on', () => {
  let dir: string;
  let s: Server;
  let n = 0;
  /** A request with its own X-Request-Id, so its lines can be told apart. */
  const call = async (path: string, opts: RequestOptions = {}) => {
    const id = `logs-test-${++n}`;
    const reply = await request(s.base, path, { token: ROOT, ...opts, headers: { 'x-request-id': id, ...opts.headers } });
    return { id, reply };
  };
  /** The one audit line of a request (asserting there is exactly one). */
  const auditOf = async (id: string): Promise<Line> => {
    const audits = (await s.logs.linesOf(id)).filter((l) => l.audit === true);
    assert.equal(audits.length, 1, `audit lines of ${id}: ${JSON.stringify(audits)}`);
    return audits[0];
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'valori-logs-'));
    s = await start({
      VALORI_AUTH_TOKEN: ROOT,
      VALORI_API_KEYS_FILE: join(dir, 'keys.json'),
      VALORI_EVENT_LOG_PATH: join(dir, 'events.log'),
      VALORI_SNAPSHOT_PATH: join(dir, 'state.snap'),
    });
  });
  after(async () => {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when any line is written, then it is JSON with service, version and pid', async () => {
    await call('/health');
    const lines = s.logs.lines;
    assert.ok(lines.length > 0);
    for (const l of lines) {
      assert.equal(l.service, 'valori-node');
      assert.equal(l.version, VERSION);
      assert.equal(l.pid, process.pid);
    }
  });

  it('when an ordinary request is served, then one access line names its id, method, route template, status, ms and bytes', async () => {
    const { id, reply } = await call('/records', { body: { values: vector(4, 1) } });
    assert.equal(reply.status, 200, reply.text);
    const mine = await s.logs.linesOf(id);
    assert.equal(mine.length, 1, JSON.stringify(mine));
    const [line] = mine;
    assert.equal(line.level, 'info');
    assert.equal(line.method, 'POST');
    assert.equal(line.route, '/records');
    assert.equal(line.status, 200);
    assert.equal(line.bytes, Buffer.byteLength(reply.text));
    assert.equal(typeof line.ms, 'number');
    assert.ok((line.ms as number) >= 0);
    assert.equal('code' in line, false);
    assert.equal('traceId' in line, false);
  });

  it('when a route has an id in its path, then the line names the template, not the id', async () => {
    const { id, reply } = await call('/v1/keys/k_00000000deadbeef', { method: 'DELETE' });
    assert.equal(reply.status, 404, reply.text);
    const access = (await s.logs.linesOf(id)).find((l) => l.message === 'access');
    assert.equal(access?.route, '/v1/keys/:id');
    assert.equal(access?.status, 404);
    assert.equal(access?.code, 'NOT_FOUND');
    assert.equal(JSON.stringify(access).includes('deadbeef'), false);
  });

  it('when a request fails before routing, then its access line carries the status and code', async () => {
    const { id, reply } = await call('/v1/namespaces', { token: 'not-the-token-0123456789abcdef012345' });
    assert.equal(reply.status, 401);
    const [line] = await s.logs.linesOf(id);
    assert.equal(line.route, 'unmatched');
    assert.equal(line.status, 401);
    assert.equal(line.code, 'UNAUTHORIZED');
  });

  it('when a valid traceparent comes, then its trace id is on the access line; an invalid one is ignored', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const valid = await call('/v1/namespaces', { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    const [line] = await s.logs.linesOf(valid.id);
    assert.equal(line.traceId, traceId);
    assert.equal(line.requestId, valid.id);
    assert.equal(valid.reply.headers.get('x-request-id'), valid.id);

    for (const bad of [
      `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, // all-zero trace id
      `00-${traceId}-${'0'.repeat(16)}-01`, // all-zero parent id
      `ff-${traceId}-00f067aa0ba902b7-01`, // forbidden version
      `00-${traceId.toUpperCase()}-00f067aa0ba902b7-01`, // uppercase
      `00-${traceId}-00f067aa0ba902b7-01-extra`, // version 00 has exactly four fields
      'garbage',
    ]) {
      const r = await call('/v1/namespaces', { headers: { traceparent: bad } });
      const [l] = await s.logs.linesOf(r.id);
      assert.equal(r.reply.status, 200);
      assert.equal('traceId' in l, false, bad);
    }
    // A later version may append fields.
    const future = await call('/v1/namespaces', { headers: { traceparent: `01-${traceId}-00f067aa0ba902b7-01-more` } });
    assert.equal((await s.logs.linesOf(future.id))[0].traceId, traceId);
  });

  it('when every admin route is called, then each leaves exactly one audit line with its action and result', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const created = await call('/v1/namespaces', { body: { name: 'audited', dimension: 3 }, headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` } });
    assert.equal(created.reply.status, 200, created.reply.text);
    const createLine = await auditOf(created.id);
    assert.equal(createLine.action, 'collection.create');
    assert.equal(createLine.outcome, 'ok');
    assert.equal(createLine.collection, 'audited');
    assert.equal(createLine.principal, 'VALORI_AUTH_TOKEN');
    assert.equal(createLine.traceId, traceId);
    assert.equal(createLine.level, 'info');

    const built = await call('/v1/index/build', { body: { collection: 'audited' } });
    assert.equal(built.reply.status, 200, built.reply.text);
    const buildLine = await auditOf(built.id);
    assert.equal(buildLine.action, 'index.build');
    assert.equal(buildLine.collection, 'audited');

    const saved = await call('/v1/snapshot/save', { body: {} });
    assert.equal(saved.reply.status, 200, saved.reply.text);
    const proof = await request(s.base, '/v1/proof/state', { token: ROOT });
    const saveLine = await auditOf(saved.id);
    assert.equal(saveLine.action, 'snapshot.save');
    assert.equal(saveLine.height, saved.reply.json.height);
    assert.equal(saveLine.stateHash, proof.json.final_state_hash);

    const named = await call('/v1/snapshot/save', { body: { path: 'before-drop' } });
    assert.equal(named.reply.status, 200, named.reply.text);
    assert.equal((await auditOf(named.id)).name, 'before-drop');

    const trimmed = await call('/v1/event-log/trim', { method: 'POST' });
    assert.equal(trimmed.reply.status, 200, trimmed.reply.text);
    const trimLine = await auditOf(trimmed.id);
    assert.equal(trimLine.action, 'event_log.trim');
    assert.equal(trimLine.baseSeq, trimmed.reply.json.base_seq);

    const dropped = await call('/v1/namespaces/audited', { method: 'DELETE' });
    assert.equal(dropped.reply.status, 200, dropped.reply.text);
    assert.equal((await auditOf(dropped.id)).action, 'collection.drop');

    const restored = await call('/v1/snapshot/restore', { body: { path: 'before-drop' } });
    assert.equal(restored.reply.status, 200, restored.reply.text);
    const afterRestore = await request(s.base, '/v1/proof/state', { token: ROOT });
    const restoreLine = await auditOf(restored.id);
    assert.equal(restoreLine.action, 'snapshot.restore');
    assert.equal(restoreLine.source, 'named');
    assert.equal(restoreLine.name, 'before-drop');
    assert.equal(restoreLine.height, restored.reply.json.height);
    assert.equal(restoreLine.stateHash, afterRestore.json.final_state_hash);

    const bytes = await fetch(`${s.base}/v1/snapshot/download`, { headers: { authorization: `Bearer ${ROOT}` } }).then(async (r) => Buffer.from(await r.arrayBuffer()));
    const uploadId = 'logs-test-upload';
    const upload = await fetch(`${s.base}/v1/snapshot/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ROOT}`, 'content-type': 'application/octet-stream', 'x-request-id': uploadId },
      body: bytes,
    });
    const uploaded = (await upload.json()) as { height: number };
    assert.equal(upload.status, 200);
    const uploadLine = await auditOf(uploadId);
    assert.equal(uploadLine.action, 'snapshot.upload');
    assert.equal(uploadLine.source, 'upload');
    assert.equal(uploadLine.bytes, bytes.length);
    assert.equal(uploadLine.height, uploaded.height);
    assert.equal(uploadLine.stateHash, (await request(s.base, '/v1/proof/state', { token: ROOT })).json.final_state_hash);

    const key = await call('/v1/keys', { body: { scope: 'read', name: 'auditor' } });
    assert.equal(key.reply.status, 200, key.reply.text);
    const keyLine = await auditOf(key.id);
    assert.equal(keyLine.action, 'key.create');
    assert.equal(keyLine.key, key.reply.json.id);
    assert.equal(keyLine.scope, 'read');

    const revoked = await call(`/v1/keys/${key.reply.json.id as string}`, { method: 'DELETE' });
    assert.equal(revoked.reply.status, 200, revoked.reply.text);
    assert.equal((await auditOf(revoked.id)).action, 'key.revoke');

    // Neither token ever reached the log, in any line.
    const all = s.logs.raw.join('');
    assert.equal(all.includes(ROOT), false);
    assert.equal(all.includes(key.reply.json.token as string), false);
  });

  it('when an admin call fails in its handler, then its one audit line says failed with the code; refused before it, none', async () => {
    const missing = await call('/v1/snapshot/restore', { body: { path: 'no-such-snapshot' } });
    assert.ok(missing.reply.status >= 400, missing.reply.text);
    const line = await auditOf(missing.id);
    assert.equal(line.action, 'snapshot.restore');
    assert.equal(line.outcome, 'failed');
    assert.equal(line.code, missing.reply.json.code);
    assert.equal(line.message, 'snapshot.restore failed');

    const unauthenticated = await call('/v1/snapshot/save', { body: {}, token: 'wrong-token-0123456789abcdef0123456789ab' });
    assert.equal(unauthenticated.reply.status, 401);
    const lines = await s.logs.linesOf(unauthenticated.id);
    assert.deepEqual(lines.map((l) => l.message), ['access']);
    assert.equal(s.logs.raw.join('').includes('wrong-token-0123456789abcdef0123456789ab'), false);
  });
});

describe('VALORI_ACCESS_LOG=off', () => {
  let s: Server;
  before(async () => {
    s = await start({ VALORI_ACCESS_LOG: 'off' });
  });
  after(async () => {
    await s.stop();
  });

  it('when requests are served, then no access line is written, and admin calls are still audited', async () => {
    assert.equal((await request(s.base, '/records', { body: { values: vector(4, 2) } })).status, 200);
    assert.equal((await request(s.base, '/v1/nope')).status, 404);
    // The audit line of the last call comes after every earlier request has ended.
    const built = await request(s.base, '/v1/index/build', { method: 'POST', headers: { 'x-request-id': 'off-build' } });
    assert.equal(built.status, 200, built.text);
    await s.logs.waitFor('the index build audit line', (l) => l.audit === true && l.requestId === 'off-build');
    assert.deepEqual(s.logs.lines.filter((l) => l.message === 'access'), []);
  });
});
