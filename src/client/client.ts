// ValoriClient: one method per route of the Valori HTTP API (docs/api-reference.md). The API is
// camelCase; the wire format is the server's snake_case JSON. Retries, redirects, auth and
// timeouts live in transport.ts. Data calls take `collection` (default: the server's `default`
// collection); every data write carries an Idempotency-Key made once per call and re-sent on its
// retries, so a retry after a lost answer cannot write twice.
import { callOptions } from './core.js';
import { ValoriReads } from './reads.js';
import type {
  BatchInsertOptions,
  CallOptions,
  CollectionCreated,
  CollectionInfo,
  CollectionOption,
  CreateCollectionInput,
  CreateEdgeInput,
  CreateNodeInput,
  EdgeId,
  EventLogProof,
  GraphEdge,
  GraphNode,
  Health,
  InsertOptions,
  JsonValue,
  MemoryHit,
  NodeId,
  ProofState,
  ProofStateOptions,
  RecordId,
  ReplicationState,
  SearchHit,
  SearchOptions,
  SnapshotSaveResult,
  UpsertVectorInput,
  UpsertVectorResult,
  Vector,
  WriteCallOptions,
} from './types.js';
import { camelize, compact, hitPayload, queryString, searchFields } from './wire.js';

/** `?collection=NAME`, or '' for the default collection; `sep` joins it to an existing query. */
function collectionQuery(options: CollectionOption, sep: '?' | '&' = '?'): string {
  return options.collection === undefined ? '' : `${sep}collection=${encodeURIComponent(options.collection)}`;
}

/** Calls that are no data write take these; data writes take WriteCallOptions. */
type KeyOption = CallOptions & Pick<WriteCallOptions, 'idempotencyKey'>;

export class ValoriClient extends ValoriReads {
  // ---- Operations ------------------------------------------------------------------------------

  /**
   * GET /health (public). Resolves for HTTP 200 and for HTTP 503 (`status: 'full'`): a full node
   * is an answer, not a failure, so a 503 carrying the health document is neither retried nor
   * thrown. Pool figures are counts; `fillPct` is a percentage.
   */
  async health(options: CallOptions = {}): Promise<Health> {
    const { o } = await this.json({ ...callOptions(options), method: 'GET', path: '/health', acceptStatuses: [503] });
    return camelize(o) as Health;
  }

  /** GET /metrics (public): the Prometheus text exposition, as served. */
  async metrics(options: CallOptions = {}): Promise<string> {
    return (await this.send({ ...callOptions(options), method: 'GET', path: '/metrics', read: 'text' })).body as string;
  }

  /** GET /version: the server's version string, e.g. `0.1.0`. */
  async version(options: CallOptions = {}): Promise<string> {
    return (await this.send({ ...callOptions(options), method: 'GET', path: '/version', read: 'text' })).body as string;
  }

  /**
   * GET /v1/proof/state: the BLAKE3 hash of the kernel state (`finalStateHash`, 64 lowercase hex
   * characters). Two nodes that applied the same writes report the same hash. With `height`,
   * asks for the hash at that committed height (`?height=N`, for comparing replicas).
   */
  async proofState(options: ProofStateOptions = {}): Promise<ProofState> {
    const query = queryString({ height: options.height, collection: options.collection });
    const { r, o } = await this.json({ ...callOptions(options), method: 'GET', path: `/v1/proof/state${query}` });
    r.number(o, 'kernel_version');
    r.string(o, 'final_state_hash');
    return camelize(o) as ProofState;
  }

  /** GET /v1/proof/event-log: hash, event count and committed height of the event log. */
  async proofEventLog(options: CallOptions = {}): Promise<EventLogProof> {
    const { o } = await this.json({ ...callOptions(options), method: 'GET', path: '/v1/proof/event-log' });
    return camelize(o) as EventLogProof;
  }

  /** GET /v1/replication/state: role, status (`Synced`, `Diverged`, ...), heights and lag. */
  async replicationState(options: CallOptions = {}): Promise<ReplicationState> {
    const { r, o } = await this.json({ ...callOptions(options), method: 'GET', path: '/v1/replication/state' });
    r.string(o, 'status');
    return camelize(o) as ReplicationState;
  }

  // ---- Collections ----------------------------------------------------------------------------

