// The timeline: committed events read back from the event log, and /v1/version.
// - GET /v1/timeline (valori-node 0.3.1): a page of events as objects, optionally of one
//   collection and between two commit times (`from`/`to`, ISO-8601). The leader stamps commit
//   times once per group and never below the previous stamp (the committer clamps them), so a
//   time bound is found by binary search over log indexes (O(log n) one-event reads), never by
//   scanning.
// - GET /timeline (v0.1.0): the same events as v0.1.0's strings, "Event ID {i}: ...", where i is
//   the 0-based position (log_index - 1). v0.1.0 returned the whole log in one answer; this one
//   returns at most TIMELINE_LINES_MAX lines per request (from_index pages through the rest).
import type { Request, Response } from 'express';
import type { TimelineEvent } from '../../kernel/contract';
import type { Kernel } from '../../kernel/kernel';
import { AppError } from '../errors';
import { collectionOf, requireUnrestricted } from '../scope';
import { requireEventLog } from './event-log';
import { queryInt } from './query-params';
import { VERSION } from './system';
import type { RouteContext, RouteHandlers } from './context';

/** GET /v1/timeline: events per page when `limit` is absent, and the most per page. */
export const TIMELINE_PAGE_DEFAULT = 100;
export const TIMELINE_PAGE_MAX = 10_000;
/** GET /timeline: the most lines (and the default) per answer. */
export const TIMELINE_LINES_MAX = 10_000;

const MAX_INDEX = Number.MAX_SAFE_INTEGER;
const NODE_KINDS = ['Record', 'Concept', 'Agent', 'User', 'Tool', 'Document', 'Chunk'];
const EDGE_KINDS = ['Relation', 'Follows', 'InEpisode', 'ByAgent', 'Mentions', 'RefersTo', 'ParentOf'];

/** An ISO-8601 time as unix milliseconds; a 400 naming the parameter otherwise. */
function queryTime(req: Request, name: 'from' | 'to'): number | null {
  const raw = req.query[name];
  if (raw === undefined) return null;
  // An unencoded "+01:00" arrives as " 01:00" (a query string's + is a space).
  const text = typeof raw === 'string' ? raw.replace(/ (\d{2}:?\d{2})$/, '+$1') : '';
  // Date.parse also takes free-form strings: ask for the ISO shape (date, optional time and zone).
  const ms = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(ms)) {
    const shown = typeof raw === 'string' ? JSON.stringify(raw.slice(0, 40)) : 'more than one value';
    throw new AppError('INVALID_REQUEST', `${name} must be an ISO-8601 time such as 2026-12-02T06:00:00Z, got ${shown} (from_index and limit page by log index)`);
  }
  return ms;
}

/** The collection filter: none (every collection, so not for a key restricted to one) or one. */
function collectionFilter(req: Request, res: Response): string | null {
  if (req.query.collection === undefined) {
    requireUnrestricted(res, 'the timeline without ?collection=');
    return null;
  }
  return collectionOf(res, req.query.collection);
}

/** Missing times (events written before the log recorded them) sort first, as they were. */
const timeOf = (e: TimelineEvent | undefined): number => e?.timeMs ?? 0;

/**
 * The first log index in [lo, hi + 1] whose commit time is >= ms (hi + 1 when none): a binary
 * search reading one event per probe (commit times never decrease along the log).
 */
async function firstAtOrAfter(kernel: Kernel, lo: number, hi: number, ms: number): Promise<number> {
  let a = lo;
  let b = hi + 1;
  while (a < b) {
    const mid = a + Math.floor((b - a) / 2);
    const page = await kernel.timeline(mid, 1);
    if (timeOf(page.events[0]) >= ms) b = mid;
    else a = mid + 1;
  }
  return a;
}

function eventJson(e: TimelineEvent): Record<string, unknown> {
  const out: Record<string, unknown> = { log_index: e.logIndex, event_type: e.eventType, collection: e.collection ?? null };
  if (e.recordId != null) out.record_id = e.recordId;
  if (e.nodeId != null) out.node_id = e.nodeId;
  if (e.edgeId != null) out.edge_id = e.edgeId;
  if (e.timeMs != null) {
    out.timestamp_unix = Math.floor(e.timeMs / 1000);
    out.timestamp_iso = new Date(e.timeMs).toISOString();
  }
  return out;
}

const kindName = (names: string[], kind: number | undefined): string => (kind === undefined ? '?' : (names[kind] ?? `Kind(${kind})`));

