// Vector records: insert one, insert a batch (atomic), search, hard and soft delete.
import { check } from '../schemas';
import { defineRoute, type RouteContext } from './context';

export function registerRecordRoutes(ctx: RouteContext): void {
  const { app, kernel, validators: v, json } = ctx;

  defineRoute(app, '/records', {
    post: [
      ...json,
      async (req, res) => {
        const body = check(v.insertRecord, req.body);
        const id = await kernel.insert(body.values, body.tag ?? null);
        res.json({ id });
      },
    ],
  });

  // Two paths, one operation: the reference's batch route and the guide's name for it.
  for (const path of ['/v1/vectors/batch_insert', '/v1/memory/insert_batch']) {
    defineRoute(app, path, {
      post: [
        ...json,
        async (req, res) => {
          const body = check(v.batchInsert, req.body);
          const ids = await kernel.insertBatch(body.batch);
          res.json({ ids });
        },
      ],
    });
  }

  defineRoute(app, '/search', {
    post: [
      ...json,
      async (req, res) => {
        const body = check(v.search, req.body);
        const hits = await kernel.search(body.query, body.k, { filterTag: body.filter_tag, ef: body.ef, nprobe: body.nprobe });
        res.json({ results: hits.map((h) => ({ id: h.id, score: h.score })) });
      },
    ],
  });

  defineRoute(app, '/v1/delete', {
    post: [
      ...json,
      async (req, res) => {
        const body = check(v.id, req.body);
        await kernel.deleteRecord(body.id);
        res.json({ success: true });
      },
    ],
  });

  defineRoute(app, '/v1/soft-delete', {
    post: [
      ...json,
      async (req, res) => {
        const body = check(v.id, req.body);
        await kernel.softDeleteRecord(body.id);
        res.json({ success: true });
      },
    ],
  });
}
