// Event-log routes: the hash-chain proof over the log and the online trim of its prefix.
import { KERNEL_VERSION, type Kernel } from '../../kernel/kernel';
import type { LogProofResult } from '../../kernel/native';
import { audited, auditDetails } from '../audit';
import { AppError } from '../errors';
import type { RouteContext, RouteHandlers } from './context';

/** The log's proof, or a 400 NOT_ENABLED when the node runs without an event log; `purpose` ends the message. */
export function requireEventLog(kernel: Kernel, purpose = ''): LogProofResult {
  const proof = kernel.logProof();
  if (proof === null) throw new AppError('NOT_ENABLED', `Event log not enabled: set VALORI_EVENT_LOG_PATH${purpose}`);
  return proof;
}

export function eventLogRoutes(ctx: RouteContext): RouteHandlers {
  const routes: RouteHandlers = {};
  const { kernel } = ctx;

  routes.proofEventLog = [
    async (_req, res) => {
      const proof = requireEventLog(kernel);
      // The newest snapshot: one this process wrote, else the one it recovered from (a checkpoint
      // survives a restart, and so does its height here).
      const snapshotHeight = kernel.lastSnapshot()?.height ?? kernel.recovery().snapshotHeight ?? null;
      res.json({
        kernel_version: KERNEL_VERSION,
        event_log_hash: proof.eventLogHash,
        final_state_hash: await kernel.stateHash(),
        snapshot_hash: null,
        snapshot_height: snapshotHeight,
        event_count: proof.eventCount,
        committed_height: proof.height,
        first_seq: proof.firstSeq,
      });
    },
  ];

  // Online rotation: drop the log prefix that the newest durable snapshot covers.
  routes.trimEventLog = audited('event_log.trim', [
    async (_req, res) => {
      requireEventLog(kernel);
      const base = await kernel.trimLog();
      const proof = kernel.logProof();
      auditDetails(res, { baseSeq: base, committedHeight: proof?.height ?? base });
      res.json({ success: true, base_seq: base, first_seq: base + 1, committed_height: proof?.height ?? base });
    },
  ]);

  return routes;
}
