// The "memory" API used by the Python protocol client: upsert a vector with its document/chunk
// nodes, search with metadata, and free-form metadata keyed by strings such as "rec:<id>". Each
// request works in its collection (default when it names none); metadata keys are per collection.
import type { SearchHit } from '../../kernel/native';
import { AppError } from '../errors';
import { check } from '../schemas';
import { collectionOf, dedupField, writeScope } from '../scope';
import { type RouteContext, type RouteHandlers } from './context';

const recordKey = (id: number): string => `rec:${id}`;

/**
 * The search_vector answer as JSON text, with each hit's stored metadata spliced in as the JSON
 * text the kernel holds (no parse and re-serialise: up to k x 64 KiB of metadata would otherwise
 * be built as objects and stringified again, docs/security.md). Stops with 413 RESPONSE_TOO_LARGE as
 * soon as the text would exceed `maxBytes`.
 */
export function memorySearchResponse(hits: readonly SearchHit[], metadataOf: (key: string) => string | null, maxBytes: number): string {
  const parts: string[] = ['{"results":['];
  let bytes = parts[0].length + 2;
  for (let i = 0; i < hits.length; i++) {
    const h = hits[i];
    const key = recordKey(h.id);
    const meta = metadataOf(key) ?? 'null';
    const head = `${i === 0 ? '' : ','}{"memory_id":${JSON.stringify(key)},"record_id":${h.id},"score":${JSON.stringify(h.score)},"metadata":`;
    bytes += head.length + Buffer.byteLength(meta, 'utf8') + 1;
    if (bytes > maxBytes) {
      throw new AppError(
        'RESPONSE_TOO_LARGE',
        `the answer to this search (${hits.length} hits with their metadata) is larger than ${maxBytes} bytes (VALORI_MAX_RESPONSE_BYTES): ask for a smaller k`,
      );
    }
    parts.push(head, meta, '}');
  }
  parts.push(']}');
  return parts.join('');
}

export function memoryRoutes(ctx: RouteContext): RouteHandlers {
  const routes: RouteHandlers = {};
  const { kernel, validators: v, json, config } = ctx;

  routes.upsertMemory = [
    ...json,
    async (req, res) => {
      const body = check(v.upsertVector, req.body);
      const scope = writeScope(req, res, body);
      // `tags` is validated but ignored, as in the reference; metadata goes under rec:<id>.
      const r = await kernel.upsertMemory(scope.collection, body.vector, body.attach_to_document_node ?? null, body.metadata, scope.opts);
      res.json({
        memory_id: recordKey(r.recordId),
        record_id: r.recordId,
        document_node_id: r.documentNodeId,
        chunk_node_id: r.chunkNodeId,
        ...dedupField(scope, r.deduplicated),
      });
    },
  ];

  routes.searchMemory = [
    ...json,
    async (req, res) => {
      const body = check(v.memorySearch, req.body);
      const collection = collectionOf(res, body.collection);
      const hits = await kernel.search(collection, body.query_vector, body.k, { filterTag: body.filter_tag, ef: body.ef, nprobe: body.nprobe }, 'query_vector');
      const text = memorySearchResponse(hits, (key) => kernel.getMetadataJson(collection, key), config.maxResponseBytes);
      res.set('Content-Type', 'application/json; charset=utf-8').send(text);
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
