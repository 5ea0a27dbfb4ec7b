// OpenTelemetry traces against a fake OTLP/HTTP collector (a node:http server on 127.0.0.1 that
// keeps every JSON body posted to /v1/traces). Off (no endpoint, or OTEL_SDK_DISABLED) nothing is
// sent and no OpenTelemetry SDK module is even loaded; on, a durable insert and a search arrive as
// spans with the expected names, parent links and the caller's traceparent trace id, and the fsync
// span lies within its group commit. The "off" cases run first: once on, the SDK stays loaded.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tracingEnabled } from '../src/tracing';
import { request, startServer, vector, type TestServer } from './helpers';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
}

interface OtlpBody {
  resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
}

/** A fake collector: records each POST body (parsed JSON) and answers 200 {} (or `refuseWith`). */
class Collector {
  readonly bodies: OtlpBody[] = [];
  readonly paths: string[] = [];
  refuseWith: number | null = null;
  private readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.paths.push(`${req.method} ${req.url}`);
      this.bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpBody);
      if (this.refuseWith !== null) res.writeHead(this.refuseWith, { 'content-type': 'application/json' }).end('{"code":3,"message":"refused by the test"}');
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  get spans(): OtlpSpan[] {
    return this.bodies.flatMap((b) => b.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)));
  }
}

const OTEL_VARS = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_SDK_DISABLED', 'OTEL_TRACES_EXPORTER', 'OTEL_SERVICE_NAME'];
const saved = Object.fromEntries(OTEL_VARS.map((k) => [k, process.env[k]]));

function setEnv(vars: Record<string, string>): void {
  for (const k of OTEL_VARS) delete process.env[k];
  Object.assign(process.env, vars);
}

/** OpenTelemetry SDK modules (not the API, which prom-client loads on its own) in the require cache. */
function sdkModulesLoaded(): string[] {
  const sdk = /[\\/]@opentelemetry[\\/](sdk-trace|sdk-trace-base|exporter-trace-otlp-http|otlp-exporter-base|otlp-transformer|context-async-hooks|resources)[\\/]|[\\/]src[\\/]tracing-otel\.ts$/;
  return Object.keys(require.cache).filter((k) => sdk.test(k));
}

const TRACE_INSERT = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_INSERT = '00f067aa0ba902b7';
const TRACE_SEARCH = '0af7651916cd43dd8448eb211c80319c';
const PARENT_SEARCH = 'b7ad6b7169203331';

/** One insert (durable: the server has an event log) and one search, each with its traceparent. */
async function insertAndSearch(server: TestServer): Promise<void> {
  const ins = await request(server.base, '/v1/records', {
    body: { values: vector(4, 1) },
    headers: { traceparent: `00-${TRACE_INSERT}-${PARENT_INSERT}-01` },
  });
  assert.equal(ins.status, 200, ins.text);
  const s = await request(server.base, '/v1/search', {
    body: { query: vector(4, 1), k: 1 },
    headers: { traceparent: `00-${TRACE_SEARCH}-${PARENT_SEARCH}-01` },
  });
  assert.equal(s.status, 200, s.text);
}

const nanos = (s: OtlpSpan): bigint => BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano);

