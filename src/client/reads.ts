// The /v1 reads (a record, node pages, graph traversals, the timeline), the graph delete and the
// node maintenance calls (event-log trim, index build). ValoriClient (client.ts) extends this class,
// so these are ValoriClient methods; they live here to keep each file to one screenful of routes.
import { callOptions, ClientCore } from './core.js';
import type { CallOptions, CollectionOption, JsonObject, NodeId, RecordId, WriteCallOptions } from './types.js';
import type {
  EventLogTrimResult,
  GraphQueryOptions,
  GraphQueryResult,
  IndexBuildResult,
  ListNodesOptions,
  NodePage,
  RecordView,
  Subgraph,
  SubgraphOptions,
  TimelineOptions,
  TimelinePage,
} from './types-reads.js';
import { camelize, compact, queryString } from './wire.js';

const iso = (t: string | Date | undefined) => (t instanceof Date ? t.toISOString() : t);

export abstract class ValoriReads extends ClientCore {
  /** GET /v1/records/:id: a record's stored vector, metadata, text and tag (404 NOT_FOUND when deleted or never written). */
  async getRecord(id: RecordId, options: CollectionOption = {}): Promise<RecordView> {
    const path = `/v1/records/${encodeURIComponent(id)}${queryString({ collection: options.collection })}`;
    const { r, o } = await this.json({ ...callOptions(options), method: 'GET', path });
    const vector = r.array(o, 'vector').map((x, i) => (typeof x === 'number' ? x : r.fail(`"vector[${i}]" is not a number`)));
    const text = o.text === undefined || o.text === null ? null : r.string(o, 'text');
    return { id: r.number(o, 'id'), vector, metadata: (o.metadata ?? null) as JsonObject | null, text, tag: r.number(o, 'tag') };
  }

  /**
   * PATCH /v1/records/:id/metadata: replaces a record's metadata with `metadata` (404 NOT_FOUND
   * for an unknown record). The record keeps its id, vector, text and tag.
   */
  async updateRecordMetadata(id: RecordId, metadata: JsonObject, options: WriteCallOptions = {}): Promise<void> {
    const path = `/v1/records/${encodeURIComponent(id)}/metadata${queryString({ collection: options.collection })}`;
    await this.json({ ...callOptions(options), method: 'PATCH', path, json: metadata, idempotencyKey: options.idempotencyKey });
  }

  /** GET /v1/graph/nodes: live nodes in id order, a page at a time (`offset`, `limit`), optionally of one kind. */
  async listNodes(options: ListNodesOptions = {}): Promise<NodePage> {
    const query = queryString({ collection: options.collection, kind: options.kind, offset: options.offset, limit: options.limit });
    const { r, o } = await this.json({ ...callOptions(options), method: 'GET', path: `/v1/graph/nodes${query}` });
    const nodes = r.objects(o, 'nodes', (n) => ({
      nodeId: r.number(n, 'node_id'),
      kind: r.number(n, 'kind'),
      recordId: r.nullableNumber(n, 'record_id'),
      namespaceId: r.number(n, 'namespace_id'),
    }));
    return { nodes, count: r.number(o, 'count') };
  }

  /**
   * GET /v1/graph/query: use this to find related nodes. Breadth-first from `start` (not itself a
   * hit) along edges in `direction`, optionally only edges of `edgeKind`, reporting nodes of
   * `nodeKind`; hits by depth, then node id.
   */
  async graphQuery(start: NodeId, options: GraphQueryOptions = {}): Promise<GraphQueryResult> {
    const query = queryString({
      start,
      collection: options.collection,
      direction: options.direction,
      edge_kind: options.edgeKind,
      node_kind: options.nodeKind,
      depth: options.depth,
      limit: options.limit,
    });
    const { r, o } = await this.json({ ...callOptions(options), method: 'GET', path: `/v1/graph/query${query}` });
    const hits = r.objects(o, 'hits', (h) => ({
      nodeId: r.number(h, 'node_id'),
      kind: r.number(h, 'kind'),
      recordId: r.nullableNumber(h, 'record_id'),
      depth: r.number(h, 'depth'),
    }));
    return { hits, count: r.number(o, 'count') };
  }

  /** GET /v1/graph/subgraph: use this to export a neighbourhood: nodes and edges reachable from `root` over outgoing edges. */
  async subgraph(root: NodeId, options: SubgraphOptions = {}): Promise<Subgraph> {
    const query = queryString({ root, collection: options.collection, depth: options.depth, limit: options.limit });
    const { r, o } = await this.json({ ...callOptions(options), method: 'GET', path: `/v1/graph/subgraph${query}` });
    return {
      nodes: r.objects(o, 'nodes', (n) => ({ id: r.number(n, 'id'), kind: r.number(n, 'kind'), record: r.nullableNumber(n, 'record') })),
      edges: r.objects(o, 'edges', (e) => ({ id: r.number(e, 'id'), from: r.number(e, 'from'), to: r.number(e, 'to'), kind: r.number(e, 'kind') })),
    };
  }

  /** DELETE /v1/graph/node/:id: deletes a node and its edges (the linked record stays). */
  async deleteNode(id: NodeId, options: WriteCallOptions = {}): Promise<void> {
    const path = `/v1/graph/node/${encodeURIComponent(id)}${queryString({ collection: options.collection })}`;
    await this.json({ ...callOptions(options), method: 'DELETE', path, idempotencyKey: options.idempotencyKey });
  }

  /**
   * GET /v1/timeline: committed events from the event log, a page at a time (pass the answer's
   * `nextFromIndex` as `fromIndex` for the next page). Needs VALORI_EVENT_LOG_PATH (else 400 NOT_ENABLED).
   */
  async timeline(options: TimelineOptions = {}): Promise<TimelinePage> {
    const query = queryString({ collection: options.collection, from_index: options.fromIndex, limit: options.limit, from: iso(options.from), to: iso(options.to) });
    const { r, o } = await this.json({ ...callOptions(options), method: 'GET', path: `/v1/timeline${query}` });
    r.array(o, 'events');
    r.number(o, 'total');
    // Event and page fields are server-defined names (no user data): camelize is safe here.
    return camelize(o) as TimelinePage;
  }

  /**
   * POST /v1/event-log/trim (admin): drops the event-log prefix the newest snapshot covers, so the
   * log stops growing without bound. Take a snapshot (snapshotSave) first; a follower trims its own.
   */
  async trimEventLog(options: CallOptions = {}): Promise<EventLogTrimResult> {
    const { r, o } = await this.json({ ...callOptions(options), method: 'POST', path: '/v1/event-log/trim' });
    return { baseSeq: r.number(o, 'base_seq'), firstSeq: r.number(o, 'first_seq'), committedHeight: r.number(o, 'committed_height') };
  }

  /**
   * POST /v1/index/build (admin): rebuilds or retrains a collection's search index (HNSW, IVF) from
   * its current records. One build at a time per node (429 OPERATION_IN_PROGRESS otherwise); it can take a
   * while, so pass a larger `timeoutMs` for big collections. Not retried after a lost answer.
   */
  async buildIndex(options: CollectionOption = {}): Promise<IndexBuildResult> {
    const { r, o } = await this.json({ ...callOptions(options), method: 'POST', path: '/v1/index/build', json: compact({ collection: options.collection }) });
    return {
      index: r.string(o, 'index'),
      quant: r.string(o, 'quant'),
      rebuilt: o.rebuilt === true,
      records: r.number(o, 'records'),
      seconds: r.number(o, 'seconds'),
    };
  }
}
