// Entry point of the typed Valori HTTP client (`valori-node/client`). It uses only the global
// fetch, AbortController and URL, so it has no dependency on the server code or on Express.
export { ValoriClient } from './client';
export {
  ValoriConnectionError,
  ValoriError,
  ValoriTimeoutError,
  VALORI_SERVER_ERROR_CODES,
  type ValoriClientErrorCode,
  type ValoriErrorCode,
  type ValoriErrorInit,
  type ValoriServerErrorCode,
} from './errors';
export {
  EdgeKind,
  NodeKind,
  type CreateEdgeInput,
  type CreateNodeInput,
  type EventLogProof,
  type GraphEdge,
  type GraphNode,
  type Health,
  type InsertOptions,
  type JsonValue,
  type MemoryHit,
  type PoolHealth,
  type ProofState,
  type ProofStateOptions,
  type ReplicationState,
  type SearchHit,
  type SearchOptions,
  type SnapshotSaveResult,
  type UpsertVectorInput,
  type UpsertVectorResult,
  type ValoriClientOptions,
  type Vector,
} from './types';
