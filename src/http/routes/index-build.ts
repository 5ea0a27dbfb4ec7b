// The index build route: rebuild or retrain the search index from the current records.
import { busy, type RouteContext, type RouteHandlers } from './context';

export function indexBuildRoutes(ctx: RouteContext): RouteHandlers {
  const routes: RouteHandlers = {};
  const { kernel } = ctx;

  // Rebuild the search index from the records (IVF/PQ retrain on all current vectors, HNSW drops
  // deleted bridges). The index is derived state: the state hash does not change. It holds the
  // write lock for the whole build, so one runs at a time; on a follower it rebuilds that
  // follower's own index only (and stalls its applying meanwhile).
  let indexBuilding = false;
  routes.buildIndex = [
    async (_req, res) => {
      if (indexBuilding) throw busy('an index build is already running on this node: retry when it is done');
      indexBuilding = true;
      const started = process.hrtime.bigint();
      let built: boolean;
      try {
        built = await kernel.buildIndex();
      } finally {
        indexBuilding = false;
      }
      const stats = kernel.stats();
      res.json({
        success: true,
        index: stats.index,
        quant: stats.quant,
        rebuilt: built,
        records: stats.records.live,
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
      });
    },
  ];

  return routes;
}
