// Knowledge graph: nodes (optionally linked to a record) and directed edges between live nodes.
import { AppError } from '../errors';
import { check } from '../schemas';
import { defineRoute, parseId, type RouteContext } from './context';

export function registerGraphRoutes(ctx: RouteContext): void {
  const { app, kernel, validators: v, json } = ctx;

  defineRoute(app, '/graph/node', {
    post: [
      ...json,
      async (req, res) => {
        const body = check(v.createNode, req.body);
        const nodeId = await kernel.createNode(body.kind, body.record_id ?? null);
        res.json({ node_id: nodeId });
      },
    ],
  });

  defineRoute(app, '/graph/node/:id', {
    get: [
      (req, res) => {
        const id = parseId(req.params.id, 'node id');
        const node = kernel.getNode(id);
        if (node === null) throw new AppError('NOT_FOUND', `node ${id} does not exist`);
        res.json({ kind: node.kind, record_id: node.recordId ?? null });
      },
    ],
  });

  defineRoute(app, '/graph/edge', {
    post: [
      ...json,
      async (req, res) => {
        const body = check(v.createEdge, req.body);
        const edgeId = await kernel.createEdge(body.from, body.to, body.kind);
        res.json({ edge_id: edgeId });
      },
    ],
  });

  defineRoute(app, '/graph/edges/:id', {
    get: [
      (req, res) => {
        const id = parseId(req.params.id, 'node id');
        const edges = kernel.getEdges(id);
        // The reference answered 200 [] for an unknown node; a 404 tells "no such node" apart
        // from "node without outgoing edges".
        if (edges === null) throw new AppError('NOT_FOUND', `node ${id} does not exist`);
        res.json({ edges: edges.map((e) => ({ edge_id: e.edgeId, to_node: e.toNode, kind: e.kind })) });
      },
    ],
  });
}