/** One event in v0.1.0's words (valori-http-api.md §3.26); events v0.1.0 did not have follow the same pattern. */
export function timelineLine(e: TimelineEvent): string {
  const head = `Event ID ${e.logIndex - 1}: ${e.eventType}`;
  const tag = e.tag === undefined ? '' : `, Tag: ${e.tag}`;
  let detail: string;
  switch (e.eventType) {
    case 'InsertRecord':
      detail = `Record ${e.recordId}${tag}`;
      break;
    case 'InsertBatch':
      detail = e.count === undefined || e.count === 1 ? `Record ${e.recordId}` : `Records ${e.recordId}..${(e.recordId ?? 0) + e.count - 1}`;
      break;
    case 'DeleteRecord':
    case 'SoftDeleteRecord':
      detail = `Record ${e.recordId}`;
      break;
    case 'CreateNode':
      detail = `Node ${e.nodeId}, Kind: ${kindName(NODE_KINDS, e.kind)}`;
      break;
    case 'DeleteNode':
      detail = `Node ${e.nodeId}`;
      break;
    case 'CreateEdge':
      detail = `Edge ${e.edgeId}${e.fromNode === undefined ? '' : `, NodeId(${e.fromNode}) -> NodeId(${e.toNode})`}, Kind: ${kindName(EDGE_KINDS, e.kind)}`;
      break;
    case 'DeleteEdge':
      detail = `Edge ${e.edgeId}`;
      break;
    default:
      detail = [e.recordId != null ? `Record ${e.recordId}` : '', e.nodeId != null ? `Node ${e.nodeId}` : '', e.edgeId != null ? `Edge ${e.edgeId}` : '']
        .filter((s) => s !== '')
        .join(', ');
  }
  const where = e.collection !== undefined && e.collection !== 'default' ? ` in ${e.collection}` : '';
  return `${head}${detail === '' ? '' : ` (${detail})`}${where}`;
}

export function timelineRoutes(ctx: RouteContext): RouteHandlers {
  const routes: RouteHandlers = {};
  const { kernel } = ctx;

  routes.v1Version = [(_req, res) => void res.type('text/plain').send(VERSION)];

  routes.v1Timeline = [
    async (req, res) => {
      const proof = requireEventLog(kernel, ' to keep a timeline');
      const collection = collectionFilter(req, res);
      const limit = queryInt(req, 'limit', 1, TIMELINE_PAGE_MAX, TIMELINE_PAGE_DEFAULT);
      let from = queryInt(req, 'from_index', 0, MAX_INDEX, 1);
      const fromMs = queryTime(req, 'from');
      const toMs = queryTime(req, 'to');
      if (fromMs !== null && toMs !== null && fromMs > toMs) throw new AppError('INVALID_REQUEST', 'from is later than to');
      // The log holds [firstSeq, height]; a time bound narrows it to [from, last].
      const first = Math.max(proof.firstSeq, 1);
      let last = proof.height;
      if (fromMs !== null) from = Math.max(from, await firstAtOrAfter(kernel, first, last, fromMs));
      if (toMs !== null) last = (await firstAtOrAfter(kernel, first, last, toMs + 1)) - 1;
      // An empty window still asks the kernel once, for `total`.
      const page = await kernel.timeline(from, from <= last ? limit : 1, collection);
      // Stamps never decrease, so the window [from, last] holds exactly the events within the times.
      const events = page.events.filter((e) => e.logIndex <= last);
      const body: Record<string, unknown> = { events: events.map(eventJson), total: page.total };
      // More may follow within the bounds when this page is full: continue after its last event.
      const tail = events[events.length - 1];
      if (events.length === limit && tail.logIndex < last) body.next_from_index = tail.logIndex + 1;
      if (fromMs !== null) body.from_unix = Math.floor(fromMs / 1000);
      if (toMs !== null) body.to_unix = Math.floor(toMs / 1000);
      res.json(body);
    },
  ];

  routes.timeline = [
    async (req, res) => {
      requireEventLog(kernel, ' to keep a timeline');
      const from = queryInt(req, 'from_index', 0, MAX_INDEX, 1);
      const limit = queryInt(req, 'limit', 1, TIMELINE_LINES_MAX, TIMELINE_LINES_MAX);
      const page = await kernel.timeline(from, limit);
      res.json(page.events.map(timelineLine));
    },
  ];
  return routes;
}
