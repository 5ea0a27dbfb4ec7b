// Qdrant as a benchmark peer: a binary built from source (see docs/BENCHMARKS.md, "Peers"), path
// from QDRANT_BIN, run from its source folder QDRANT_DIR because it reads config/ relative to the
// working directory. Without RUN_MODE it would also merge config/development.yaml (debug logging,
// feature flags, audit log, 4 search threads, 2 segments): RUN_MODE=production gives the settings
// of an official release. Its snapshots, temp files and "initialized" marker go under the data
// folder, not into the source tree.
import fs from 'node:fs';
import path from 'node:path';
import { Peer, type PeerSettings } from './peers-peer';
import { Proc } from './peers-proc';

export const QDRANT_BIN = path.resolve(process.env.QDRANT_BIN ?? '/work/peers-build/qdrant/target/release/qdrant');
export const QDRANT_DIR = path.resolve(process.env.QDRANT_DIR ?? '/work/peers-build/qdrant');

/** Null when usable; else why not. */
export function qdrantMissing(): string | null {
  if (!fs.existsSync(QDRANT_BIN)) return `${QDRANT_BIN} is missing (set QDRANT_BIN)`;
  if (!fs.existsSync(path.join(QDRANT_DIR, 'config', 'config.yaml'))) return `${QDRANT_DIR}/config/config.yaml is missing (set QDRANT_DIR to its source folder)`;
  return null;
}

const C = '/collections/fmnist';

export class QdrantPeer extends Peer {
  readonly name = 'qdrant';

  constructor(
    root: string,
    port: number,
    private readonly grpcPort: number,
    s: PeerSettings,
  ) {
    super(root, port, s, 'qdrant');
  }

  protected spawn(): Proc {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      RUN_MODE: 'production',
      QDRANT__STORAGE__STORAGE_PATH: path.join(this.dir, 'storage'),
      QDRANT__STORAGE__SNAPSHOTS_PATH: path.join(this.dir, 'snapshots'),
      QDRANT__STORAGE__TEMP_PATH: path.join(this.dir, 'tmp'),
      QDRANT__SERVICE__HOST: '127.0.0.1',
      QDRANT__SERVICE__HTTP_PORT: String(this.port),
      QDRANT__SERVICE__GRPC_PORT: String(this.grpcPort),
      QDRANT_INIT_FILE_PATH: path.join(this.dir, '.qdrant-initialized'),
    };
    return new Proc(QDRANT_BIN, ['--disable-telemetry'], { env, cwd: QDRANT_DIR, log: this.log });
  }

  protected async up(): Promise<boolean> {
    const r = await this.client.get<{ version: string }>('/');
    this.version = r.version;
    return true;
  }

  async create(): Promise<void> {
    this.greenSince = null;
    await this.client.call('PUT', C, { vectors: { size: this.s.dim, distance: 'Euclid' }, hnsw_config: { m: this.s.m, ef_construct: this.s.efc } });
  }

  async insertBatch(from: number, to: number): Promise<void> {
    const pts: string[] = [];
    for (let i = from; i < to; i++) pts.push(`{"id":${i},"vector":${this.s.rows(i)}}`);
    await this.client.call('PUT', `${C}/points?wait=true`, `{"points":[${pts.join(',')}]}`);
  }

  private greenSince: { at: number; indexed: number } | null = null;

  /**
   * Green (no optimisation pending or running) with every point in an HNSW-indexed segment but
   * for one segment's worth below Qdrant's indexing threshold (indexing_threshold_kb, 10,000 KiB
   * by default: such a segment stays plain and is searched exhaustively, by design); or green
   * with the indexed count unchanged for 1 s (a small collection whose segments are all below the
   * threshold). Right after the last acknowledgement the optimiser may not have started yet, so
   * a single green is not enough.
   */
  async indexed(): Promise<{ done: boolean; detail?: unknown }> {
    const r = await this.client.get<{ result: { status: string; points_count: number; indexed_vectors_count: number; segments_count: number } }>(C);
    const { status, points_count, indexed_vectors_count, segments_count } = r.result;
    const detail = { status, points_count, indexed_vectors_count, segments_count };
    if (status !== 'green') {
      this.greenSince = null;
      return { done: false, detail };
    }
    const plainAllowed = Math.floor((10_000 * 1024) / (this.s.dim * 4));
    if (indexed_vectors_count > 0 && points_count - indexed_vectors_count <= plainAllowed) return { done: true, detail };
    if (this.greenSince?.indexed !== indexed_vectors_count) this.greenSince = { at: performance.now(), indexed: indexed_vectors_count };
    return { done: performance.now() - this.greenSince.at >= 1000, detail };
  }

  async search(q: string, k: number, ef: number): Promise<number[]> {
    const r = await this.client.post<{ result: Array<{ id: number }> }>(`${C}/points/search`, `{"vector":${q},"limit":${k},"params":{"hnsw_ef":${ef}}}`);
    return r.result.map((h) => h.id);
  }

  async insertOne(key: number, vec: string): Promise<void> {
    await this.client.call('PUT', `${C}/points?wait=true`, `{"points":[{"id":${key},"vector":${vec}}]}`);
  }

  async count(): Promise<number> {
    return (await this.client.post<{ result: { count: number } }>(`${C}/points/count`, { exact: true })).result.count;
  }
}