  /**
   * POST /v1/namespaces: creates a collection with its own dimension, index and quantization
   * (default: the server's VALORI_INDEX / VALORI_QUANT). A name in use answers 409
   * COLLECTION_EXISTS.
   */
  async createCollection(input: CreateCollectionInput, options: KeyOption = {}): Promise<CollectionCreated> {
    const json = compact({ name: input.name, dimension: input.dimension, metric: input.metric, index: input.index, quant: input.quant, max_records: input.maxRecords });
    const { r, o } = await this.json({ ...callOptions(options), method: 'POST', path: '/v1/namespaces', json, idempotencyKey: options.idempotencyKey });
    const metric = o.metric === undefined ? {} : { metric: r.string(o, 'metric') };
    return { name: r.string(o, 'name'), id: r.number(o, 'id'), created: o.created === true, ...metric, deduplicated: o.deduplicated === true };
  }

  /** GET /v1/namespaces: every collection in id order (a key restricted to one sees that one). */
  async listCollections(options: CallOptions = {}): Promise<CollectionInfo[]> {
    const { r, o } = await this.json({ ...callOptions(options), method: 'GET', path: '/v1/namespaces' });
    return r.objects(o, 'collections', (c) => ({
      name: r.string(c, 'name'),
      id: r.number(c, 'id'),
      dimension: r.number(c, 'dimension'),
      metric: r.string(c, 'metric'),
      index: r.string(c, 'index'),
      quant: r.string(c, 'quant'),
      recordCount: r.number(c, 'record_count'),
      maxRecords: r.nullableNumber(c, 'max_records'),
    }));
  }

  /** DELETE /v1/namespaces/:name: drops a collection and everything in it (`default` cannot be dropped: 409). */
  async dropCollection(name: string, options: KeyOption = {}): Promise<void> {
    await this.json({ ...callOptions(options), method: 'DELETE', path: `/v1/namespaces/${encodeURIComponent(name)}`, idempotencyKey: options.idempotencyKey });
  }

  // ---- Records ---------------------------------------------------------------------------------

  /**
   * POST /records: inserts one vector (the collection's dimension), with its metadata and text
   * when given; resolves to its record id.
   */
  async insert(values: Vector, options: InsertOptions = {}): Promise<RecordId> {
    const json = compact({
      values: this.vector(values, 'values', 'POST', '/records'),
      tag: options.tag,
      metadata: options.metadata,
      text: options.text,
      collection: options.collection,
    });
    const { r, o } = await this.json({ ...callOptions(options), method: 'POST', path: '/records', json, idempotencyKey: options.idempotencyKey });
    return r.number(o, 'id');
  }

  /**
   * POST /v1/vectors/batch_insert: inserts all vectors atomically (all or none), with per-vector
   * `metadata` and `texts` when given (one entry per vector, null for none); resolves to their
   * ids, consecutive and in input order.
   */
  async insertBatch(vectors: readonly Vector[], options: BatchInsertOptions = {}): Promise<RecordId[]> {
    return this.batch('/v1/vectors/batch_insert', vectors, options);
  }

  /**
   * The same operation as insertBatch (the server's /v1/memory/insert_batch is an alias of its
   * batch insert); this name suggested a memory-API variant that does not exist.
   * @deprecated Use insertBatch.
   */
  async insertBatchMemory(vectors: readonly Vector[], options: BatchInsertOptions = {}): Promise<RecordId[]> {
    return this.insertBatch(vectors, options);
  }

  /**
   * POST /search: the k best live records by the collection's metric, best first: `score` is the
   * squared Euclidean (L2) distance (ascending, 0 = exact match), or for cosine and dot
   * collections the similarity (descending). `k` is 1..VALORI_MAX_K; fewer hits come back if fewer
   * records exist or match `filter`. `include` adds each hit's metadata, text or vector.
   */
  async search(query: Vector, k: number, options: SearchOptions = {}): Promise<SearchHit[]> {
    const json = compact({ query: this.vector(query, 'query', 'POST', '/search'), k, ...searchFields(options), collection: options.collection });
    const { r, o } = await this.json({ ...callOptions(options), method: 'POST', path: '/search', json });
    return r.objects(o, 'results', (hit) => ({ id: r.number(hit, 'id'), score: r.number(hit, 'score'), ...hitPayload(r, hit) }));
  }

  /** POST /v1/delete: hard-deletes a record, its linked graph nodes, their edges and its metadata. */
  async delete(id: RecordId, options: WriteCallOptions = {}): Promise<void> {
    await this.json({ ...callOptions(options), method: 'POST', path: '/v1/delete', json: compact({ id, collection: options.collection }), idempotencyKey: options.idempotencyKey });
  }

