// Bearer tokens: how a configured token is checked at boot, how a presented one is digested, and
// how API keys are minted. Nothing here ever logs or returns a token it did not just create.
import { createHash, randomBytes } from 'node:crypto';
import { SCOPES, isScope, type Scope } from './scopes';

/** RFC 6750 b64token ("token68"): what may follow "Bearer " in a header, unquoted. */
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

/** Tokens shorter than this are accepted with a warning: 32 hex digits are 128 bits. */
export const MIN_TOKEN_CHARS = 32;

/** Prefix of minted API keys, so secret scanners and people can recognise a leaked one. */
export const KEY_PREFIX = 'valori_';

/**
 * The problem with a configured token, or null when it can be sent in an Authorization header.
 * Never quotes the token: the message goes to stderr and logs.
 */
export function tokenProblem(token: string): string | null {
  if (token === '') return 'is set but empty';
  if (/\s/.test(token)) return 'contains whitespace';
  if (!TOKEN68.test(token)) return 'contains characters a bearer token cannot carry (only letters, digits, - . _ ~ + / and trailing =)';
  return null;
}

/**
 * SHA-256 of a token, as stored at rest and compared in constant time. A fast hash is enough:
 * minted keys carry 256 random bits, so there is no dictionary to try and a slow password hash
 * would only cost every request. Operators who supply hashes (VALORI_API_KEYS) must likewise
 * hash high-entropy tokens (docs/authentication.md).
 */
export function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** A new API key token: the prefix plus 32 random bytes in base64url (token68-safe). */
export function mintToken(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** "valori_AbCd…WxYz": enough to tell keys apart in a list, far too little to guess the rest. */
export function tokenHint(token: string): string {
  const body = token.startsWith(KEY_PREFIX) ? token.slice(KEY_PREFIX.length) : token;
  const prefix = token.startsWith(KEY_PREFIX) ? KEY_PREFIX : '';
  return `${prefix}${body.slice(0, 4)}…${body.slice(-4)}`;
}

/** A key configured in VALORI_API_KEYS: only its hash is known. */
export interface ConfiguredKey {
  name: string;
  scope: Scope;
  /** SHA-256 of the token, 64 lowercase hex digits. */
  sha256: string;
}

export const KEY_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Parses `name:scope:sha256hex[,...]`; throws an Error whose message never quotes a hash. */
export function parseKeyList(raw: string): ConfiguredKey[] {
  const out: ConfiguredKey[] = [];
  const entries = raw.split(',').map((e) => e.trim()).filter((e) => e !== '');
  entries.forEach((entry, i) => {
    const parts = entry.split(':');
    const where = `entry ${i + 1}`;
    if (parts.length !== 3) throw new Error(`${where} is not name:scope:sha256hex`);
    const [name, scope, hash] = parts.map((p) => p.trim());
    if (!KEY_NAME.test(name)) throw new Error(`${where}: the name must be 1-64 letters, digits, _ . or -`);
    if (!isScope(scope)) throw new Error(`${where} (${name}): the scope must be one of ${SCOPES.join(', ')}`);
    if (!/^[0-9a-fA-F]{64}$/.test(hash)) throw new Error(`${where} (${name}): expected the SHA-256 of the token as 64 hex digits (printf %s "$TOKEN" | sha256sum)`);
    if (out.some((k) => k.name === name)) throw new Error(`${where}: the name ${name} is used twice`);
    out.push({ name, scope, sha256: hash.toLowerCase() });
  });
  return out;
}
