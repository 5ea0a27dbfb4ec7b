// Audit lines: who replaced the state or administered the node, and what came of it.
//
// The rule (docs/operations.md, "Logs"): every call that reaches the handler of an audited route
// leaves exactly one info line with `audit: true` and its `action`, written when the handler is
// done, not when the client hangs up, so a restore that outlives its client is still recorded
// with its result. `outcome: "ok"` carries what the handler reported (auditDetails);
// `outcome: "failed"` carries the error code. Requests refused before the handler (401, 403,
// malformed JSON, a follower's redirect to its leader) leave only their access line.
import type { RequestHandler, Response } from 'express';
import { KernelError } from '../kernel/errors';
import type { Logger } from '../log';
import { principalOf } from './auth';
import { AppError } from './errors';

export type AuditAction =
  | 'snapshot.save'
  | 'snapshot.upload'
  | 'snapshot.restore'
  | 'event_log.trim'
  | 'index.build'
  | 'key.create'
  | 'key.revoke'
  | 'collection.create'
  | 'collection.drop';

/** The message of a successful line; a failed one reads "<action> failed". */
const DONE: Readonly<Record<AuditAction, string>> = {
  'snapshot.save': 'snapshot saved',
  'snapshot.upload': 'snapshot uploaded',
  'snapshot.restore': 'snapshot restored',
  'event_log.trim': 'event log trimmed',
  'index.build': 'index built',
  'key.create': 'api key created',
  'key.revoke': 'api key revoked',
  'collection.create': 'collection created',
  'collection.drop': 'collection dropped',
};

/** What a handler reports about its work; never a token, a body or a server path. */
export type AuditDetails = Record<string, string | number | boolean | null>;

/** What request-context.ts leaves for the audit line of this request. */
export interface RequestLog {
  logger: Logger;
  requestId: string;
  /** From a valid W3C traceparent header, else absent. */
  traceId?: string;
}

/** Called by an audited handler once its work succeeded, before it answers. */
export function auditDetails(res: Response, details: AuditDetails): void {
  res.locals.auditDetails = details;
}

function codeOf(err: unknown): string {
  return err instanceof AppError || err instanceof KernelError ? err.code : 'INTERNAL';
}

function write(res: Response, action: AuditAction, fields: AuditDetails): void {
  const log = res.locals.requestLog as RequestLog | undefined;
  if (log === undefined) return;
  const failed = fields.outcome === 'failed';
  log.logger.info(failed ? `${action} failed` : DONE[action], {
    ...fields,
    // After the details, so a handler cannot overwrite who, what or which request.
    audit: true,
    action,
    principal: principalOf(res)?.name ?? null,
    requestId: log.requestId,
    ...(log.traceId === undefined ? {} : { traceId: log.traceId }),
  });
}

/**
 * The route's handlers, with the last one (the one doing the work) wrapped so that its end writes
 * the audit line. Route files keep their handlers as they were and add one auditDetails call.
 */
export function audited(action: AuditAction, handlers: RequestHandler[]): RequestHandler[] {
  const work = handlers[handlers.length - 1];
  const wrapped: RequestHandler = async (req, res, next) => {
    try {
      await work(req, res, next);
    } catch (err) {
      write(res, action, { outcome: 'failed', code: codeOf(err) });
      throw err;
    }
    write(res, action, { ...(res.locals.auditDetails as AuditDetails | undefined), outcome: 'ok', status: res.statusCode });
  };
  return [...handlers.slice(0, -1), wrapped];
}
