// The binding's types (collections, write options and results, reads), re-exported from the generated
// native/index.d.ts under the names the shell uses, so route files need not import the addon's
// declarations directly.
import type * as Native from '../../native/index.js';

export type WriteOptions = Native.WriteOptions;
export type WriteResult = Native.WriteResult;
export type CollectionSpec = Native.CollectionSpec;
export type CollectionInfo = Native.CollectionInfo;
export type RecordView = Native.RecordView;
export type NodeView = Native.NodeListEntry;
export type NodePage = Native.NodePage;
export type GraphQuery = Native.GraphQuery;
export type GraphHit = Native.GraphHit;
export type Subgraph = Native.Subgraph;
export type TimelineEvent = Native.TimelineEvent;
export type Timeline = Native.Timeline;
export type ContractStats = Native.KernelStats;

/** One record's payload: metadata as JSON object text, text as plain text. */
export type RecordPayload = Native.RecordPayload;
/** Per-row payloads of a batch: each array absent or exactly one entry per row. */
export type BatchPayloads = Native.BatchPayloads;
export type SearchOptions = Native.SearchOptions;
/** A hit; metadata (canonical JSON text), text and vector only when asked and the record has one. */
export type SearchHit = Native.SearchHit;
export type ContractKernel = Native.Kernel;
