// Knowledge graph: nodes (optionally linked to a record) and directed edges between live nodes,
// per collection (node and edge ids are the collection's own; an edge never crosses collections).
import { AppError } from '../errors';
import { check } from '../schemas';
import { dedupField, queryCollection, writeScope } from '../scope';
import { parseId, type RouteContext, type RouteHandlers } from './context';

export function graphRoutes(ctx: RouteContext): RouteHandlers {
  const routes: RouteHandlers = {};
  const { kernel, validators: v, json } = ctx;

  routes.createNode = [
    ...json,
    async (req, res) => {
      const body = check(v.createNode, req.body);
      const scope = writeScope(req, res, body);
      const r = await kernel.createNode(scope.collection, body.kind, body.record_id ?? null, scope.opts);
      res.json({ node_id: r.id, ...dedupField(scope, r.deduplicated) });
    },
  ];

  routes.getNode = [
    (req, res) => {
      const id = parseId(req.params.id, 'node id');
      const collection = queryCollection(req, res);
      const node = kernel.getNode(collection, id);
      if (node === null) throw new AppError('NOT_FOUND', `node ${id} does not exist${inCollection(collection)}`);
      res.json({ kind: node.kind, record_id: node.recordId ?? null });
    },
  ];

  routes.createEdge = [
    ...json,
    async (req, res) => {
      const body = check(v.createEdge, req.body);
      const scope = writeScope(req, res, body);
      const r = await kernel.createEdge(scope.collection, body.from, body.to, body.kind, scope.opts);
      res.json({ edge_id: r.id, ...dedupField(scope, r.deduplicated) });
    },
  ];

  routes.listEdges = [
    (req, res) => {
      const id = parseId(req.params.id, 'node id');
      const collection = queryCollection(req, res);
      const edges = kernel.getEdges(collection, id);
      // The reference answered 200 [] for an unknown node; a 404 tells "no such node" apart
      // from "node without outgoing edges".
      if (edges === null) throw new AppError('NOT_FOUND', `node ${id} does not exist${inCollection(collection)}`);
      res.json({ edges: edges.map((e) => ({ edge_id: e.edgeId, to_node: e.toNode, kind: e.kind })) });
    },
  ];
  return routes;
}

/** v0.1.0 messages stay as they were for the default collection. */
function inCollection(collection: string): string {
  return collection === 'default' ? '' : ` in collection "${collection}"`;
}
