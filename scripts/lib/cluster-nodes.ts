// Valori nodes for scripts/bench-cluster.ts: a Raft cluster of `node dist/main.js` processes and a
// standalone node beside it, each on its own loopback address (127.0.N.i) with its output in a log
// file (a pipe nobody reads would stall a node), spawned through peers-proc's Proc so that every
// one is SIGKILLed however the script ends. Plus the script's HTTP client: keep-alive node:http
// agents with the bearer token, a closed-loop write load and single timed requests.
import fs from 'node:fs';
import { Agent, request } from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { percentile } from './data';
import { Proc, sleep, tail } from './peers-proc';

export const MAIN = path.join(__dirname, '..', '..', 'dist', 'main.js');

/** A port free on `host` right now (bound and released: the node binds it a moment later). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Reply {
  status: number;
  body: string;
  location?: string;
}

/** One node's HTTP client: a keep-alive agent, every request with the bearer token. */
export class Client {
  readonly agent: Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(
    readonly base: string,
    private readonly token: string,
    sockets = 64,
  ) {
    const u = new URL(base);
    this.host = u.hostname;
    this.port = Number(u.port);
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets });
  }

  /** Any status resolves; a network failure or `timeoutMs` without an answer rejects. */
  send(method: string, pathAndQuery: string, body?: string, timeoutMs = 30_000): Promise<Reply> {
    const headers: Record<string, string | number> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    return new Promise((resolve, reject) => {
      const req = request({ host: this.host, port: this.port, path: pathAndQuery, method, agent: this.agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), location: res.headers.location });
        });
        res.on('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
      });
      const timer = setTimeout(() => req.destroy(new Error(`${method} ${pathAndQuery}: no answer within ${timeoutMs} ms`)), timeoutMs);
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      req.end(body);
    });
  }

  /** JSON of a 2xx answer; anything else throws with the route and the answer. */
  async json<T = any>(method: string, pathAndQuery: string, body?: unknown, timeoutMs?: number): Promise<T> {
    const r = await this.send(method, pathAndQuery, body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body), timeoutMs);
    if (r.status < 200 || r.status > 299) throw new Error(`${method} ${this.base}${pathAndQuery} answered ${r.status}: ${r.body.slice(0, 300)}`);
    return JSON.parse(r.body) as T;
  }

  close(): void {
    this.agent.destroy();
  }
}

/** GET /v1/cluster/status, as the route answers it. */
export interface Status {
  node_id: number;
  current_leader: number | null;
  is_leader: boolean;
  role: string;
  term: number;
  last_log_index: number | null;
  last_applied_index: number | null;
  snapshot_index: number | null;
  height: number;
}

/** One `node dist/main.js` with a fixed environment; start() again after a kill reuses its files. */
export class ValoriNode {
  proc: Proc | null = null;
  client: Client;

  constructor(
    readonly name: string,
    readonly host: string,
    readonly port: number,
    readonly env: Record<string, string>,
    readonly log: string,
    private readonly token: string,
  ) {
    this.client = new Client(this.base, token);
  }

  get base(): string {
    return `http://${this.host}:${this.port}`;
  }

  alive(): boolean {
    return this.proc !== null && this.proc.alive();
  }

  /** Spawns the node and resolves with the ms from spawn to its readiness line. */
  async start(timeoutMs = 60_000): Promise<number> {
    if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build:ts\` (and the native build) first`);
    const from = fs.existsSync(this.log) ? fs.statSync(this.log).size : 0;
    // Only what the node is given, plus PATH: no VALORI_* leaks in from the caller's shell.
    this.proc = new Proc(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? '', ...this.env }, log: this.log });
    const proc = this.proc;
    const ready = `Listening on ${this.host}:${this.port}`;
    const end = performance.now() + timeoutMs;
    const buf = Buffer.alloc(64 * 1024);
    let seen = '';
    let at = from;
    const fd = fs.openSync(this.log, 'r');
    try {
      for (;;) {
        const n = fs.readSync(fd, buf, 0, buf.length, at);
        at += n;
        seen = (seen + buf.toString('utf8', 0, n)).slice(-8192);
        if (seen.includes(ready)) return performance.now() - proc.spawnedAt;
        if (!proc.alive()) throw new Error(`${this.name} exited before listening:\n${tail(this.log)}`);
        if (performance.now() > end) throw new Error(`${this.name}: no "${ready}" within ${timeoutMs} ms:\n${tail(this.log)}`);
        if (n === 0) await sleep(10);
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  /** kill -9; resolves with performance.now() just before the signal, once the process is gone. */
  async kill9(): Promise<number> {
    const p = this.proc;
    const at = performance.now();
    if (p === null || !p.alive()) return at;
    p.child.kill('SIGKILL');
    await p.exited;
    // Sockets to a dead process are useless: the next request opens a new one.
    this.client.close();
    this.client = new Client(this.base, this.token);
    return at;
  }

  status(timeoutMs = 2_000): Promise<Status> {
    return this.client.json<Status>('GET', '/v1/cluster/status', undefined, timeoutMs);
  }
}

export interface LoadResult {
  /** Acknowledged (200) writes per second over the measured window. */
  rate: number;
  acked: number;
  p50: number;
  p99: number;
  max: number;
  /** Answers other than 200, by status (0 = no answer), in the measured window. */
  errors: Record<string, number>;
}

/**
 * `clients` closed-loop clients (one request in flight each) POSTing `bodies` in turn to `path`
 * for `warmupS` + `seconds`; only requests sent after the warm-up count, and the rate is those
 * acknowledged within the measured window (a request in flight at its end still counts if it was
 * sent inside it: each client stops sending at the end).
 */
export async function closedLoop(client: Client, path: string, clients: number, seconds: number, warmupS: number, bodies: string[]): Promise<LoadResult> {
  const lat: number[] = [];
  const errors: Record<string, number> = {};
  let next = 0;
  const t0 = performance.now();
  const warmEnd = t0 + warmupS * 1000;
  const end = warmEnd + seconds * 1000;
  let lastAck = warmEnd;
  const one = async () => {
    while (performance.now() < end) {
      const sent = performance.now();
      let status = 0;
      try {
        status = (await client.send('POST', path, bodies[next++ % bodies.length], 30_000)).status;
      } catch {
        status = 0;
      }
      const done = performance.now();
      if (sent < warmEnd) continue;
      if (status === 200) {
        lat.push(done - sent);
        lastAck = Math.max(lastAck, done);
      } else {
        errors[status] = (errors[status] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, one));
  const window = Math.max(end, lastAck) - warmEnd;
  return {
    rate: lat.length / (window / 1000),
    acked: lat.length,
    p50: lat.length ? percentile(lat, 50) : NaN,
    p99: lat.length ? percentile(lat, 99) : NaN,
    max: lat.length ? lat.reduce((a, b) => Math.max(a, b), 0) : NaN,
    errors,
  };
}
