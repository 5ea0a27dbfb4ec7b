// Thin wrapper over the native Kernel handle: converts JSON-shaped input to the binding's types
// (Float32Array, bigint tags, JSON strings) and native errors to KernelError, a domain error with
// the kernel's stable code (the HTTP layer alone maps codes to statuses). Routes call this, never
// the addon. It holds no data of its own; the kernel owns all state. Every data method names its
// collection first (DEFAULT_COLLECTION for requests that name none); every write takes optional
// idempotency inputs (WriteOptions) and resolves with the ids it assigned, its height and whether
// an earlier write with the same key already did it.
import type { Config } from '../config';
import { traceTask, tracingEnabled } from '../tracing';
import {
  call,
  callSync,
  kernelOptions,
  metadataJson,
  payloadJson,
  recordKey,
  searchOptions,
  written,
  writtenOne,
  type NewCollection,
  type RecordOut,
  type SearchParams,
  type UpsertOutcome,
  type Written,
  type WrittenOne,
} from './boundary';
import { CollectionLimits, DEFAULT_COLLECTION, canonicalMetric, checkCollectionName } from './collections';
import type {
  BatchPayloads,
  CollectionInfo,
  CollectionSpec,
  ContractKernel,
  RecordPayload,
  SearchHit,
  ContractStats,
  GraphHit,
  GraphQuery,
  NodePage,
  Subgraph,
  Timeline,
  WriteOptions,
  WriteResult,
} from './contract';
import { KernelError } from './errors';
import {
  loadNative,
  type GraphEdge,
  type GraphNode,
  type LogProofResult,
  type NativeKernel,
  type RecoveryInfo,
  type SearchRouteOptions,
  type BatchRouteOptions,
  type ParsedBatch,
  type ParsedVector,
  type VectorRouteOptions,
  type SnapshotResult,
} from './native';
import { toFlatBatch, toVector, type VectorLimits } from './vectors';

/** A vector from a client: JSON numbers, or a Float32Array the kernel already parsed and checked. */
export type ClientVector = readonly unknown[] | Float32Array;

/** The kernel_version the proofs report: the version of the state-hash and event-apply rules. */
export const KERNEL_VERSION = 1;

export { DEFAULT_COLLECTION, kernelOptions };
export { MAX_METADATA_BYTES, payloadJson } from './boundary';
export type { NewCollection, RecordOut, SearchParams, UpsertOutcome, Written, WrittenOne };
export type { BatchPayloads, CollectionInfo, CollectionSpec, GraphHit, GraphQuery, NodePage, RecordPayload, SearchHit, Subgraph, Timeline, WriteOptions };
export type KernelStats = ContractStats;

/** A snapshot file being produced (`Kernel.snapshotStream`). */
export interface SnapshotPieces {
  /** The file's length in bytes. */
  readonly length: number;
  /** The event height it covers. */
  readonly height: number;
  /** The next piece, or null after the last. */
  next(): Promise<Buffer | null>;
  /** Stops producing (the kernel releases the frozen state). */
  close(): void;
}

export type StateProof = Awaited<ReturnType<NativeKernel['stateProof']>>;
export type LogEvent = Awaited<ReturnType<NativeKernel['readEvents']>>[number];

export class Kernel {
  private readonly native: ContractKernel;
  private readonly defaultLimits: VectorLimits;
  private readonly collections: CollectionLimits;
  private commitObserver: ((seconds: number) => void) | null = null;
  /** A Raft member's kernel (src/cluster/node.ts): its writes go through Raft, and it keeps no event log of its own. */
  clusterMember = false;
  private restores = 0;