  /**
   * POST /v1/soft-delete: tombstones a record. It leaves search results but keeps counting
   * against capacity; soft-deleting it again is a no-op.
   */
  async softDelete(id: RecordId, options: WriteCallOptions = {}): Promise<void> {
    await this.json({ ...callOptions(options), method: 'POST', path: '/v1/soft-delete', json: compact({ id, collection: options.collection }), idempotencyKey: options.idempotencyKey });
  }

  // ---- Graph -----------------------------------------------------------------------------------

  /** POST /graph/node: creates a node (kind 0..255, see NodeKind); resolves to its node id. */
  async createNode(input: CreateNodeInput, options: WriteCallOptions = {}): Promise<NodeId> {
    const json = compact({ kind: input.kind, record_id: input.recordId, collection: options.collection });
    const { r, o } = await this.json({ ...callOptions(options), method: 'POST', path: '/graph/node', json, idempotencyKey: options.idempotencyKey });
    return r.number(o, 'node_id');
  }

  /** GET /graph/node/:id: the node's kind and linked record (null when none). */
  async getNode(id: NodeId, options: CollectionOption = {}): Promise<GraphNode> {
    const { r, o } = await this.json({ ...callOptions(options), method: 'GET', path: `/graph/node/${encodeURIComponent(id)}${collectionQuery(options)}` });
    return { kind: r.number(o, 'kind'), recordId: r.nullableNumber(o, 'record_id') };
  }

  /** POST /graph/edge: creates a directed edge (kind 0..255, see EdgeKind) within one collection; resolves to its edge id. */
  async createEdge(input: CreateEdgeInput, options: WriteCallOptions = {}): Promise<EdgeId> {
    const json = compact({ from: input.from, to: input.to, kind: input.kind, collection: options.collection });
    const { r, o } = await this.json({ ...callOptions(options), method: 'POST', path: '/graph/edge', json, idempotencyKey: options.idempotencyKey });
    return r.number(o, 'edge_id');
  }

  /** GET /graph/edges/:id: the node's outgoing edges, newest first. */
  async getEdges(nodeId: NodeId, options: CollectionOption = {}): Promise<GraphEdge[]> {
    const { r, o } = await this.json({ ...callOptions(options), method: 'GET', path: `/graph/edges/${encodeURIComponent(nodeId)}${collectionQuery(options)}` });
    return r.objects(o, 'edges', (e) => ({ edgeId: r.number(e, 'edge_id'), toNode: r.number(e, 'to_node'), kind: r.number(e, 'kind') }));
  }

  // ---- Memory ----------------------------------------------------------------------------------

  /**
   * POST /v1/memory/upsert_vector: use this to store a vector with its metadata and graph links.
   * Always inserts (a new record each call, never an update): a record, a Document node (unless
   * attaching to one), a Chunk node, a ParentOf edge and the metadata (under `rec:<recordId>`),
   * atomically. Find them again with searchMemory.
   */
  async insertMemory(input: UpsertVectorInput, options: WriteCallOptions = {}): Promise<UpsertVectorResult> {
    const json = compact({
      vector: this.vector(input.vector, 'vector', 'POST', '/v1/memory/upsert_vector'),
      attach_to_document_node: input.attachToDocumentNode,
      tags: input.tags,
      metadata: input.metadata,
      collection: options.collection,
    });
    const { r, o } = await this.json({ ...callOptions(options), method: 'POST', path: '/v1/memory/upsert_vector', json, idempotencyKey: options.idempotencyKey });
    return {
      memoryId: r.string(o, 'memory_id'),
      recordId: r.number(o, 'record_id'),
      documentNodeId: r.number(o, 'document_node_id'),
      chunkNodeId: r.number(o, 'chunk_node_id'),
    };
  }

  /**
   * It inserts (a new record on every call); the name promised an update it never did.
   * @deprecated Use insertMemory (same route, same result).
   */
  async upsertVector(input: UpsertVectorInput, options: WriteCallOptions = {}): Promise<UpsertVectorResult> {
    return this.insertMemory(input, options);
  }

  /**
   * POST /v1/memory/search_vector: like search(), with each hit's memory id and stored metadata
   * (always; `include` can add text and vector). `score` follows the collection's metric.
   */
  async searchMemory(query: Vector, k: number, options: SearchOptions = {}): Promise<MemoryHit[]> {
    const json = compact({ query_vector: this.vector(query, 'query', 'POST', '/v1/memory/search_vector'), k, ...searchFields(options), collection: options.collection });
    const { r, o } = await this.json({ ...callOptions(options), method: 'POST', path: '/v1/memory/search_vector', json });
    return r.objects(o, 'results', (hit) => ({
      memoryId: r.string(hit, 'memory_id'),
      recordId: r.number(hit, 'record_id'),
      score: r.number(hit, 'score'),
      ...hitPayload(r, hit),
      metadata: (hit.metadata ?? null) as JsonValue | null,
    }));
  }

