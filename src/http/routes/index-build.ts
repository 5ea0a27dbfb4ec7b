// The index build route: rebuild or retrain a collection's search index from its current records.
import type { CollectionInfo } from '../../kernel/kernel';
import { audited, auditDetails } from '../audit';
import { AppError } from '../errors';
import { check } from '../schemas';
import { collectionOf } from '../scope';
import { busy, type RouteContext, type RouteHandlers } from './context';
import { optionalJson } from './snapshot';

/** What the build answer reports about the collection's index (index names as /health shows them). */
function described(info: CollectionInfo | undefined, collection: string): CollectionInfo {
  if (info === undefined) throw new AppError('COLLECTION_NOT_FOUND', `collection "${collection}" does not exist`);
  return info;
}

export function indexBuildRoutes(ctx: RouteContext): RouteHandlers {
  const routes: RouteHandlers = {};
  const { kernel, json, validators: v } = ctx;

  // Rebuild the search index from the records (IVF/PQ retrain on all current vectors, HNSW drops
  // deleted bridges). The index is derived state: the state hash does not change. It holds the
  // write lock for the whole build, so one runs at a time; on a follower it rebuilds that
  // follower's own index only (and stalls its applying meanwhile). The body is optional:
  // {"collection": name}; none (or {}) builds the default collection's index, as in v0.1.0.
  let indexBuilding = false;
  routes.buildIndex = audited('index.build', [
    optionalJson(json),
    async (req, res) => {
      const body = check(v.indexBuild, req.body ?? {});
      const collection = collectionOf(res, body.collection);
      if (indexBuilding) throw busy('an index build is already running on this node: retry when it is done');
      indexBuilding = true;
      const started = process.hrtime.bigint();
      let built: boolean;
      try {
        built = await kernel.buildIndex(collection);
      } finally {
        indexBuilding = false;
      }
      const info = described(kernel.listCollections().find((c) => c.name === collection), collection);
      auditDetails(res, { collection, index: info.index, rebuilt: built, records: info.records.live });
      res.json({
        success: true,
        index: info.index,
        quant: info.quant,
        rebuilt: built,
        records: info.records.live,
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
      });
    },
  ]);

  return routes;
}