  constructor(handle: NativeKernel) {
    this.native = handle;
    const stats = callSync(() => this.native.stats());
    this.defaultLimits = { dim: stats.dim, maxAbsValue: stats.maxAbsValue };
    this.collections = new CollectionLimits(
      () => this.listCollections(),
      () => this.stats().collections,
    );
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

  private async write(work: () => Promise<WriteResult>): Promise<WriteResult> {
    const started = process.hrtime.bigint();
    // With traces on (OTEL_EXPORTER_OTLP_ENDPOINT), a span; off, not even a closure.
    const out = await (tracingEnabled() ? traceTask('kernel.write', () => call(work)) : call(work));
    this.commitObserver?.(Number(process.hrtime.bigint() - started) / 1e9);
    return out;
  }

  /** The default collection's dimension (VALORI_DIM). */
  get dim(): number {
    return this.defaultLimits.dim;
  }

  get maxAbsValue(): number {
    return this.defaultLimits.maxAbsValue;
  }

  /** O(1), synchronous: safe for /health and metric scrapes while long tasks run. */
  stats(): KernelStats {
    return callSync(() => this.native.stats());
  }

  // ---- Collections -----------------------------------------------------------------------------

  /** Every collection, in id order (O(collections): not for per-request paths). */
  listCollections(): CollectionInfo[] {
    return callSync(() => this.native.listCollections());
  }

  /** The dimension of `collection`; COLLECTION_NOT_FOUND when it does not exist. */
  dimOf(collection: string): number {
    return this.limitsOf(collection, null).dim;
  }

  /** The numeric id of `collection` (0.3.1's namespace_id; default is 0), from a cache: O(1). */
  collectionId(collection: string): number {
    if (collection === DEFAULT_COLLECTION) return 0;
    const cached = this.collections.get(collection);
    if (cached === null) throw new KernelError('COLLECTION_NOT_FOUND', `collection ${JSON.stringify(collection)} does not exist`);
    return cached.id;
  }

  async createCollection(spec: NewCollection, opts?: WriteOptions): Promise<WrittenOne> {
    checkCollectionName(spec.name);
    const native: CollectionSpec = { name: spec.name, dim: spec.dim, metric: canonicalMetric(spec.metric) };
    if (spec.index != null) native.index = spec.index;
    if (spec.quant != null) native.quant = spec.quant;
    if (spec.maxRecords != null) native.maxRecords = spec.maxRecords;
    try {
      return writtenOne(await this.write(() => this.native.createCollection(native, opts)), 'createCollection');
    } finally {
      this.collections.changed();
    }
  }

  async dropCollection(name: string, opts?: WriteOptions): Promise<Written> {
    try {
      return written(await this.write(() => this.native.dropCollection(name, opts)));
    } finally {
      this.collections.changed();
    }
  }

  /**
   * The vector limits of `collection`; a vector of another length is re-checked against a fresh
   * list before it is refused (the collection may have been dropped and re-created meanwhile).
   */
  private limitsOf(collection: string, length: number | null): VectorLimits {
    if (collection === DEFAULT_COLLECTION) return this.defaultLimits;
    let limits = this.collections.get(collection);
    if (limits !== null && length !== null && length !== limits.dim) limits = this.collections.recheck(collection);
    if (limits === null) throw new KernelError('COLLECTION_NOT_FOUND', `collection ${JSON.stringify(collection)} does not exist`);
    return limits;
  }

  /** A client vector as the binding takes it; a Float32Array was parsed and checked by the kernel already (src/http/vector-body.ts). */
  private vector(collection: string, values: ClientVector, field: string): Float32Array {
    const limits = this.limitsOf(collection, values.length);
    if (values instanceof Float32Array) {
      if (values.length !== limits.dim) throw new KernelError('DIMENSION_MISMATCH', `${field} has the wrong dimension: expected ${limits.dim}, got ${values.length}`);
      return values;
    }
    return toVector(values, field, limits);
  }

  // ---- Records ---------------------------------------------------------------------------------

  /** `payload`: metadata as JSON object text and text; the kernel validates, canonicalises and bounds them. */
  async insert(collection: string, values: ClientVector, tag: number | null = null, opts?: WriteOptions, payload?: RecordPayload): Promise<WrittenOne> {
    const vector = this.vector(collection, values, 'values');
    const p = payload?.metadata === undefined && payload?.text === undefined ? undefined : payload;
    const r = await this.write(() => this.native.insert(collection, vector, tag === null ? null : BigInt(tag), opts, p));
    return writtenOne(r, 'insert');
  }

  /** All rows or none: the kernel applies the batch as one operation. `payloads`: one entry per row in each array given. */
  async insertBatch(collection: string, rows: readonly (readonly unknown[])[], opts?: WriteOptions, field = 'batch', payloads?: BatchPayloads): Promise<Written> {
    const limits = this.limitsOf(collection, rows.length > 0 ? rows[0].length : null);
    const flat = toFlatBatch(rows, field, limits);
    if (rows.length === 0) return { ids: [], height: this.stats().height, deduplicated: false };
    const p = payloads?.metadata === undefined && payloads?.texts === undefined ? undefined : payloads;
    return written(await this.write(() => this.native.insertBatch(collection, flat, rows.length, opts, p)));
  }

  /** A batch the kernel already parsed and checked (`parseBatchJson`): `rows` rows of the collection's dimension. */
  async insertParsedBatch(collection: string, vectors: Float32Array, rows: number, opts?: WriteOptions): Promise<Written> {
    return written(await this.write(() => this.native.insertBatch(collection, vectors, rows, opts, undefined)));
  }

  /** A body with one vector parsed and checked on the worker pool, or null for the general path (src/http/vector-body.ts). */
  parseVectorJson(body: Buffer, route: VectorRouteOptions): Promise<ParsedVector | null> {
    return call(() => this.native.parseVectorJson(body, route));
  }

  /** A batch insert's raw JSON body parsed and checked on the worker pool, or null for the general path (src/http/batch-body.ts). */
  parseBatchJson(body: Buffer, route: BatchRouteOptions): Promise<ParsedBatch | null> {
    return call(() => this.native.parseBatchJson(body, route));
  }

  /** Replaces a record's metadata (live or soft-deleted; NOT_FOUND otherwise) with a JSON object. */
  async setRecordMetadata(collection: string, id: number, metadata: unknown, opts?: WriteOptions): Promise<Written> {
    const json = payloadJson(metadata);
    return written(await this.write(() => this.native.setRecordMetadata(collection, id, json, opts)));
  }

  async deleteRecord(collection: string, id: number, opts?: WriteOptions): Promise<Written> {
    return written(await this.write(() => this.native.deleteRecord(collection, id, opts)));
  }

  async softDeleteRecord(collection: string, id: number, opts?: WriteOptions): Promise<Written> {
    return written(await this.write(() => this.native.softDeleteRecord(collection, id, opts)));
  }

  /** A live or soft-deleted record; null when unknown or hard-deleted. */
  getRecord(collection: string, id: number): RecordOut | null {
    const r = callSync(() => this.native.getRecord(collection, id));
    if (r === null) return null;
    return { id: r.id, values: Array.from(r.values), tag: Number(r.tag), softDeleted: r.softDeleted, metadata: r.metadata ?? null, text: r.text ?? null };
  }

  /** k best live records by the collection's metric (ties by id); `params.filter` is handed to the kernel as JSON text. */
  search(collection: string, query: ClientVector, k: number, params: SearchParams = {}, field = 'query'): Promise<SearchHit[]> {
    const options = searchOptions(params);
    const run = (): Promise<SearchHit[]> => call(() => this.native.search(collection, this.vector(collection, query, field), k, options));
    return tracingEnabled() ? traceTask('kernel.search', run) : run();
  }

  /**
   * A search route's raw JSON body parsed, checked, searched and answered on the worker pool: the
   * answer's bytes, or null when the request needs the general path (src/http/search-body.ts).
   */
  searchJson(body: Buffer, route: SearchRouteOptions): Promise<Buffer | null> {
    return call(() => this.native.searchJson(body, route));
  }

  /** Rebuilds/retrains the collection's search index from its records; false when it has none. */
  buildIndex(collection: string): Promise<boolean> {
    return call(() => this.native.buildIndex(collection));
  }

  // ---- Graph -----------------------------------------------------------------------------------

  async createNode(collection: string, kind: number, recordId: number | null, opts?: WriteOptions): Promise<WrittenOne> {
    return writtenOne(await this.write(() => this.native.createNode(collection, kind, recordId, opts)), 'createNode');
  }

  async createEdge(collection: string, from: number, to: number, kind: number, opts?: WriteOptions): Promise<WrittenOne> {
    return writtenOne(await this.write(() => this.native.createEdge(collection, from, to, kind, opts)), 'createEdge');
  }

  /** Deletes the node and its incident edges. */
  async deleteNode(collection: string, id: number, opts?: WriteOptions): Promise<Written> {
    return written(await this.write(() => this.native.deleteNode(collection, id, opts)));
  }

  async deleteEdge(collection: string, id: number, opts?: WriteOptions): Promise<Written> {
    return written(await this.write(() => this.native.deleteEdge(collection, id, opts)));
  }

  getNode(collection: string, id: number): GraphNode | null {
    return callSync(() => this.native.getNode(collection, id));
  }

  /** Outgoing edges, newest first; null when the node does not exist. */
  getEdges(collection: string, nodeId: number): GraphEdge[] | null {
    return callSync(() => this.native.getEdges(collection, nodeId));
  }

  /** Live nodes in id order, `limit` from `offset`, optionally of one kind; `total` counts all matches. */
  listNodes(collection: string, offset: number, limit: number, kind: number | null = null): NodePage {
    return callSync(() => this.native.listNodes(collection, offset, limit, kind));
  }

  /** Breadth-first from `start` (not itself a hit), ordered by depth then node id; NOT_FOUND for an unknown start. */
  graphQuery(collection: string, start: number, query: GraphQuery): GraphHit[] {
    return callSync(() => this.native.graphQuery(collection, start, query));
  }

  /** Nodes and edges reached from `root` over outgoing edges, up to `depth`, at most `limit` nodes. */
  subgraph(collection: string, root: number, depth: number, limit: number): Subgraph {
    return callSync(() => this.native.subgraph(collection, root, depth, limit));
  }

  // ---- Memory and metadata ---------------------------------------------------------------------

  /** Record + document node (unless attaching) + chunk node + edge, as one kernel operation. */
  async upsertMemory(collection: string, values: ClientVector, attachTo: number | null, metadata: unknown, opts?: WriteOptions): Promise<UpsertOutcome> {
    const vector = this.vector(collection, values, 'vector');
    // The record's own metadata: the kernel bounds it (and wants an object).
    const json = metadata === undefined || metadata === null ? null : payloadJson(metadata);
    const r = await this.write(() => this.native.upsertMemory(collection, vector, attachTo, json, opts));
    if (r.ids.length < 4) throw new KernelError('INTERNAL', 'upsertMemory resolved without its four ids');
    const [recordId, documentNodeId, chunkNodeId, edgeId] = r.ids;
    return { recordId, documentNodeId, chunkNodeId, edgeId, height: r.height, deduplicated: r.deduplicated };
  }

  /** On `rec:<id>` this is the record's metadata (an object; the kernel bounds it), else a free-form value. */
  async setMetadata(collection: string, key: string, value: unknown, opts?: WriteOptions): Promise<Written> {
    const json = recordKey(key) ? payloadJson(value) : metadataJson(value);
    return written(await this.write(() => this.native.setMetadata(collection, key, json, opts)));
  }

  /** The stored value, or null when the key has none. */
  getMetadata(collection: string, key: string): unknown {
    const json = this.getMetadataJson(collection, key);
    return json === null ? null : (JSON.parse(json) as unknown);
  }

  /** The stored value as the JSON text it was stored as, or null when the key has none. */
  getMetadataJson(collection: string, key: string): string | null {
    return callSync(() => this.native.getMetadata(collection, key));
  }

  // ---- Whole-node operations -------------------------------------------------------------------

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

  /**
   * The current durable state as a VAL1 file produced in pieces of at most 1 MiB: the kernel
   * never holds the file whole (`GET /v1/snapshot/download`). `close()` when done or abandoned.
   */
  async snapshotStream(): Promise<SnapshotPieces> {
    const s = await call(() => this.native.snapshotStream());
    return {
      length: s.length,
      height: s.height,
      next: () => call(() => s.next()),
      close: () => s.close(),
    };
  }

  /** The bytes of a named snapshot (see saveSnapshot). */
  readSnapshotFile(name: string): Promise<Buffer> {
    return call(() => this.native.readSnapshotFile(name));
  }

  /** Replaces the whole state with validated VAL1 bytes; resolves with the new height. */
  restoreSnapshot(bytes: Buffer, bootstrap = false): Promise<number> {
    return this.restoring(() => this.native.restoreSnapshot(bytes, bootstrap));
  }

  /** `restoreSnapshot` from the named snapshot `name` (not a bootstrap), mapped rather than copied. */
  restoreNamedSnapshot(name: string): Promise<number> {
    return this.restoring(() => this.native.restoreNamedSnapshot(name));
  }

  /** `restoreSnapshot` from a VAL1 file, which the kernel maps instead of reading onto the heap. */
  restoreSnapshotFile(path: string, bootstrap = false): Promise<number> {
    return this.restoring(() => this.native.restoreSnapshotFile(path, bootstrap));
  }

  private async restoring(work: () => Promise<number>): Promise<number> {
    // Odd while a restore runs, even after: a cached proof is valid only for the epoch it was
    // computed in (a bootstrap may replace the state without changing the height).
    this.restores++;
    try {
      return await call(work);
    } finally {
      this.restores++;
      this.collections.changed();
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

  logProof(): LogProofResult | null {
    return callSync(() => this.native.logProof());
  }

  /** Bytes of event-log frames appended since open; O(1), no lock (the checkpoint trigger polls it). */
  appendedLogBytes(): number {
    return callSync(() => this.native.appendedLogBytes());
  }

  lastSnapshot(): SnapshotResult | null {
    return callSync(() => this.native.lastSnapshot());
  }

  recovery(): RecoveryInfo {
    return callSync(() => this.native.recovery());
  }

  /** BLAKE3 over the canonical state (every collection and the idempotency table), 64 lowercase hex chars. */
  stateHash(): Promise<string> {
    return call(() => this.native.stateHash());
  }

  /**
   * Committed events from `fromSeq` (1-based), at most `limit`, with their commit times; only
   * the events of `collection` when given. Needs the event log (INVALID_ARGUMENT without one).
   */
  timeline(fromSeq: number, limit: number, collection: string | null = null): Promise<Timeline> {
    return call(() => this.native.timeline(fromSeq, limit, collection));
  }

  // ---- Replication: proofs, event reads and follower apply -------------------------------------

  /**
   * State hash and the height it was taken at, read atomically (replicas compare equal heights).
   * With `collection`, that collection's own hash (its config and data only).
   */
  stateProof(collection: string | null = null): Promise<StateProof> {
    return call(() => this.native.stateProof(collection));
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
    // A replicated event may create or drop a collection.
    this.collections.changed();
    return call(() => this.native.applyReplicated(seq, payload)).finally(() => this.collections.changed());
  }
}
