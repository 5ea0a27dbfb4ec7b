// Thin wrapper over the native Kernel handle: converts JSON-shaped input to the binding's types
// (Float32Array, bigint tags, JSON strings) and native errors to KernelError, a domain error with
// the kernel's stable code (the HTTP layer alone maps codes to statuses). Routes call this, never
// the addon. It holds no data of its own; the kernel owns all state.
import { maxSnapshotBytes, type Config } from '../config';
import { KernelError, toKernelError } from './errors';
import {
  loadNative,
  type GraphEdge,
  type GraphNode,
  type KernelOptions,
  type KernelStats,
  type LogProofResult,
  type NativeKernel,
  type RecoveryInfo,
  type SnapshotResult,
  type SearchHit,
} from './native';
import { toFlatBatch, toVector, type VectorLimits } from './vectors';

/** The kernel's cap on one metadata value, as UTF-8 JSON bytes. */
export const MAX_METADATA_BYTES = 65_536;

export type StateProof = Awaited<ReturnType<NativeKernel['stateProof']>>;
export type LogEvent = Awaited<ReturnType<NativeKernel['readEvents']>>[number];

export interface SearchParams {
  /** Only records with this tag (a JSON-safe unsigned integer). */
  filterTag?: number | null;
  ef?: number | null;
  nprobe?: number | null;
}

export interface UpsertOutcome {
  recordId: number;
  documentNodeId: number;
  chunkNodeId: number;
}

export function kernelOptions(config: Config): KernelOptions {
  return {
    dim: config.dim,
    maxRecords: config.maxRecords,
    maxNodes: config.maxNodes,
    maxEdges: config.maxEdges,
    maxMetadataEntries: config.maxMetadataEntries,
    maxMetadataBytes: config.maxMetadataBytes,
    index: config.index,
    quant: config.quant,
    hnswM: config.hnswM,
    hnswEfConstruction: config.hnswEfConstruction,
    hnswEfSearch: config.hnswEfSearch,
    ivfNlist: config.ivfNlist,
    ivfNprobe: config.ivfNprobe,
    eventLogPath: config.eventLogPath ?? undefined,
    snapshotPath: config.snapshotPath ?? undefined,
    walPath: config.walPath ?? undefined,
    acceptTruncation: config.acceptTruncation,
    maxNamedSnapshots: config.maxNamedSnapshots,
    maxSnapshotBytes: maxSnapshotBytes(config),
  };
}

async function call<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw toKernelError(err);
  }
}

function callSync<T>(work: () => T): T {
  try {
    return work();
  } catch (err) {
    throw toKernelError(err);
  }
}

function metadataJson(value: unknown): string {
  let json: string;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    // Nesting too deep for the stringifier (a RangeError): the caller's value, not a kernel fault.
    // (HTTP bodies are depth-capped before they get here, see http/body.ts.)
    if (err instanceof RangeError) throw new KernelError('INVALID_ARGUMENT', `metadata nests too deeply to be stored as JSON: ${err.message}`);
    throw err;
  }
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > MAX_METADATA_BYTES) {
    throw new KernelError('METADATA_TOO_LARGE', `metadata is ${bytes} bytes of JSON: at most ${MAX_METADATA_BYTES} are accepted`);
  }
  return json;
}

export class Kernel {
  private readonly limits: VectorLimits;
  private commitObserver: ((seconds: number) => void) | null = null;
  private restores = 0;

  constructor(private readonly native: NativeKernel) {
    const stats = callSync(() => native.stats());
    this.limits = { dim: stats.dim, maxAbsValue: stats.maxAbsValue };
  }

  /**
   * Opens the kernel from config: recovers durable state (event log, snapshot or WAL) off the
   * JS thread; memory is allocated lazily, sizes come from the config.
   */
  static async open(config: Config): Promise<Kernel> {
    const { openKernel } = loadNative();
    return new Kernel(await call(() => openKernel(kernelOptions(config))));
  }

  /** Called with the latency of every acknowledged write (metrics). */
  onCommit(observer: (seconds: number) => void): void {
    this.commitObserver = observer;
  }

  private async write<T>(work: () => Promise<T>): Promise<T> {
    const started = process.hrtime.bigint();
    const out = await call(work);
    this.commitObserver?.(Number(process.hrtime.bigint() - started) / 1e9);
    return out;
  }

  get dim(): number {
    return this.limits.dim;
  }

  get maxAbsValue(): number {
    return this.limits.maxAbsValue;
  }

  /** O(1), synchronous: safe for /health and metric scrapes while long tasks run. */
  stats(): KernelStats {
    return callSync(() => this.native.stats());
  }

  insert(values: readonly unknown[], tag: number | null = null): Promise<number> {
    const vector = toVector(values, 'values', this.limits);
    return this.write(() => this.native.insert(vector, tag === null ? null : BigInt(tag)));
  }

  /** All rows or none: the kernel applies the batch as one operation. */
  async insertBatch(rows: readonly (readonly unknown[])[], field = 'batch'): Promise<number[]> {
    const flat = toFlatBatch(rows, field, this.limits);
    if (rows.length === 0) return [];
    const ids = await this.write(() => this.native.insertBatch(flat, rows.length));
    return Array.from(ids);
  }

  deleteRecord(id: number): Promise<void> {
    return this.write(() => this.native.deleteRecord(id));
  }

  softDeleteRecord(id: number): Promise<void> {
    return this.write(() => this.native.softDeleteRecord(id));
  }

