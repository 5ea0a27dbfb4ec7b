// Records on valori-node 0.3.1's /v1 surface, as valoricore 0.3.1 calls it: insert one (with a
// request_id and a payload), read one back by id, replace its metadata, insert a batch (per-row
// request_ids and payloads) and search (with metadata_filter and payload fields). Every route
// takes `collection` (absent: default); writes answer with the event's log_index and whether an
// earlier request with the same key already did the work. /v1/delete, /v1/soft-delete and
// /v1/vectors/batch_insert are v0.1.0 paths with the same names, served by records.ts.
import { AppError } from '../errors';
import { recordPayload } from '../payload';
import { check } from '../schemas';
import { collectionOf, dedupField, headerKey, queryCollection, writeScope } from '../scope';
import { searchBody } from '../search-body';
import { vectorBody, vectorOf } from '../vector-body';
import type { V1SearchBody } from '../v1-schemas';
import { parseId, type RouteContext, type RouteHandlers } from './context';
import { searchAnswer } from './records';

/**
 * 0.3.1 search fields this server cannot honour. Ignoring them would answer a different question
 * than the one asked (results not as of that time, not decayed, not filtered, not reranked by
 * text or graph), so a value other than null is a 400 naming the field. `rerank` is not here:
 * without query_text (refused) there is nothing to rerank by, and our scores are exact distances.
 */
const UNSUPPORTED_SEARCH_FIELDS: readonly { field: keyof V1SearchBody; why: string }[] = [
  { field: 'as_of', why: 'this server has no time-travel search; search the current state (GET /v1/timeline lists past events)' },
  { field: 'as_of_log_index', why: 'this server has no time-travel search; search the current state' },
  { field: 'decay_half_life_secs', why: 'this server has no recency decay: scores depend on the vectors and the collection\'s metric only' },
  { field: 'query_text', why: 'this server has no text rerank: scores are exact distances or similarities by the collection\'s metric' },
  { field: 'graph_rerank', why: 'this server has no graph rerank; use GET /v1/graph/query around the hits' },
];

export function refuseUnsupportedSearchFields(body: V1SearchBody): void {
  for (const { field, why } of UNSUPPORTED_SEARCH_FIELDS) {
    if (body[field] !== undefined && body[field] !== null) throw new AppError('INVALID_REQUEST', `${field} is not supported: ${why}`);
  }
}

/** `v010`: the v0.1.0 record handlers (records.ts), whose batch insert this file serves on a second path. */
export function v1RecordRoutes(ctx: RouteContext, v010: RouteHandlers): RouteHandlers {
  const routes: RouteHandlers = {};
  const { kernel, config, validators: v, json } = ctx;

  // No receipt: 0.3.1's receipt carries Merkle roots this state does not have (see docs/api-reference.md).
  routes.v1InsertRecord = [
    ...vectorBody({ kernel, read: ctx.readJson, limits: ctx.jsonLimits }, 'values'),
    async (req, res) => {
      const body = check(v.v1InsertRecord, req.body);
      const scope = writeScope(req, res, body);
      const r = await kernel.insert(scope.collection, vectorOf(res, body.values), body.tag ?? null, scope.opts, recordPayload(body));
      res.json({ id: r.id, log_index: r.height, deduplicated: r.deduplicated });
    },
  ];

  routes.v1GetRecord = [
    (req, res) => {
      const id = parseId(req.params.id, 'record id');
      const collection = queryCollection(req, res);
      const r = kernel.getRecord(collection, id);
      // A soft-deleted record is deleted as far as readers go (search skips it too).
      if (r === null || r.softDeleted) throw new AppError('NOT_FOUND', `record ${id} does not exist in collection "${collection}"`);
      // JSON.parse keeps an own "__proto__" key as data, and res.json writes it back out as such.
      const metadata = r.metadata === null ? null : (JSON.parse(r.metadata) as unknown);
      res.json({ id: r.id, vector: r.values, metadata, text: r.text, tag: r.tag });
    },
  ];

  // The body is the new metadata itself (0.3.1's shape), so the collection comes from the query
  // and an idempotency key from the Idempotency-Key header only.
  routes.v1SetRecordMetadata = [
    ...json,
    async (req, res) => {
      const id = parseId(req.params.id, 'record id');
      const collection = queryCollection(req, res);
      const metadata: unknown = req.body;
      if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
        throw new AppError('INVALID_REQUEST', 'the body must be a JSON object: the record\'s new metadata');
      }
      const key = headerKey(req);
      const scope = { collection, opts: key === null ? undefined : { idempotencyKey: key }, keyed: key !== null };
      const r = await kernel.setRecordMetadata(collection, id, metadata, scope.opts);
      res.json({ ok: true, id, ...dedupField(scope, r.deduplicated) });
    },
  ];

  // 0.3.1's hyphenated spelling of /v1/vectors/batch_insert: the very same handler (records.ts),
  // so one bounded batch reader, one event-size check and one idempotency path serve all three paths.
  routes.v1BatchInsert = v010.batchInsert;

  routes.v1Search = [
    ...searchBody({ config, kernel, read: ctx.readJson, limits: ctx.jsonLimits }, 'v1Search'),
    async (req, res) => {
      const body = check(v.v1Search, req.body);
      refuseUnsupportedSearchFields(body);
      // A follower's state may trail the leader's: it cannot promise a linearizable read.
      if (body.consistency === 'linearizable' && config.followerOf !== null) {
        throw new AppError('INVALID_REQUEST', `consistency "linearizable" needs the leader (${config.followerOf}): this node is a follower and may trail it`);
      }
      await searchAnswer(kernel, res, collectionOf(res, body.collection), body, config.maxResponseBytes);
    },
  ];

  return routes;
}

