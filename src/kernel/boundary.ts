// The kernel wrapper's boundary plumbing and result types: native errors become KernelError,
// config becomes KernelOptions, metadata becomes bounded JSON text, WriteResult becomes plain
// numbers. Split from kernel.ts so the Kernel class reads as the list of operations it is.
import { maxSnapshotBytes, type Config } from '../config';
import type { SearchOptions, WriteResult } from './contract';
import { KernelError, toKernelError } from './errors';
import type { KernelOptions } from './native';

/** The kernel's cap on one metadata value, as UTF-8 JSON bytes. */
export const MAX_METADATA_BYTES = 65_536;

export interface SearchParams {
  /** Only records with this tag (a JSON-safe unsigned integer). */
  filterTag?: number | null;
  ef?: number | null;
  nprobe?: number | null;
  /** A metadata filter (docs/api-reference.md "Payloads and filters"); the kernel validates it. Null: none. */
  filter?: unknown;
  /** Return each hit's metadata (canonical JSON text), text, vector. */
  withMetadata?: boolean;
  withText?: boolean;
  withVector?: boolean;
}

/** A write's outcome: the ids it assigned (per operation, see the contract), its height, and
 * whether an earlier write with the same idempotency key already did it (nothing was written). */
export interface Written {
  ids: number[];
  height: number;
  deduplicated: boolean;
}

/** The outcome of a write that assigns one id (insert, createNode, createEdge, createCollection). */
export interface WrittenOne {
  id: number;
  height: number;
  deduplicated: boolean;
}

export interface UpsertOutcome {
  recordId: number;
  documentNodeId: number;
  chunkNodeId: number;
  edgeId: number;
  height: number;
  deduplicated: boolean;
}

/** A record as GET /v1/records/:id shows it. */
export interface RecordOut {
  id: number;
  values: number[];
  /** The record's tag (0 when none was given). */
  tag: number;
  softDeleted: boolean;
  /** Its metadata as the kernel's canonical JSON object text, or null when it has none. */
  metadata: string | null;
  text: string | null;
}

/** What a collection is created with; omitted index settings come from the node's config. */
export interface NewCollection {
  name: string;
  dim: number;
  metric?: string | null;
  index?: string | null;
  quant?: string | null;
  maxRecords?: number | null;
}

export function kernelOptions(config: Config): KernelOptions {
  return {
    dim: config.dim,
    maxRecords: config.maxRecords,
    maxNodes: config.maxNodes,
    maxEdges: config.maxEdges,
    maxMetadataEntries: config.maxMetadataEntries,
    maxMetadataBytes: config.maxMetadataBytes,
    index: config.index,
    quant: config.quant,
    hnswM: config.hnswM,
    hnswEfConstruction: config.hnswEfConstruction,
    hnswEfSearch: config.hnswEfSearch,
    ivfNlist: config.ivfNlist,
    ivfNprobe: config.ivfNprobe,
    eventLogPath: config.eventLogPath ?? undefined,
    snapshotPath: config.snapshotPath ?? undefined,
    walPath: config.walPath ?? undefined,
    acceptTruncation: config.acceptTruncation,
    maxNamedSnapshots: config.maxNamedSnapshots,
    maxSnapshotBytes: maxSnapshotBytes(config),
    indexThreads: config.indexThreads,
  };
}

export async function call<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw toKernelError(err);
  }
}

export function callSync<T>(work: () => T): T {
  try {
    return work();
  } catch (err) {
    throw toKernelError(err);
  }
}

/**
 * `value` as JSON text, unbounded: for record payloads and filters, whose size, depth and key
 * limits the kernel enforces on its canonical form (this text is longer or equal, so checking it
 * here could refuse what the kernel accepts).
 */
export function payloadJson(value: unknown, field = 'metadata'): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    // Nesting too deep for the stringifier (a RangeError): the caller's value, not a kernel fault.
    // (HTTP bodies are depth-capped before they get here, see http/body.ts.)
    if (err instanceof RangeError) throw new KernelError('INVALID_ARGUMENT', `${field} nests too deeply to be stored as JSON: ${err.message}`);
    throw err;
  }
}

/** Metadata under a key that is no record's: JSON text of at most MAX_METADATA_BYTES. */
export function metadataJson(value: unknown): string {
  const json = payloadJson(value);
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > MAX_METADATA_BYTES) {
    throw new KernelError('METADATA_TOO_LARGE', `metadata is ${bytes} bytes of JSON: at most ${MAX_METADATA_BYTES} are accepted`);
  }
  return json;
}

/** `rec:<id>` with a canonical decimal id: the key of a record's own metadata (its payload). */
export const recordKey = (key: string): boolean => /^rec:(0|[1-9][0-9]{0,9})$/.test(key);

/** The binding's search options; the filter as JSON text, which the kernel parses and validates. */
export function searchOptions(params: SearchParams): SearchOptions {
  return {
    filterTag: params.filterTag == null ? undefined : BigInt(params.filterTag),
    ef: params.ef ?? undefined,
    nprobe: params.nprobe ?? undefined,
    filter: params.filter == null ? undefined : payloadJson(params.filter, 'metadata_filter'),
    withMetadata: params.withMetadata === true ? true : undefined,
    withText: params.withText === true ? true : undefined,
    withVector: params.withVector === true ? true : undefined,
  };
}

export function written(r: WriteResult): Written {
  return { ids: Array.from(r.ids), height: r.height, deduplicated: r.deduplicated };
}

export function writtenOne(r: WriteResult, what: string): WrittenOne {
  if (r.ids.length < 1) throw new KernelError('INTERNAL', `${what} resolved without an id`);
  return { id: r.ids[0], height: r.height, deduplicated: r.deduplicated };
}