  createNode(kind: number, recordId: number | null): Promise<number> {
    return this.write(() => this.native.createNode(kind, recordId));
  }

  createEdge(from: number, to: number, kind: number): Promise<number> {
    return this.write(() => this.native.createEdge(from, to, kind));
  }

  getNode(id: number): GraphNode | null {
    return callSync(() => this.native.getNode(id));
  }

  /** Outgoing edges, newest first; null when the node does not exist. */
  getEdges(nodeId: number): GraphEdge[] | null {
    return callSync(() => this.native.getEdges(nodeId));
  }

  /** Record + document node (unless attaching) + chunk node + edge, as one kernel operation. */
  async upsertMemory(values: readonly unknown[], attachTo: number | null, metadata: unknown): Promise<UpsertOutcome> {
    const vector = toVector(values, 'vector', this.limits);
    const json = metadata === undefined || metadata === null ? null : metadataJson(metadata);
    const r = await this.write(() => this.native.upsertMemory(vector, attachTo, json));
    return { recordId: r.recordId, documentNodeId: r.documentNodeId, chunkNodeId: r.chunkNodeId };
  }

  setMetadata(key: string, value: unknown): Promise<void> {
    const json = metadataJson(value);
    return this.write(() => this.native.setMetadata(key, json));
  }

  /** The stored value, or null when the key has none. */
  getMetadata(key: string): unknown {
    const json = this.getMetadataJson(key);
    return json === null ? null : (JSON.parse(json) as unknown);
  }

  /** The stored value as the JSON text it was stored as, or null when the key has none. */
  getMetadataJson(key: string): string | null {
    return callSync(() => this.native.getMetadata(key));
  }

  search(query: readonly unknown[], k: number, params: SearchParams = {}, field = 'query'): Promise<SearchHit[]> {
    const vector = toVector(query, field, this.limits);
    const options = {
      filterTag: params.filterTag == null ? undefined : BigInt(params.filterTag),
      ef: params.ef ?? undefined,
      nprobe: params.nprobe ?? undefined,
    };
    return call(() => this.native.search(vector, k, options));
  }

  /** Stops accepting writes and waits for queued ones; later writes fail. */
  close(): void {
    callSync(() => this.native.close());
  }

  /** Writes a snapshot atomically; `name` saves a named snapshot in `<snapshot dir>/snapshots/`. */
  saveSnapshot(name: string | null = null): Promise<SnapshotResult> {
    return call(() => this.native.saveSnapshot(name));
  }

  /** The current durable state as VAL1 bytes. */
  snapshotBytes(): Promise<Buffer> {
    return call(() => this.native.snapshotBytes());
  }

  /** The bytes of a named snapshot (see saveSnapshot). */
  readSnapshotFile(name: string): Promise<Buffer> {
    return call(() => this.native.readSnapshotFile(name));
  }

  /** Replaces the whole state with validated VAL1 bytes; resolves with the new height. */
  async restoreSnapshot(bytes: Buffer, bootstrap = false): Promise<number> {
    // Odd while a restore runs, even after: a cached proof is valid only for the epoch it was
    // computed in (a bootstrap may replace the state without changing the height).
    this.restores++;
    try {
      return await call(() => this.native.restoreSnapshot(bytes, bootstrap));
    } finally {
      this.restores++;
    }
  }

  /** Changes whenever a restore starts or ends; odd while one is running. */
  get restoreEpoch(): number {
    return this.restores;
  }

  /** Drops the event-log prefix covered by the newest durable snapshot; resolves with the new base. */
  trimLog(): Promise<number> {
    return call(() => this.native.trimLog());
  }

  /** Rebuilds/retrains the search index from the current records; false when there is none. */
  buildIndex(): Promise<boolean> {
    return call(() => this.native.buildIndex());
  }

  logProof(): LogProofResult | null {
    return callSync(() => this.native.logProof());
  }

  lastSnapshot(): SnapshotResult | null {
    return callSync(() => this.native.lastSnapshot());
  }

  recovery(): RecoveryInfo {
    return callSync(() => this.native.recovery());
  }

  /** BLAKE3 over the canonical state, 64 lowercase hex chars. */
  stateHash(): Promise<string> {
    return call(() => this.native.stateHash());
  }

  // ---- Replication: proofs, event reads and follower apply -------------------------------------

  /** State hash and the height it was taken at, read atomically (replicas compare equal heights). */
  stateProof(): Promise<StateProof> {
    return call(() => this.native.stateProof());
  }

  /**
   * Committed events from `fromSeq` (inclusive): at most `maxEvents`, and about `maxBytes` of
   * payload (at least one event). Rejects with code BOOTSTRAP_REQUIRED when `fromSeq` was trimmed.
   */
  readEvents(fromSeq: number, maxEvents: number, maxBytes: number): Promise<LogEvent[]> {
    return call(() => this.native.readEvents(fromSeq, maxEvents, maxBytes));
  }

  /** Resolves with the committed height once it exceeds `height`, or the current one after `timeoutMs`. */
  waitForHeight(height: number, timeoutMs: number): Promise<number> {
    return call(() => this.native.waitForHeight(height, timeoutMs));
  }

  /**
   * Applies a leader's event at `seq` through this node's commit path (logged, fsynced). A seq at
   * or below the height is skipped; a gap rejects with code SEQUENCE_GAP. Calls are applied in submission order.
   */
  applyReplicated(seq: number, payload: Buffer): Promise<void> {
    return call(() => this.native.applyReplicated(seq, payload));
  }
}
