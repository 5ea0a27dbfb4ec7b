// Collections, on valori-node 0.3.1's paths: create (POST /v1/namespaces), list (GET) and drop
// (DELETE /v1/namespaces/:name). Creating and dropping are events like any write: replicated,
// in the state hash, keyed by Idempotency-Key (or request_id) when the client sends one. The
// collection `default` exists from genesis (VALORI_DIM, VALORI_INDEX, VALORI_QUANT) and cannot be
// dropped. A key restricted to one collection may create, see and drop that one only.
import { COLLECTION_NAME as NAME } from '../../api/collection-name';
import { maxCollectionDim } from '../../config';
import { canonicalMetric } from '../../kernel/collections';
import type { CollectionInfo } from '../../kernel/kernel';
import { audited, auditDetails } from '../audit';
import { principalOf } from '../auth';
import { AppError } from '../errors';
import { check } from '../schemas';
import { authorizeCollection, dedupField, headerKey, writeKey } from '../scope';
import { type RouteContext, type RouteHandlers } from './context';


/** A collection as GET /v1/namespaces lists it (0.3.1's field names). */
export function collectionView(c: CollectionInfo) {
  return {
    name: c.name,
    id: c.id,
    dimension: c.dim,
    metric: c.metric,
    index: c.index,
    quant: c.quant,
    record_count: c.records.live,
    max_records: c.maxRecords ?? null,
  };
}

export function namespaceRoutes(ctx: RouteContext): RouteHandlers {
  const routes: RouteHandlers = {};
  const { kernel, config, validators: v, json } = ctx;

  routes.createCollection = audited('collection.create', [
    ...json,
    async (req, res) => {
      const body = check(v.createCollection, req.body);
      authorizeCollection(res, body.name);
      const widest = maxCollectionDim(config);
      if (body.dimension > widest) {
        throw new AppError('INVALID_REQUEST', `dimension ${body.dimension} is above VALORI_MAX_DIM (${widest}), the widest collection this node accepts`);
      }
      const metric = canonicalMetric(body.metric);
      const key = writeKey(req, body.request_id);
      const r = await kernel.createCollection(
        {
          name: body.name,
          dim: body.dimension,
          metric: body.metric,
          // Unset: the node's settings, as for the default collection.
          index: body.index ?? config.index,
          quant: body.quant ?? config.quant,
          maxRecords: body.max_records,
        },
        key === null ? undefined : { idempotencyKey: key },
      );
      auditDetails(res, { collection: body.name, id: r.id, dimension: body.dimension, metric: body.metric ?? null, deduplicated: r.deduplicated });
      res.json({ name: body.name, id: r.id, created: true, metric, ...(key === null ? {} : { deduplicated: r.deduplicated }) });
    },
  ]);

  routes.listCollections = [
    (_req, res) => {
      const own = principalOf(res)?.collection ?? null;
      const all = kernel.listCollections();
      res.json({ collections: (own === null ? all : all.filter((c) => c.name === own)).map(collectionView) });
    },
  ];

  routes.dropCollection = audited('collection.drop', [
    async (req, res) => {
      const name = String(req.params.name);
      if (!NAME.test(name)) {
        throw new AppError('INVALID_REQUEST', `${JSON.stringify(name.slice(0, 80))} is not a collection name: 1-64 letters, digits, "_" or "-", starting with a letter or digit`);
      }
      authorizeCollection(res, name);
      const key = headerKey(req);
      const scope = { collection: name, opts: key === null ? undefined : { idempotencyKey: key }, keyed: key !== null };
      const r = await kernel.dropCollection(name, scope.opts);
      auditDetails(res, { collection: name, deduplicated: r.deduplicated });
      res.json({ success: true, name, ...dedupField(scope, r.deduplicated) });
    },
  ]);

  return routes;
}
