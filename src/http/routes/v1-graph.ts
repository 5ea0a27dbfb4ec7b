// The knowledge graph on valori-node 0.3.1's /v1 surface: create, read and delete nodes, list
// them a page at a time, create edges, list a node's edges, and two bounded traversals (a
// filtered breadth-first query and a subgraph). Every route takes `collection` (absent:
// default); node and edge ids are per collection. Kinds are the v0.1.0 integers 0..255 (the
// request schemas' u8), which is what valoricore sends. An unknown node is a 404: valoricore
// reads 404 as "absent", which is right for a node that truly is not there.
import type { GraphQuery } from '../../kernel/contract';
import { AppError } from '../errors';
import { check } from '../schemas';
import { headerKey, queryCollection, writeScope } from '../scope';
import { parseId, type RouteContext, type RouteHandlers } from './context';
import { queryId, queryInt } from './query-params';

/** GET /v1/graph/nodes: page size when `limit` is absent, and its largest value. */
export const NODE_PAGE_DEFAULT = 1_000;
export const NODE_PAGE_MAX = 10_000;
/** GET /v1/graph/query and /v1/graph/subgraph: default and deepest depth. */
export const GRAPH_DEPTH_DEFAULT = 2;
export const GRAPH_DEPTH_MAX = 32;
/** GET /v1/graph/query: hits when `limit` is absent, and the most one answer lists. */
export const GRAPH_HITS_DEFAULT = 100;
export const GRAPH_HITS_MAX = 10_000;
/** GET /v1/graph/subgraph: nodes when `limit` is absent, and the most one answer lists. */
export const SUBGRAPH_NODES_DEFAULT = 1_000;
export const SUBGRAPH_NODES_MAX = 10_000;

/** 0.3.1 spells directions out (valoricore's default is "outgoing"); the short forms work too. */
const DIRECTIONS: Readonly<Record<string, GraphQuery['direction']>> = {
  outgoing: 'out',
  out: 'out',
  incoming: 'in',
  in: 'in',
  both: 'both',
};

function notFound(id: number, collection: string): AppError {
  return new AppError('NOT_FOUND', `node ${id} does not exist in collection "${collection}"`);
}

/** `v010`: the v0.1.0 graph handlers (graph.ts), whose edge listing this file serves on a second path. */
export function v1GraphRoutes(ctx: RouteContext, v010: RouteHandlers): RouteHandlers {
  const routes: RouteHandlers = {};
  const { kernel, validators: v, json } = ctx;

  routes.v1CreateNode = [
    ...json,
    async (req, res) => {
      const body = check(v.v1CreateNode, req.body);
      const scope = writeScope(req, res, body);
      const r = await kernel.createNode(scope.collection, body.kind, body.record_id ?? null, scope.opts);
      res.json({ node_id: r.id, log_index: r.height, deduplicated: r.deduplicated });
    },
  ];

  routes.v1GetNode = [
    (req, res) => {
      const id = parseId(req.params.id, 'node id');
      const collection = queryCollection(req, res);
      const node = kernel.getNode(collection, id);
      if (node === null) throw notFound(id, collection);
      res.json({ kind: node.kind, record_id: node.recordId ?? null, namespace_id: kernel.collectionId(collection) });
    },
  ];

  // A DELETE has no body: its idempotency key can only come from the Idempotency-Key header.
  routes.v1DeleteNode = [
    async (req, res) => {
      const id = parseId(req.params.id, 'node id');
      const collection = queryCollection(req, res);
      const key = headerKey(req);
      const r = await kernel.deleteNode(collection, id, key === null ? undefined : { idempotencyKey: key });
      res.json({ success: true, log_index: r.height, deduplicated: r.deduplicated });
    },
  ];

  routes.v1ListNodes = [
    (req, res) => {
      const collection = queryCollection(req, res);
      const kind = queryInt(req, 'kind', 0, 255, null);
      const offset = queryInt(req, 'offset', 0, 4_294_967_295, 0);
      const limit = queryInt(req, 'limit', 1, NODE_PAGE_MAX, NODE_PAGE_DEFAULT);
      const page = kernel.listNodes(collection, offset, limit, kind);
      const ns = kernel.collectionId(collection);
      res.json({
        nodes: page.nodes.map((n) => ({ node_id: n.nodeId, kind: n.kind, record_id: n.recordId ?? null, namespace_id: ns })),
        count: page.total,
      });
    },
  ];

  routes.v1CreateEdge = [
    ...json,
    async (req, res) => {
      const body = check(v.v1CreateEdge, req.body);
      const scope = writeScope(req, res, body);
      const r = await kernel.createEdge(scope.collection, body.from, body.to, body.kind, scope.opts);
      res.json({ edge_id: r.id, log_index: r.height, deduplicated: r.deduplicated });
    },
  ];

  // The same answer as v0.1.0's /graph/edges/:id (graph.ts): outgoing edges, newest first.
  routes.v1ListEdges = v010.listEdges;

  routes.v1Subgraph = [
    (req, res) => {
      const collection = queryCollection(req, res);
      const root = queryId(req, 'root');
      const depth = queryInt(req, 'depth', 0, GRAPH_DEPTH_MAX, GRAPH_DEPTH_DEFAULT);
      const limit = queryInt(req, 'limit', 1, SUBGRAPH_NODES_MAX, SUBGRAPH_NODES_DEFAULT);
      const g = kernel.subgraph(collection, root, depth, limit);
      res.json({
        nodes: g.nodes.map((n) => ({ id: n.id, kind: n.kind, record: n.recordId ?? null })),
        edges: g.edges.map((e) => ({ id: e.id, from: e.from, to: e.to, kind: e.kind })),
      });
    },
  ];

  routes.v1GraphQuery = [
    (req, res) => {
      const collection = queryCollection(req, res);
      const start = queryId(req, 'start');
      const rawDirection = req.query.direction ?? 'outgoing';
      const direction = typeof rawDirection === 'string' ? DIRECTIONS[rawDirection] : undefined;
      if (direction === undefined) {
        const shown = typeof rawDirection === 'string' ? JSON.stringify(rawDirection.slice(0, 40)) : 'more than one value';
        throw new AppError('INVALID_REQUEST', `direction must be one of outgoing, incoming, both (or out, in), got ${shown}`);
      }
      const query: GraphQuery = {
        direction,
        depth: queryInt(req, 'depth', 1, GRAPH_DEPTH_MAX, GRAPH_DEPTH_DEFAULT),
        limit: queryInt(req, 'limit', 1, GRAPH_HITS_MAX, GRAPH_HITS_DEFAULT),
      };
      const edgeKind = queryInt(req, 'edge_kind', 0, 255, null);
      const nodeKind = queryInt(req, 'node_kind', 0, 255, null);
      if (edgeKind !== null) query.edgeKind = edgeKind;
      if (nodeKind !== null) query.nodeKind = nodeKind;
      const hits = kernel.graphQuery(collection, start, query);
      res.json({ hits: hits.map((h) => ({ node_id: h.nodeId, kind: h.kind, record_id: h.recordId ?? null, depth: h.depth })), count: hits.length });
    },
  ];
  return routes;
}
