// The contenders of scripts/bench-peers.ts behind one shape: a server process over its own data
// folder on a fixed port (so a restart after kill -9 answers where the old one did), spoken to
// through the same keep-alive JSON client (lib/http-json.ts) whoever it is. Records are addressed
// by their dataset index; each contender maps its own ids back to it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { CHROMA_BIN, chromaVersion } from './chroma';
import { JsonClient } from './http-json';
import { pollUntil, Proc, tail } from './peers-proc';

export interface PeerSettings {
  dim: number;
  m: number;
  efc: number;
  /** Connections of the client's keep-alive agent. */
  sockets: number;
  /** Base vectors as JSON array text, by dataset index. */
  rows: (i: number) => string;
}

export abstract class Peer {
  abstract readonly name: string;
  proc: Proc | null = null;
  client: JsonClient;
  version = 'unknown';
  readonly dir: string;
  readonly log: string;

  constructor(
    root: string,
    readonly port: number,
    readonly s: PeerSettings,
    tag: string,
  ) {
    this.dir = path.join(root, tag);
    this.log = path.join(root, `${tag}.log`);
    this.client = new JsonClient(`http://127.0.0.1:${port}`, s.sockets);
  }

  protected abstract spawn(): Proc;
  /** Whether the server answers (not necessarily with its data loaded). */
  protected abstract up(): Promise<boolean>;
  /** Creates the collection; `ef`: the search ef where it is a collection setting. */
  abstract create(ef: number): Promise<void>;
  /** Inserts dataset rows [from, to) in one request, acknowledged when durable. */
  abstract insertBatch(from: number, to: number): Promise<void>;
  /** Top-k dataset indices for a query (JSON array text). */
  abstract search(q: string, k: number, ef: number): Promise<number[]>;
  /** Inserts one vector as a new record (`key` unique per call), acknowledged when durable. */
  abstract insertOne(key: number, vec: string): Promise<void>;
  /** Records it holds. */
  abstract count(): Promise<number>;

  /** Whether everything acknowledged is indexed (Qdrant builds its HNSW after acknowledging). */
  async indexed(): Promise<{ done: boolean; detail?: unknown }> {
    return { done: true };
  }

  /**
   * Whether the server has no background work pending that it is known to start on its own
   * (Valori: an idle checkpoint); `settle` waits for it besides idle CPU.
   */
  async backgroundDone(): Promise<boolean> {
    return true;
  }

  /** Makes `ef` the search ef (Chroma: a collection setting read when the index loads). */
  async setEf(_ef: number): Promise<void> {}

  /** Whether `search`'s ef argument is honoured per request. */
  efPerRequest(): boolean {
    return true;
  }

  /** Spawns the server over its folder and waits until it answers; ms from spawn. */
  async start(deadlineMs = 120_000): Promise<number> {
    fs.mkdirSync(this.dir, { recursive: true });
    this.client.close();
    this.client = new JsonClient(`http://127.0.0.1:${this.port}`, this.s.sockets);
    const p = this.spawn();
    this.proc = p;
    const ok = await pollUntil(async () => {
      if (!p.alive()) throw new Error('exited');
      return this.up();
    }, 20, deadlineMs);
    if (!p.alive()) throw new Error(`${this.name} exited during start-up:\n${tail(this.log)}`);
    if (!ok) throw new Error(`${this.name} did not answer within ${deadlineMs} ms:\n${tail(this.log)}`);
    return performance.now() - p.spawnedAt;
  }

  /** Spawns without waiting (the restart measure polls searches itself). */
  spawnOnly(): Proc {
    fs.mkdirSync(this.dir, { recursive: true });
    this.client.close();
    this.client = new JsonClient(`http://127.0.0.1:${this.port}`, this.s.sockets);
    this.proc = this.spawn();
    return this.proc;
  }

  async kill9(): Promise<void> {
    await this.proc?.kill9();
    this.client.close();
  }

  /** Kills the server and removes its data. */
  async wipe(): Promise<void> {
    await this.kill9();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  pid(): number {
    if (!this.proc?.alive()) throw new Error(`${this.name} is not running`);
    return this.proc.pid;
  }
}

// ---- Valori ---------------------------------------------------------------------------------

export const VALORI_MAIN = path.resolve('dist/main.js');

export class ValoriPeer extends Peer {
  readonly name = 'valori';
  /** Valori id → dataset index (ids are assigned by the node). */
  private toIdx: number[] = [];

  constructor(root: string, port: number, s: PeerSettings, private readonly extraEnv: Record<string, string>, private readonly maxRecords: number, tag = 'valori') {
    super(root, port, s, tag);
    if (!fs.existsSync(VALORI_MAIN)) throw new Error(`${VALORI_MAIN} is missing: run \`npm run build\` first`);
    let commit = 'unknown';
    try {
      commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
      if (execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim()) commit += '+changes';
    } catch {
      // Not a checkout: the version stays unknown.
    }
    this.version = commit;
  }

