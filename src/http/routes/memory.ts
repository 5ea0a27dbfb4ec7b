// The "memory" API used by the Python protocol client: upsert a vector with its document/chunk
// nodes, search with metadata, and free-form metadata keyed by strings such as "rec:<id>".
import { check } from '../schemas';
import { defineRoute, type RouteContext } from './context';

const recordKey = (id: number): string => `rec:${id}`;

export function registerMemoryRoutes(ctx: RouteContext): void {
  const { app, kernel, validators: v, json } = ctx;

  defineRoute(app, '/v1/memory/upsert_vector', {
    post: [
      ...json,
      async (req, res) => {
        const body = check(v.upsertVector, req.body);
        // `tags` is validated but ignored, as in the reference; metadata goes under rec:<id>.
        const r = await kernel.upsertMemory(body.vector, body.attach_to_document_node ?? null, body.metadata);
        res.json({
          memory_id: recordKey(r.recordId),
          record_id: r.recordId,
          document_node_id: r.documentNodeId,
          chunk_node_id: r.chunkNodeId,
        });
      },
    ],
  });

  defineRoute(app, '/v1/memory/search_vector', {
    post: [
      ...json,
      async (req, res) => {
        const body = check(v.memorySearch, req.body);
        const hits = await kernel.search(body.query_vector, body.k, { filterTag: body.filter_tag, ef: body.ef, nprobe: body.nprobe }, 'query_vector');
        const results = hits.map((h) => ({
          memory_id: recordKey(h.id),
          record_id: h.id,
          score: h.score,
          metadata: kernel.getMetadata(recordKey(h.id)),
        }));
        res.json({ results });
      },
    ],
  });

  defineRoute(app, '/v1/memory/meta/set', {
    post: [
      ...json,
      async (req, res) => {
        const body = check(v.metaSet, req.body);
        await kernel.setMetadata(body.target_id, body.metadata);
        res.json({ success: true });
      },
    ],
  });

  defineRoute(app, '/v1/memory/meta/get', {
    get: [
      (req, res) => {
        const query = check(v.metaGet, req.query);
        // Never 404: an unset key answers metadata null, as existing clients expect.
        res.json({ target_id: query.target_id, metadata: kernel.getMetadata(query.target_id) });
      },
    ],
  });
}
