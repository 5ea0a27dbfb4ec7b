// API key management (admin scope, see src/auth/scopes.ts), as in valori-node 0.3.1: create
// returns the token once, list masks it, revoke forgets it. Keys live in VALORI_API_KEYS_FILE
// (hashes only); on a follower they are that node's own keys, not replicated.
import Ajv from 'ajv';
import { KEY_REQUEST_SCHEMAS, SCOPE_ALIASES, type CreateKeyBody } from '../../auth/key-schemas';
import { KeyStoreError, type KeyStore } from '../../auth/key-store';
import type { Scope } from '../../auth/scopes';
import { audited, auditDetails } from '../audit';
import { AppError, type ErrorCode } from '../errors';
import { check } from '../schemas';
import { type RouteContext, type RouteHandlers } from './context';

const CODES: Readonly<Record<KeyStoreError['kind'], ErrorCode>> = {
  not_found: 'NOT_FOUND',
  immutable: 'INVALID_REQUEST',
  not_enabled: 'NOT_ENABLED',
  conflict: 'INVALID_REQUEST',
  full: 'CAPACITY_EXCEEDED',
};

function mapped(err: unknown): never {
  if (err instanceof KeyStoreError) throw new AppError(CODES[err.kind], err.message);
  throw err;
}

function canonical(scope: CreateKeyBody['scope']): Scope {
  return scope === 'read_only' || scope === 'read_write' ? SCOPE_ALIASES[scope] : scope;
}

export function keyRoutes(ctx: RouteContext, keys: KeyStore): RouteHandlers {
  const routes: RouteHandlers = {};
  const { json } = ctx;
  const ajv = new Ajv({ allErrors: false, verbose: true, strict: true, coerceTypes: false, useDefaults: false });
  const validate = ajv.compile<CreateKeyBody>(KEY_REQUEST_SCHEMAS.createKey);

  routes.createKey = audited('key.create', [
    ...json,
    async (req, res) => {
      const body = check(validate, req.body);
      const created = await keys
        .create({ scope: canonical(body.scope), name: body.name, collection: body.collection ?? null, description: body.description })
        .catch(mapped);
      // Who made which key (the audit line adds the caller). Never the token.
      auditDetails(res, { key: created.id, name: created.name, scope: created.scope, collection: created.collection });
      res.set('Cache-Control', 'no-store').json(created);
    },
  ]);
  routes.listKeys = [(_req, res) => void res.set('Cache-Control', 'no-store').json({ keys: keys.list() })];

  routes.revokeKey = audited('key.revoke', [
    async (req, res) => {
      const revoked = await keys.revoke(String(req.params.id)).catch(mapped);
      auditDetails(res, { key: revoked.id, name: revoked.name });
      res.json({ success: true, id: revoked.id });
    },
  ]);
  return routes;
}
