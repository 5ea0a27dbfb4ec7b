// Optional OpenTelemetry traces. Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or the traces-only
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set: then the OpenTelemetry SDK is loaded (lazily, from
// ./tracing-otel) and spans go to that OTLP/HTTP endpoint. Off, nothing of OpenTelemetry is loaded
// and the hooks below are one null check each: no span, context or closure is created per request.
//
// Spans: the HTTP request (server span, continuing an incoming W3C traceparent) -> `validate`
// (request schema check) and `kernel.search` / `kernel.write` -> for writes `kernel.group_commit`
// -> `kernel.fsync`. The last two are drawn from durations the kernel's committer measured
// (queued, apply, log append + fdatasync), so the fsync share of a write's latency is visible.
//
// The SDK itself reads the standard OTEL_* variables (headers, timeout, sampler, batch delays);
// the service name is OTEL_SERVICE_NAME, default valori-node.
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The parent a request names in its W3C traceparent header. */
export interface Traceparent {
  traceId: string;
  parentId: string;
  /** The sampled flag (bit 0 of trace-flags). */
  sampled: boolean;
}

/** What the enabled implementation (tracing-otel.ts) provides. */
export interface TraceBackend {
  /**
   * Starts the server span of one request and runs `next` inside its context (the request's
   * events too, so body parsing keeps it). The span ends when the response closes, named after
   * `route()` then (the route pattern is known only once routing ran).
   */
  request(req: IncomingMessage, res: ServerResponse, parent: Traceparent | undefined, route: () => string, next: () => void): void;
  /** A span around one kernel task; a write's result with committer timings adds its commit spans. */
  task<T>(name: string, work: () => Promise<T>): Promise<T>;
  /** A span around synchronous work (validation). */
  sync<T>(name: string, work: () => T): T;
  /** Sends the spans ended so far. */
  flush(): Promise<void>;
}

let backend: TraceBackend | null = null;
let warnTo: (message: string) => void = () => undefined;

type Env = Readonly<Record<string, string | undefined>>;

/** Whether the environment asks for trace export (the standard OTel variables). */
export function tracingRequested(env: Env = process.env): boolean {
  const endpoint = (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT ?? '').trim();
  if (endpoint === '') return false;
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  // OTEL_TRACES_EXPORTER names exporters; only "none" (turning export off) changes anything here.
  if ((env.OTEL_TRACES_EXPORTER ?? '').trim().toLowerCase() === 'none') return false;
  return true;
}

/**
 * Starts trace export when the environment asks for it; once per process (later calls return the
 * same answer). `warn` receives the SDK's own errors and warnings (a refused or failed export).
 * Returns whether traces are on.
 */
export function startTracing(env: Env = process.env, warn: (message: string) => void = () => undefined): boolean {
  if (backend === null && !tracingRequested(env)) return false;
  // The process has one exporter; its messages go to the logger of the server started last.
  warnTo = warn;
  if (backend !== null) return true;
  // Required here, not imported: with tracing off the SDK must not even be loaded.
  const { createOtelBackend } = require('./tracing-otel') as typeof import('./tracing-otel');
  backend = createOtelBackend(env, (message) => warnTo(message));
  return true;
}

/** Whether traces are being exported. */
export function tracingEnabled(): boolean {
  return backend !== null;
}

/** What an export failure says: the SDK's errors carry the HTTP status as `code`, and may lack a message. */
export function describeExportError(err: unknown): string {
  // The provider's flush rejects with the list of its processors' errors.
  if (Array.isArray(err)) return err.map(describeExportError).join('; ');
  if (typeof err !== 'object' || err === null) return String(err);
  const { name, message, code } = err as { name?: unknown; message?: unknown; code?: unknown };
  const status = typeof code === 'number' ? ` (HTTP ${code})` : '';
  const text = typeof message === 'string' && message !== '' ? `: ${message}` : '';
  return `${typeof name === 'string' ? name : 'Error'}${status}${text}`;
}

/** Sends the spans ended so far (at server stop); a failure is reported as a warning, never thrown. */
export async function flushTracing(): Promise<void> {
  if (backend === null) return;
  try {
    await backend.flush();
  } catch (err) {
    warnTo(`traces: the final export failed: ${describeExportError(err)}`);
  }
}

/** Runs `next` inside the request's span when tracing is on; else just calls it. */
export function traceRequest(req: IncomingMessage, res: ServerResponse, parent: Traceparent | undefined, route: () => string, next: () => void): void {
  if (backend === null) next();
  else backend.request(req, res, parent, route, next);
}

/** `work()` inside a `name` span when tracing is on. */
export function traceTask<T>(name: string, work: () => Promise<T>): Promise<T> {
  return backend === null ? work() : backend.task(name, work);
}

/** `work()` inside a `name` span when tracing is on. */
export function traceSync<T>(name: string, work: () => T): T {
  return backend === null ? work() : backend.sync(name, work);
}