describe('OpenTelemetry traces', () => {
  const collector = new Collector();
  let endpoint = '';
  const dirs: string[] = [];
  const eventLog = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'valori-tracing-'));
    dirs.push(dir);
    return join(dir, 'events.log');
  };

  before(async () => {
    endpoint = await collector.start();
  });

  after(async () => {
    await collector.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('when OTEL_EXPORTER_OTLP_ENDPOINT is unset, then nothing is sent and no SDK module is loaded', async () => {
    setEnv({ OTEL_SERVICE_NAME: 'valori-tracing-test' });
    const server = await startServer({ VALORI_EVENT_LOG_PATH: eventLog() });
    try {
      await insertAndSearch(server);
    } finally {
      await server.stop();
    }
    assert.equal(tracingEnabled(), false);
    assert.deepEqual(sdkModulesLoaded(), []);
    assert.deepEqual(collector.paths, []);
  });

  it('when the endpoint is set but OTEL_SDK_DISABLED=true, then nothing is sent and nothing is loaded', async () => {
    setEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SDK_DISABLED: 'true' });
    const server = await startServer({ VALORI_EVENT_LOG_PATH: eventLog() });
    try {
      await insertAndSearch(server);
    } finally {
      await server.stop();
    }
    assert.equal(tracingEnabled(), false);
    assert.deepEqual(sdkModulesLoaded(), []);
    assert.deepEqual(collector.paths, []);
  });

  it('when the endpoint is set, then a durable insert and a search arrive as linked spans of the callers\' traces', async () => {
    setEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: 'valori-tracing-test' });
    const server = await startServer({ VALORI_EVENT_LOG_PATH: eventLog() });
    try {
      await insertAndSearch(server);
    } finally {
      // stop() flushes the spans: once it resolves, the collector has answered the export.
      await server.stop();
    }
    assert.equal(tracingEnabled(), true);
    assert.ok(collector.paths.length > 0 && collector.paths.every((p) => p === 'POST /v1/traces'), collector.paths.join(', '));
    const service = collector.bodies[0].resourceSpans[0].resource.attributes.find((a) => a.key === 'service.name');
    assert.equal(service?.value.stringValue, 'valori-tracing-test');

    const spans = collector.spans;
    const one = (traceId: string, name: string): OtlpSpan => {
      const found = spans.filter((s) => s.traceId === traceId && s.name === name);
      assert.equal(found.length, 1, `one "${name}" span in trace ${traceId}; got ${JSON.stringify(spans.map((s) => [s.traceId, s.name]))}`);
      return found[0];
    };

    // The insert: HTTP (child of the caller's span) -> validate, kernel.write -> group commit -> fsync.
    const http = one(TRACE_INSERT, 'POST /v1/records');
    assert.equal(http.parentSpanId, PARENT_INSERT);
    assert.equal(one(TRACE_INSERT, 'validate').parentSpanId, http.spanId);
    const write = one(TRACE_INSERT, 'kernel.write');
    assert.equal(write.parentSpanId, http.spanId);
    const commit = one(TRACE_INSERT, 'kernel.group_commit');
    assert.equal(commit.parentSpanId, write.spanId);
    const fsync = one(TRACE_INSERT, 'kernel.fsync');
    assert.equal(fsync.parentSpanId, commit.spanId);
    assert.ok(nanos(fsync) <= nanos(commit), `fsync ${nanos(fsync)} ns within its group commit ${nanos(commit)} ns`);
    assert.ok(nanos(commit) <= nanos(write), `group commit ${nanos(commit)} ns within its kernel task ${nanos(write)} ns`);
    assert.ok(BigInt(fsync.startTimeUnixNano) >= BigInt(commit.startTimeUnixNano) && BigInt(fsync.endTimeUnixNano) <= BigInt(commit.endTimeUnixNano));

    // The search: HTTP -> validate, kernel.search; nothing is committed.
    const searchHttp = one(TRACE_SEARCH, 'POST /v1/search');
    assert.equal(searchHttp.parentSpanId, PARENT_SEARCH);
    assert.equal(one(TRACE_SEARCH, 'validate').parentSpanId, searchHttp.spanId);
    assert.equal(one(TRACE_SEARCH, 'kernel.search').parentSpanId, searchHttp.spanId);
    assert.equal(spans.filter((s) => s.traceId === TRACE_SEARCH && s.name.startsWith('kernel.group_commit')).length, 0);
  });

  it('when the node has no event log, then a write has its group commit but no fsync span', async () => {
    setEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint });
    const before = collector.spans.length;
    const server = await startServer();
    const traceId = '5e0c63257de34c92bf9efcd03927272e';
    try {
      const r = await request(server.base, '/v1/records', { body: { values: vector(4, 2) }, headers: { traceparent: `00-${traceId}-a2fb4a1d1a96d312-01` } });
      assert.equal(r.status, 200, r.text);
    } finally {
      await server.stop();
    }
    const names = collector.spans.slice(before).filter((s) => s.traceId === traceId).map((s) => s.name).sort();
    assert.deepEqual(names, ['POST /v1/records', 'kernel.group_commit', 'kernel.write', 'validate']);
  });

  it('when the collector refuses the export, then the node logs a traces warning with the HTTP status', async () => {
    setEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint });
    collector.refuseWith = 400;
    const exportsBefore = collector.paths.length;
    const server = await startServer();
    try {
      assert.equal((await request(server.base, '/health')).status, 200);
    } finally {
      await server.stop();
      collector.refuseWith = null;
    }
    assert.ok(collector.paths.length > exportsBefore, 'an export was attempted');
    const warnings = server.logs.flatMap((chunk) => chunk.split('\n')).filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { level: string; message: string });
    assert.ok(
      warnings.some((l) => l.level === 'warn' && l.message.startsWith('traces: ') && l.message.includes('HTTP 400')),
      `a "traces:" warning; got ${JSON.stringify(warnings.map((l) => l.message))}`,
    );
  });
});
