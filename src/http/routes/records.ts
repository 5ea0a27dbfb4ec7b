// Vector records: insert one, insert a batch (atomic), search, hard and soft delete, each in the
// request's collection (default when it names none), writes optionally keyed (src/http/scope.ts).
// Inserts carry payloads and searches filter on them and return them (src/http/payload.ts).
import type { Response } from 'express';
import { MAX_EVENT_BYTES } from '../../config';
import type { Kernel } from '../../kernel/kernel';
import { AppError } from '../errors';
import { batchPayloads, checkPayloadK, hitsJson, includeOf, includesAny, recordPayload, withFields } from '../payload';
import { check, type SearchBody } from '../schemas';
import { batchWriteScope, collectionOf, dedupField, writeScope } from '../scope';
import { searchBody } from '../search-body';
import { batchBody, parsedBatchOf } from '../batch-body';
import { vectorBody, vectorOf } from '../vector-body';
import { type RouteContext, type RouteHandlers } from './context';

/** An encoded batch event: type byte, first id, row count, component count (event.rs), then the i32s. */
export const BATCH_EVENT_HEADER_BYTES = 13;

/**
 * A batch is one event, and an event the log could not hold (or a follower could not read) must
 * be refused before the kernel applies anything (docs/security.md): 413 naming the limit.
 */
export function checkBatchFitsEvent(rows: number, dim: number): void {
  const bytes = rows * dim * 4 + BATCH_EVENT_HEADER_BYTES;
  if (bytes > MAX_EVENT_BYTES) {
    const maxRows = Math.floor((MAX_EVENT_BYTES - BATCH_EVENT_HEADER_BYTES) / (dim * 4));
    throw new AppError(
      'PAYLOAD_TOO_LARGE',
      `a batch of ${rows} rows x ${dim} components is a ${bytes}-byte event: one event holds at most ${MAX_EVENT_BYTES} bytes (${maxRows} rows at this dimension); split the batch`,
    );
  }
}

/**
 * The answer of /search and /v1/search: `{results: [{id, score}]}`, each hit with the payload
 * fields the request asked for (include, with_metadata), spliced as text (src/http/payload.ts).
 */
export async function searchAnswer(kernel: Kernel, res: Response, collection: string, body: SearchBody, maxResponseBytes: number): Promise<void> {
  const inc = includeOf(body);
  checkPayloadK(body.k, inc);
  const hits = await kernel.search(collection, body.query, body.k, {
    filterTag: body.filter_tag,
    ef: body.ef,
    nprobe: body.nprobe,
    filter: body.metadata_filter,
    ...withFields(inc),
  });
  if (!includesAny(inc)) {
    res.json({ results: hits.map((h) => ({ id: h.id, score: h.score })) });
    return;
  }
  const text = hitsJson(hits, (h) => `"id":${h.id},"score":${JSON.stringify(h.score)}`, inc, maxResponseBytes);
  res.set('Content-Type', 'application/json; charset=utf-8').send(text);
}

export function recordRoutes(ctx: RouteContext): RouteHandlers {
  const routes: RouteHandlers = {};
  const { kernel, config, validators: v, json } = ctx;

  // v0.1.0 answers keep their shape; `deduplicated` is added only when the request carried a key.
  routes.insertRecord = [
    ...vectorBody({ kernel, read: ctx.readJson, limits: ctx.jsonLimits }, 'values'),
    async (req, res) => {
      const body = check(v.insertRecord, req.body);
      const scope = writeScope(req, res, body);
      const r = await kernel.insert(scope.collection, vectorOf(res, body.values), body.tag ?? null, scope.opts, recordPayload(body));
      res.json({ id: r.id, ...dedupField(scope, r.deduplicated) });
    },
  ];

  // Two paths, one operation: the reference's batch route and the guide's name for it.
  routes.batchInsert = routes.memoryInsertBatch = [
    ...batchBody({ kernel, maxRows: config.maxBatchRows, read: ctx.readBatchJson, limits: ctx.batchLimits }),
    async (req, res) => {
      const parsed = parsedBatchOf(res);
      if (parsed !== undefined) {
        // The kernel parsed and checked the rows (src/http/batch-body.ts); the rest is as below.
        const scope = batchWriteScope(req, res, { collection: parsed.collection }, parsed.rows);
        checkBatchFitsEvent(parsed.rows, kernel.dimOf(scope.collection));
        const r = await kernel.insertParsedBatch(scope.collection, parsed.vectors, parsed.rows, scope.opts);
        res.json({ ids: r.ids, ...dedupField(scope, r.deduplicated) });
        return;
      }
      const body = check(v.batchInsert, req.body);
      const scope = batchWriteScope(req, res, body, body.batch.length);
      checkBatchFitsEvent(body.batch.length, kernel.dimOf(scope.collection));
      const payloads = batchPayloads(body, body.batch.length);
      const r = await kernel.insertBatch(scope.collection, body.batch, scope.opts, 'batch', payloads);
      res.json({ ids: r.ids, ...dedupField(scope, r.deduplicated) });
    },
  ];

  routes.search = [
    ...searchBody({ config, kernel, read: ctx.readJson, limits: ctx.jsonLimits }, 'search'),
    async (req, res) => {
      const body = check(v.search, req.body);
      await searchAnswer(kernel, res, collectionOf(res, body.collection), body, config.maxResponseBytes);
    },
  ];

  routes.deleteRecord = [
    ...json,
    async (req, res) => {
      const body = check(v.id, req.body);
      const scope = writeScope(req, res, body);
      const r = await kernel.deleteRecord(scope.collection, body.id, scope.opts);
      res.json({ success: true, ...dedupField(scope, r.deduplicated) });
    },
  ];

  routes.softDeleteRecord = [
    ...json,
    async (req, res) => {
      const body = check(v.id, req.body);
      const scope = writeScope(req, res, body);
      const r = await kernel.softDeleteRecord(scope.collection, body.id, scope.opts);
      res.json({ success: true, ...dedupField(scope, r.deduplicated) });
    },
  ];
  return routes;
}
