// Records on valori-node 0.3.1's /v1 surface, as valoricore 0.3.1 calls it: insert one (with a
// request_id), read one back by id, insert a batch (per-row request_ids) and search. Every route
// takes `collection` (absent: default); writes answer with the event's log_index and whether an
// earlier request with the same key already did the work. /v1/delete, /v1/soft-delete and
// /v1/vectors/batch_insert are v0.1.0 paths with the same names, served by records.ts.
import { AppError } from '../errors';
import { check } from '../schemas';
import { collectionOf, queryCollection, writeScope } from '../scope';
import type { V1SearchBody } from '../v1-schemas';
import { parseId, type RouteContext, type RouteHandlers } from './context';

/**
 * 0.3.1 search fields this server cannot honour. Ignoring them would answer a different question
 * than the one asked (results not as of that time, not decayed, not filtered, not reranked by
 * text or graph), so a value other than null is a 400 naming the field. `rerank` is not here:
 * without query_text (refused) there is nothing to rerank by, and our scores are exact distances.
 */
const UNSUPPORTED_SEARCH_FIELDS: readonly { field: keyof V1SearchBody; why: string }[] = [
  { field: 'as_of', why: 'this server has no time-travel search; search the current state (GET /v1/timeline lists past events)' },
  { field: 'as_of_log_index', why: 'this server has no time-travel search; search the current state' },
  { field: 'decay_half_life_secs', why: 'this server has no recency decay: scores are plain squared L2 distances' },
  { field: 'query_text', why: 'records carry no text yet, so there is no text rerank' },
  { field: 'metadata_filter', why: 'records carry no metadata yet, so nothing can be filtered on it (filter_tag filters on the record tag)' },
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

  // metadata and text are accepted and not stored (records have no payload yet); no receipt:
  // 0.3.1's receipt carries Merkle roots this state does not have (see docs/api-reference.md).
  routes.v1InsertRecord = [
    ...json,
    async (req, res) => {
      const body = check(v.v1InsertRecord, req.body);
      const scope = writeScope(req, res, body);
      const r = await kernel.insert(scope.collection, body.values, body.tag ?? null, scope.opts);
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
      res.json({ id: r.id, vector: r.values, metadata: null, tag: r.tag });
    },
  ];

  // 0.3.1's hyphenated spelling of /v1/vectors/batch_insert: the very same handler (records.ts),
  // so one bounded batch reader, one event-size check and one idempotency path serve all three paths.
  routes.v1BatchInsert = v010.batchInsert;

  routes.v1Search = [
    ...json,
    async (req, res) => {
      const body = check(v.v1Search, req.body);
      refuseUnsupportedSearchFields(body);
      // A follower's state may trail the leader's: it cannot promise a linearizable read.
      if (body.consistency === 'linearizable' && config.followerOf !== null) {
        throw new AppError('INVALID_REQUEST', `consistency "linearizable" needs the leader (${config.followerOf}): this node is a follower and may trail it`);
      }
      const collection = collectionOf(res, body.collection);
      const hits = await kernel.search(collection, body.query, body.k, { filterTag: body.filter_tag, ef: body.ef, nprobe: body.nprobe });
      res.json({ results: hits.map((h) => ({ id: h.id, score: h.score })) });
    },
  ];

  return routes;
}

