// Knowledge graph: nodes (optionally linked to a record) and directed edges between live nodes.
import { AppError } from '../errors';
import { check } from '../schemas';
import { parseId, type RouteContext, type RouteHandlers } from './context';

export function graphRoutes(ctx: RouteContext): RouteHandlers {
  const routes: RouteHandlers = {};
  const { kernel, validators: v, json } = ctx;

  routes.createNode = [
    ...json,
    async (req, res) => {
      const body = check(v.createNode, req.body);
      const nodeId = await kernel.createNode(body.kind, body.record_id ?? null);
      res.json({ node_id: nodeId });
    },
  ];

  routes.getNode = [
    (req, res) => {
      const id = parseId(req.params.id, 'node id');
      const node = kernel.getNode(id);
      if (node === null) throw new AppError('NOT_FOUND', `node ${id} does not exist`);
      res.json({ kind: node.kind, record_id: node.recordId ?? null });
    },
  ];

  routes.createEdge = [
    ...json,
    async (req, res) => {
      const body = check(v.createEdge, req.body);
      const edgeId = await kernel.createEdge(body.from, body.to, body.kind);
      res.json({ edge_id: edgeId });
    },
  ];

  routes.listEdges = [
    (req, res) => {
      const id = parseId(req.params.id, 'node id');
      const edges = kernel.getEdges(id);
      // The reference answered 200 [] for an unknown node; a 404 tells "no such node" apart
      // from "node without outgoing edges".
      if (edges === null) throw new AppError('NOT_FOUND', `node ${id} does not exist`);
      res.json({ edges: edges.map((e) => ({ edge_id: e.edgeId, to_node: e.toNode, kind: e.kind })) });
    },
  ];
  return routes;
}
