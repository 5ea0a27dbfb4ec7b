// Shared test plumbing: the real server in-process on 127.0.0.1:0, through the same composition
// root as the process (src/valori.ts), and a small fetch wrapper.
import { Writable } from 'node:stream';
import { loadConfig, type Config } from '../src/config';
import type { Kernel } from '../src/kernel/kernel';
import { createLogger } from '../src/log';
import type { Replication } from '../src/replication/runtime';
import { openValori } from '../src/valori';
import type { Express } from 'express';

export interface TestServer {
  base: string;
  app: Express;
  config: Config;
  kernel: Kernel;
  /** Proof ring, event streams and, with VALORI_FOLLOWER_OF, the follower. */
  replication: Replication;
  /** Every log line written so far (JSON, debug level). */
  logs: string[];
  /** Stops as the process does on SIGTERM: replication, server, final snapshot (when configured), kernel close. */
  stop(): Promise<void>;
}

/** Starts the app with VALORI_* overrides (strings, as in the environment). */
export async function startServer(env: Record<string, string> = {}, withKernel?: (config: Config) => Kernel): Promise<TestServer> {
  const config = loadConfig({ VALORI_DIM: '4', ...env });
  const logs: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = createLogger({ level: 'debug', format: 'json', stream });
  const valori = await openValori({ ...config, bind: { host: '127.0.0.1', port: 0 } }, { logger, openKernel: withKernel });
  try {
    const address = await valori.start();
    return { base: `http://127.0.0.1:${address.port}`, app: valori.app, config, kernel: valori.kernel, replication: valori.replication, logs, stop: () => valori.stop() };
  } catch (err) {
    await valori.stop();
    throw err;
  }
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON body, or undefined when the body is not JSON. */
  json: any;
}

export interface RequestOptions {
  method?: string;
  /** A value to JSON-encode, or a raw string sent as is. */
  body?: unknown;
  raw?: string;
  token?: string;
  headers?: Record<string, string>;
}

export async function request(base: string, path: string, opts: RequestOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers };
  let body: string | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  const res = await fetch(base + path, { method: opts.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** A deterministic pseudo-random vector (LCG), so tests need no fixtures. */
export function vector(dim: number, seed: number): number[] {
  let x = (seed * 2_654_435_761 + 1) >>> 0;
  const out: number[] = [];
  for (let i = 0; i < dim; i++) {
    x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0;
    out.push(((x >>> 8) / 2 ** 24) * 2 - 1);
  }
  return out;
}

export function isErrorEnvelope(json: unknown, code: string): boolean {
  if (typeof json !== 'object' || json === null) return false;
  const o = json as Record<string, unknown>;
  return o.code === code && typeof o.error === 'string' && o.error.length > 0 && Object.keys(o).length === 2;
}
