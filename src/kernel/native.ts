// The only file that loads the native addon. The path is relative to the compiled file, and
// src/kernel/ and dist/kernel/ sit at the same depth, so it works under tsx and from dist/.
import type * as Native from '../../native/index.js';
import { bindingLoadError } from './binding-error';

export type NativeKernel = Native.Kernel;
export type KernelOptions = Native.KernelOptions;
export type KernelStats = Native.KernelStats;
export type PoolStats = Native.PoolStats;
export type SearchHit = Native.SearchHit;
export type GraphNode = Native.GraphNode;
export type GraphEdge = Native.GraphEdge;
export type SnapshotResult = Native.SnapshotResult;
export type LogProofResult = Native.LogProofResult;
export type RecoveryInfo = Native.RecoveryInfo;
export type SearchRouteOptions = Native.SearchRouteOptions;
export type BatchRouteOptions = Native.BatchRouteOptions;
export type ParsedBatch = Native.ParsedBatch;
export type VectorRouteOptions = Native.VectorRouteOptions;
export type ParsedVector = Native.ParsedVector;

type NativeModule = typeof Native;

let cached: NativeModule | undefined;

/**
 * Loads the addon once. When no binary matches this host, the error names the platform and the
 * package that provides it (see binding-error.ts), instead of the generated loader's message.
 */
export function loadNative(): NativeModule {
  if (cached === undefined) {
    try {
      cached = require('../../native/index.js') as NativeModule;
    } catch (err) {
      throw bindingLoadError(err);
    }
  }
  return cached;
}
