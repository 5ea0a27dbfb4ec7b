// Request and response schemas of /v1/keys, for the route's validator and the OpenAPI document
// (src/openapi.ts merges them with the other schemas). The request mirrors valori-node 0.3.1's
// POST /v1/keys: `scope`, an optional collection the key is restricted to and an optional
// description; 0.3.1's scope names are accepted too.
import { COLLECTION_NAME_PATTERN } from '../api/collection-name';

export const SCOPE_ALIASES = { read_only: 'read', read_write: 'write' } as const;

export interface CreateKeyBody {
  scope: 'read' | 'write' | 'admin' | keyof typeof SCOPE_ALIASES;
  name?: string;
  collection?: string | null;
  description?: string | null;
}

export const KEY_REQUEST_SCHEMAS = {
  createKey: {
    type: 'object',
    required: ['scope'],
    additionalProperties: false,
    properties: {
      scope: {
        type: 'string',
        enum: ['read', 'write', 'admin', 'read_only', 'read_write'],
        description: 'read < write < admin (docs/authentication.md); read_only and read_write are 0.3.1 names for read and write.',
      },
      name: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$', description: 'Unique label shown in lists and 403 messages; default: the id.' },
      collection: {
        type: 'string',
        pattern: COLLECTION_NAME_PATTERN,
        nullable: true,
        description: 'Restricts the key to this collection: 403 on every other collection and on node-wide routes (snapshots, log trim, keys, other collections). Omitted or null: every collection.',
      },
      description: { type: 'string', maxLength: 256, nullable: true },
    },
  },
} as const;

function object(properties: Record<string, unknown>) {
  return { type: 'object', required: Object.keys(properties), additionalProperties: false, properties } as const;
}

const keyInfo = {
  id: { type: 'string', description: 'k_ and 16 hex digits for created keys; the name for VALORI_API_KEYS entries.' },
  name: { type: 'string' },
  scope: { type: 'string', enum: ['read', 'write', 'admin'] },
  collection: { type: 'string', nullable: true, description: 'The one collection the key may use; null: every collection.' },
  description: { type: 'string', nullable: true },
  created_at: { type: 'string', nullable: true, description: 'ISO 8601; null for VALORI_API_KEYS entries.' },
  hint: { type: 'string', nullable: true, description: 'First and last four characters of the token; null for VALORI_API_KEYS entries.' },
  source: { type: 'string', enum: ['env', 'file'], description: 'env: VALORI_API_KEYS (change it there); file: VALORI_API_KEYS_FILE (managed here).' },
} as const;

export const KEY_RESPONSE_SCHEMAS = {
  ApiKey: object(keyInfo),
  ApiKeyCreated: object({ ...keyInfo, token: { type: 'string', pattern: '^valori_[A-Za-z0-9_-]{43}$', description: 'The bearer token. Shown this once: only its hash is kept.' } }),
  ApiKeyList: object({ keys: { type: 'array', items: { $ref: '#/components/schemas/ApiKey' } } }),
  ApiKeyRevoked: object({ success: { type: 'boolean', enum: [true] }, id: { type: 'string' } }),
} as const;

export type KeyResponseName = keyof typeof KEY_RESPONSE_SCHEMAS;