  protected spawn(): Proc {
    // Only what the measure needs, plus PATH and HOME: no VALORI_* leaks in from the caller's shell.
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      VALORI_BIND: `127.0.0.1:${this.port}`,
      VALORI_DIM: String(this.s.dim),
      VALORI_INDEX: 'hnsw',
      VALORI_HNSW_M: String(this.s.m),
      VALORI_HNSW_EF_CONSTRUCTION: String(this.s.efc),
      VALORI_MAX_RECORDS: String(this.maxRecords),
      VALORI_EVENT_LOG_PATH: path.join(this.dir, 'events.log'),
      VALORI_LOG_FORMAT: 'json',
      ...this.extraEnv,
    };
    return new Proc(process.execPath, [VALORI_MAIN], { env, log: this.log });
  }

  /**
   * An idle checkpoint comes once writes pause with at least a tenth of VALORI_CHECKPOINT_EVENTS
   * (default 1,000) unwritten, possibly seconds later (checkpoints are paced): pending until then.
   * (A tail under that but over a tenth of VALORI_CHECKPOINT_BYTES also triggers one; settle's CPU
   * window catches that case.)
   */
  override async backgroundDone(): Promise<boolean> {
    if (this.extraEnv.VALORI_CHECKPOINT === 'off') return true;
    const idleTail = Number(this.extraEnv.VALORI_CHECKPOINT_EVENTS ?? 1000) / 10;
    const text = await new Promise<string>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: this.port, path: '/metrics' }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(body));
        res.on('error', reject);
      }).on('error', reject);
    });
    const gauge = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
    const tail = gauge('valori_event_log_height') - gauge('valori_checkpoint_height');
    return !(tail >= idleTail);
  }

  protected async up(): Promise<boolean> {
    await this.client.get('/health');
    return true;
  }

  async create(): Promise<void> {
    this.toIdx = [];
  }

  async insertBatch(from: number, to: number): Promise<void> {
    const rows: string[] = [];
    for (let i = from; i < to; i++) rows.push(this.s.rows(i));
    const r = await this.client.post<{ ids: number[] }>('/v1/vectors/batch_insert', `{"batch":[${rows.join(',')}]}`);
    if (r.ids.length !== to - from) throw new Error(`valori: batch at ${from} answered ${r.ids.length} ids for ${to - from} rows`);
    r.ids.forEach((id, j) => (this.toIdx[id] = from + j));
  }

  async search(q: string, k: number, ef: number): Promise<number[]> {
    const r = await this.client.post<{ results: Array<{ id: number }> }>('/search', `{"query":${q},"k":${k},"ef":${ef}}`);
    return r.results.map((h) => this.toIdx[h.id] ?? -1);
  }

  async insertOne(_key: number, vec: string): Promise<void> {
    await this.client.post('/records', `{"values":${vec}}`);
  }

  async count(): Promise<number> {
    return this.toIdx.length;
  }
}

// ---- Chroma ---------------------------------------------------------------------------------

const COLLECTIONS = '/api/v2/tenants/default_tenant/databases/default_database/collections';

export class ChromaPeer extends Peer {
  readonly name = 'chroma';
  private id = '';
  private ef = 0;

  constructor(root: string, port: number, s: PeerSettings) {
    super(root, port, s, 'chroma');
    this.version = chromaVersion();
  }

  protected spawn(): Proc {
    return new Proc(CHROMA_BIN, ['run', '--path', this.dir, '--host', '127.0.0.1', '--port', String(this.port)], { env: process.env, log: this.log });
  }

  protected async up(): Promise<boolean> {
    await this.client.get('/api/v2/heartbeat');
    return true;
  }

  async create(ef: number): Promise<void> {
    const r = await this.client.post<{ id: string }>(COLLECTIONS, {
      name: 'fmnist',
      configuration: { hnsw: { space: 'l2', max_neighbors: this.s.m, ef_construction: this.s.efc, ef_search: ef } },
    });
    this.id = r.id;
    this.ef = ef;
  }

  async insertBatch(from: number, to: number): Promise<void> {
    const ids: string[] = [];
    const rows: string[] = [];
    for (let i = from; i < to; i++) {
      ids.push(`"${i}"`);
      rows.push(this.s.rows(i));
    }
    await this.client.post(`${COLLECTIONS}/${this.id}/add`, `{"ids":[${ids.join(',')}],"embeddings":[${rows.join(',')}]}`);
  }

  async search(q: string, k: number): Promise<number[]> {
    const r = await this.client.post<{ ids: string[][] }>(`${COLLECTIONS}/${this.id}/query`, `{"query_embeddings":[${q}],"n_results":${k},"include":["distances"]}`);
    return r.ids[0].map(Number);
  }

  async insertOne(key: number, vec: string): Promise<void> {
    await this.client.post(`${COLLECTIONS}/${this.id}/add`, `{"ids":["x${key}"],"embeddings":[${vec}]}`);
  }

  async count(): Promise<number> {
    return this.client.get<number>(`${COLLECTIONS}/${this.id}/count`);
  }

  efPerRequest(): boolean {
    return false;
  }

  /** New ef_search, applied by a clean restart (Chroma reads it when it loads the index). */
  async setEf(ef: number): Promise<void> {
    if (ef === this.ef) return;
    await this.client.call('PUT', `${COLLECTIONS}/${this.id}`, { new_configuration: { hnsw: { ef_search: ef } } });
    await this.proc?.stop();
    await this.start();
    this.ef = ef;
  }

  currentEf(): number {
    return this.ef;
  }
}