  /**
   * POST /v1/memory/meta/set: stores `metadata` (any JSON, at most 65,536 bytes as JSON) under
   * `targetId`, replacing an earlier value. Conventional keys: `rec:<recordId>` (the record's own
   * metadata, which must then be an object; see updateRecordMetadata), `node:<nodeId>`.
   */
  async setMetadata(targetId: string, metadata: JsonValue, options: WriteCallOptions = {}): Promise<void> {
    const json = compact({ target_id: targetId, metadata, collection: options.collection });
    await this.json({ ...callOptions(options), method: 'POST', path: '/v1/memory/meta/set', json, idempotencyKey: options.idempotencyKey });
  }

  /** GET /v1/memory/meta/get: the value stored under `targetId`, or null when none is. */
  async getMetadata<T extends JsonValue = JsonValue>(targetId: string, options: CollectionOption = {}): Promise<T | null> {
    const { o } = await this.json({ ...callOptions(options), method: 'GET', path: `/v1/memory/meta/get?target_id=${encodeURIComponent(targetId)}${collectionQuery(options, '&')}` });
    return (o.metadata ?? null) as T | null;
  }

  /** @deprecated Use searchMemory (same route, same result); renamed to pair with insertMemory. */
  async searchVector(query: Vector, k: number, options: SearchOptions = {}): Promise<MemoryHit[]> {
    return this.searchMemory(query, k, options);
  }

  // ---- Snapshots -------------------------------------------------------------------------------

  /**
   * POST /v1/snapshot/save: writes the main snapshot (VALORI_SNAPSHOT_PATH), or with `path` a
   * named snapshot in the server's `snapshots/` directory; resolves to the file written, the
   * height it holds and its size in bytes.
   */
  async snapshotSave(options: CallOptions & { path?: string } = {}): Promise<SnapshotSaveResult> {
    const { r, o } = await this.json({ ...callOptions(options), method: 'POST', path: '/v1/snapshot/save', json: compact({ path: options.path }) });
    return { path: r.string(o, 'path'), height: r.number(o, 'height'), bytes: r.number(o, 'bytes') };
  }

  /**
   * GET /v1/snapshot/download: the current state as snapshot bytes. With `{ stream: true }`,
   * resolves once the headers arrive to a stream of the body (timeoutMs then covers only the
   * headers; reading is up to the caller, and `signal` still cancels it).
   */
  snapshotDownload(): Promise<Uint8Array>;
  snapshotDownload(options: CallOptions & { stream: true }): Promise<ReadableStream<Uint8Array>>;
  snapshotDownload(options: CallOptions & { stream?: false }): Promise<Uint8Array>;
  async snapshotDownload(options: CallOptions & { stream?: boolean } = {}): Promise<Uint8Array | ReadableStream<Uint8Array>> {
    const read = options.stream === true ? 'stream' : 'bytes';
    return (await this.send({ ...callOptions(options), method: 'GET', path: '/v1/snapshot/download', read })).body as Uint8Array | ReadableStream<Uint8Array>;
  }

  /** POST /v1/snapshot/upload: replaces the server's state with these snapshot bytes. */
  async snapshotUpload(bytes: Uint8Array | ArrayBuffer, options: CallOptions = {}): Promise<void> {
    const body = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    await this.send({ ...callOptions(options), method: 'POST', path: '/v1/snapshot/upload', bytes: body, read: 'none' });
  }

  /** POST /v1/snapshot/restore: replaces the server's state with a named snapshot saved earlier. */
  async snapshotRestore(path: string, options: CallOptions = {}): Promise<void> {
    await this.json({ ...callOptions(options), method: 'POST', path: '/v1/snapshot/restore', json: { path } });
  }

  // ---- Plumbing --------------------------------------------------------------------------------

  private async batch(path: string, vectors: readonly Vector[], options: BatchInsertOptions): Promise<RecordId[]> {
    const json = compact({ batch: this.vectors(vectors, 'vectors', 'POST', path), metadata: options.metadata, texts: options.texts, collection: options.collection });
    const { r, o } = await this.json({ ...callOptions(options), method: 'POST', path, json, idempotencyKey: options.idempotencyKey });
    return r.array(o, 'ids').map((id, i) => (typeof id === 'number' ? id : r.fail(`"ids[${i}]" is not a number`)));
  }
}
