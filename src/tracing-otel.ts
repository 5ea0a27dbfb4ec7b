// The enabled side of src/tracing.ts: only loaded (by require) when trace export is configured,
// so none of these packages is read at all on a node without OTEL_EXPORTER_OTLP_ENDPOINT.
// Context travels in an AsyncLocalStorage context manager of our own (not registered globally):
// the request's span is the parent of validation and kernel spans through awaits and body events.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DiagLogLevel, ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, diag, trace, type Context, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describeExportError, type TraceBackend, type Traceparent } from './tracing';

const VERSION: string = (require('../package.json') as { version: string }).version;

type Env = Readonly<Record<string, string | undefined>>;

/** The OTLP/HTTP traces URL the standard variables name: the traces one as is, else base + /v1/traces. */
export function tracesUrl(env: Env): string {
  const traces = (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? '').trim();
  if (traces !== '') return traces;
  const base = (env.OTEL_EXPORTER_OTLP_ENDPOINT ?? '').trim();
  return `${base.replace(/\/+$/, '')}/v1/traces`;
}

/** Wall-clock milliseconds with sub-millisecond precision (span times are given explicitly). */
function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** The committer's durations on a write's result (the binding's WriteResult), if it has them. */
function timingOf(out: unknown): { queuedUs: number; applyUs: number; fsyncUs: number | null } | null {
  if (typeof out !== 'object' || out === null) return null;
  const { queuedUs, applyUs, fsyncUs } = out as { queuedUs?: unknown; applyUs?: unknown; fsyncUs?: unknown };
  if (typeof queuedUs !== 'number' || typeof applyUs !== 'number') return null;
  return { queuedUs, applyUs, fsyncUs: typeof fsyncUs === 'number' ? fsyncUs : null };
}

function failed(span: Span, err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') span.setAttribute('valori.error_code', code);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

export function createOtelBackend(env: Env, warn: (message: string) => void): TraceBackend {
  // The SDK reports a failed export through its diagnostic logger, silent by default: an
  // operator must see that spans are being dropped.
  const report = (message: string, ...args: unknown[]): void => warn(`traces: ${[message, ...args.map((a) => (typeof a === 'object' && a !== null ? describeExportError(a) : String(a)))].join(' ')}`);
  const quiet = (): void => undefined;
  diag.setLogger({ error: report, warn: report, info: quiet, debug: quiet, verbose: quiet }, DiagLogLevel.WARN);
  const resource = resourceFromAttributes({
    'service.name': (env.OTEL_SERVICE_NAME ?? '').trim() || 'valori-node',
    'service.version': VERSION,
    'process.pid': process.pid,
  }).merge(detectResources({ detectors: [envDetector] }));
  const provider = new BasicTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl(env) }))],
  });
  const tracer = provider.getTracer('valori-node', VERSION);
  const contexts = new AsyncLocalStorageContextManager().enable();

  /**
   * The group commit and its fsync as children of a write's kernel span, placed from the
   * committer's durations: the group starts `queued` after submission and lasts apply + fsync;
   * the fsync is its tail. Clamped inside the kernel span, so a child never outlasts its parent.
   */
  const commitSpans = (parent: Context, out: unknown, start: number, end: number): void => {
    const t = timingOf(out);
    if (t === null) return;
    const fsyncMs = (t.fsyncUs ?? 0) / 1000;
    const totalMs = t.applyUs / 1000 + fsyncMs;
    const commitEnd = Math.min(start + t.queuedUs / 1000 + totalMs, end);
    const commitStart = Math.max(commitEnd - totalMs, start);
    const commit = tracer.startSpan(
      'kernel.group_commit',
      { startTime: commitStart, attributes: { 'valori.queued_us': t.queuedUs, 'valori.apply_us': t.applyUs } },
      parent,
    );
    if (t.fsyncUs !== null) {
      commit.setAttribute('valori.fsync_us', t.fsyncUs);
      const fsync = tracer.startSpan('kernel.fsync', { startTime: Math.max(commitEnd - fsyncMs, commitStart) }, trace.setSpan(parent, commit));
      fsync.end(commitEnd);
    }
    commit.end(commitEnd);
  };

  return {
    request(req: IncomingMessage, res: ServerResponse, parent: Traceparent | undefined, route: () => string, next: () => void): void {
      const remote =
        parent === undefined
          ? ROOT_CONTEXT
          : trace.setSpanContext(ROOT_CONTEXT, {
              traceId: parent.traceId,
              spanId: parent.parentId,
              traceFlags: parent.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
              isRemote: true,
            });
      const method = req.method ?? 'GET';
      const span = tracer.startSpan(method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': method } }, remote);
      const ctx = trace.setSpan(remote, span);
      // Body chunks and 'end' arrive from the socket, outside this call: bind them to the span.
      contexts.bind(ctx, req);
      contexts.bind(ctx, res);
      res.once('close', () => {
        const pattern = route();
        span.updateName(`${method} ${pattern}`);
        span.setAttributes({ 'http.route': pattern, 'http.response.status_code': res.statusCode });
        if (!res.writableFinished) span.setAttribute('valori.aborted', true);
        if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      });
      contexts.with(ctx, next);
    },

    async task<T>(name: string, work: () => Promise<T>): Promise<T> {
      const parent = contexts.active();
      const start = nowMs();
      const span = tracer.startSpan(name, { startTime: start }, parent);
      const ctx = trace.setSpan(parent, span);
      try {
        const out = await contexts.with(ctx, work);
        const end = nowMs();
        commitSpans(ctx, out, start, end);
        span.end(end);
        return out;
      } catch (err) {
        failed(span, err);
        span.end();
        throw err;
      }
    },

    sync<T>(name: string, work: () => T): T {
      const parent = contexts.active();
      const span = tracer.startSpan(name, {}, parent);
      try {
        return contexts.with(trace.setSpan(parent, span), work);
      } catch (err) {
        failed(span, err);
        throw err;
      } finally {
        span.end();
      }
    },

    flush: () => provider.forceFlush(),
  };
}
