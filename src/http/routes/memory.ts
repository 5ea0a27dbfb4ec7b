// The "memory" API used by the Python protocol client: upsert a vector with its document/chunk
// nodes, search with metadata, and free-form metadata keyed by strings such as "rec:<id>" (that
// key is the record's own metadata, its payload: one entry, not a copy). Each request works in
// its collection (default when it names none); metadata keys are per collection.
import { checkPayloadK, hitsJson, includeOf, withFields } from '../payload';
import { check } from '../schemas';
import { collectionOf, dedupField, writeScope } from '../scope';
import { vectorBody, vectorOf } from '../vector-body';
import { type RouteContext, type RouteHandlers } from './context';

const recordKey = (id: number): string => `rec:${id}`;

/** A memory hit's own fields, as JSON members; its metadata (always) and asked payload fields follow. */
const memoryHead = (h: { id: number; score: number }): string => `"memory_id":"${recordKey(h.id)}","record_id":${h.id},"score":${JSON.stringify(h.score)}`;

export function memoryRoutes(ctx: RouteContext): RouteHandlers {
  const routes: RouteHandlers = {};
  const { kernel, validators: v, json, config } = ctx;

  routes.upsertMemory = [
    ...vectorBody({ kernel, read: ctx.readJson, limits: ctx.jsonLimits }, 'vector'),
    async (req, res) => {
      const body = check(v.upsertVector, req.body);
      const scope = writeScope(req, res, body);
      // `tags` is validated but ignored, as in the reference; metadata goes under rec:<id>.
      const r = await kernel.upsertMemory(scope.collection, vectorOf(res, body.vector), body.attach_to_document_node ?? null, body.metadata, scope.opts);
      res.json({
        memory_id: recordKey(r.recordId),
        record_id: r.recordId,
        document_node_id: r.documentNodeId,
        chunk_node_id: r.chunkNodeId,
        ...dedupField(scope, r.deduplicated),
      });
    },
  ];

  // Two paths, one operation: 0.1.0's search_vector and 0.3.1's /v1/memory/search. The metadata
  // comes with the kernel's hits (spliced as the kernel's JSON text, src/http/payload.ts).
  routes.searchMemory = routes.searchMemoryAlias = [
    ...vectorBody({ kernel, read: ctx.readJson, limits: ctx.jsonLimits }, 'query_vector'),
    async (req, res) => {
      const body = check(v.memorySearch, req.body);
      const collection = collectionOf(res, body.collection);
      const inc = { ...includeOf(body), metadata: true };
      checkPayloadK(body.k, inc);
      const params = { filterTag: body.filter_tag, ef: body.ef, nprobe: body.nprobe, filter: body.metadata_filter, ...withFields(inc) };
      const hits = await kernel.search(collection, vectorOf(res, body.query_vector), body.k, params, 'query_vector');
      res.set('Content-Type', 'application/json; charset=utf-8').send(hitsJson(hits, memoryHead, inc, config.maxResponseBytes));
    },
  ];

  routes.setMetadata = [
    ...json,
    async (req, res) => {
      const body = check(v.metaSet, req.body);
      const scope = writeScope(req, res, body);
      const r = await kernel.setMetadata(scope.collection, body.target_id, body.metadata, scope.opts);
      res.json({ success: true, ...dedupField(scope, r.deduplicated) });
    },
  ];

  routes.getMetadata = [
    (req, res) => {
      const query = check(v.metaGet, req.query);
      const collection = collectionOf(res, query.collection);
      // Never 404: an unset key answers metadata null, as existing clients expect.
      res.json({ target_id: query.target_id, metadata: kernel.getMetadata(collection, query.target_id) });
    },
  ];
  return routes;
}
