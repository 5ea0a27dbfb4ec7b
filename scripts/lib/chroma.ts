// Chroma as a benchmark peer: `chroma run` from the repository's .venv-chroma (see
// docs/BENCHMARKS.md: `python3 -m venv .venv-chroma && .venv-chroma/bin/pip install chromadb`)
// on 127.0.0.1, spoken to over its HTTP API (v2) with the same client as Valori.
// Local Chroma reads a collection's ef_search when it loads the index, so changing ef means
// updating the configuration and restarting the server.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { JsonClient } from './http-json';

export const CHROMA_BIN = path.resolve(process.env.CHROMA_BIN ?? '.venv-chroma/bin/chroma');

export function chromaAvailable(): boolean {
  return fs.existsSync(CHROMA_BIN);
}

/** The installed chromadb package's version (the server's /api/v2/version reports its API's). */
export function chromaVersion(): string {
  try {
    const py = path.join(path.dirname(CHROMA_BIN), 'python');
    return execFileSync(py, ['-c', 'import importlib.metadata as m; print(m.version("chromadb"))'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const COLLECTIONS = '/api/v2/tenants/default_tenant/databases/default_database/collections';

export class Chroma {
  private child: ChildProcess | null = null;
  private stderrTail = '';
  client: JsonClient;
  private id = '';

  private constructor(
    private readonly dir: string,
    private readonly port: number,
    private readonly sockets: number,
  ) {
    this.client = new JsonClient(`http://127.0.0.1:${port}`, sockets);
  }

  /** Starts a server over a fresh data folder `dir`. */
  static async start(dir: string, sockets: number): Promise<Chroma> {
    fs.mkdirSync(dir, { recursive: true });
    const c = new Chroma(dir, await freePort(), sockets);
    await c.launch();
    return c;
  }

  private async launch(): Promise<void> {
    this.stderrTail = '';
    const child = spawn(CHROMA_BIN, ['run', '--path', this.dir, '--host', '127.0.0.1', '--port', String(this.port)], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => (this.stderrTail = (this.stderrTail + d.toString()).slice(-4000)));
    this.child = child;
    let exited = false;
    child.once('exit', () => (exited = true));
    // Readiness: the heartbeat answers (bounded: 600 polls, 100 ms apart).
    for (let i = 0; i < 600; i++) {
      if (exited) throw new Error(`chroma exited during start-up:\n${this.stderrTail}`);
      try {
        await this.client.get('/api/v2/heartbeat');
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error(`chroma did not answer its heartbeat within 60 s:\n${this.stderrTail}`);
  }

  /** SIGTERM (a clean shutdown writes the index), SIGKILL if it takes more than 30 s. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    this.client.close();
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  async restart(): Promise<void> {
    await this.stop();
    this.client = new JsonClient(`http://127.0.0.1:${this.port}`, this.sockets);
    await this.launch();
  }

  async createCollection(name: string, m: number, efc: number, ef: number): Promise<void> {
    const r = await this.client.post<{ id: string }>(COLLECTIONS, {
      name,
      configuration: { hnsw: { space: 'l2', max_neighbors: m, ef_construction: efc, ef_search: ef } },
    });
    this.id = r.id;
  }

  /** Largest batch `add` accepts. */
  async maxBatch(): Promise<number> {
    return (await this.client.get<{ max_batch_size: number }>('/api/v2/pre-flight-checks')).max_batch_size;
  }

  add(ids: string[], embeddings: number[][], metadatas: object[]): Promise<unknown> {
    return this.client.post(`${COLLECTIONS}/${this.id}/add`, { ids, embeddings, metadatas });
  }

  async count(): Promise<number> {
    return this.client.get<number>(`${COLLECTIONS}/${this.id}/count`);
  }

  /** New ef_search, applied by a restart. */
  async setEf(ef: number): Promise<void> {
    await this.client.call('PUT', `${COLLECTIONS}/${this.id}`, { new_configuration: { hnsw: { ef_search: ef } } });
    await this.restart();
  }

  /** `vectorJson`: the query as JSON array text; `where`: JSON text or null. Returns the ids as numbers. */
  async query(vectorJson: string, k: number, whereJson: string | null): Promise<number[]> {
    const where = whereJson === null ? '' : `,"where":${whereJson}`;
    const body = `{"query_embeddings":[${vectorJson}],"n_results":${k}${where},"include":["distances"]}`;
    const r = await this.client.post<{ ids: string[][] }>(`${COLLECTIONS}/${this.id}/query`, body);
    return r.ids[0].map(Number);
  }
}
