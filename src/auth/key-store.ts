// The credentials a node accepts: VALORI_AUTH_TOKEN (all-powerful), keys from VALORI_API_KEYS
// (hashes given by the operator) and keys from VALORI_API_KEYS_FILE (created and revoked through
// /v1/keys). Only SHA-256 digests are held, in memory and on disk; a minted token is returned once
// by create() and never kept.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { COLLECTION_NAME as COLLECTION } from '../api/collection-name';
import { isScope, type Power, type Scope } from './scopes';
import { KEY_NAME, digest, mintToken, tokenHint, type ConfiguredKey } from './tokens';

/** Who is calling, as far as authorization cares. */
export interface Principal {
  /** "VALORI_AUTH_TOKEN", a key's name, or "anonymous" when auth is off. */
  name: string;
  power: Power;
  /** The one collection a restricted key may use; null for every collection. */
  collection: string | null;
}

/** A key as GET /v1/keys shows it: never the token, never its hash. */
export interface KeyInfo {
  id: string;
  name: string;
  scope: Scope;
  /** The one collection this key may use (403 on others and on node-wide routes); null: all. */
  collection: string | null;
  description: string | null;
  /** ISO 8601; null for keys from VALORI_API_KEYS. */
  created_at: string | null;
  /** First and last characters of a minted token; null for keys from VALORI_API_KEYS. */
  hint: string | null;
  /** `env` keys are changed in VALORI_API_KEYS; `file` keys through /v1/keys. */
  source: 'env' | 'file';
}

interface Key extends KeyInfo {
  sha256: string;
  digest: Buffer;
}

/** Keys the node holds at most (environment plus file): bounds the file and each request's scan. */
export const MAX_KEYS = 1_000;

const FILE_VERSION = 1;
const KEY_ID = /^k_[0-9a-f]{16}$/;

/** A problem the caller caused: the route turns it into a 4xx. */
export class KeyStoreError extends Error {
  constructor(
    readonly kind: 'not_found' | 'immutable' | 'not_enabled' | 'conflict' | 'full',
    message: string,
  ) {
    super(message);
  }
}

export interface KeyStoreOptions {
  masterToken: string | null;
  configured: readonly ConfiguredKey[];
  file: string | null;
}

function fromFile(entry: unknown, i: number): Key {
  const e = (entry ?? {}) as Record<string, unknown>;
  const bad = (what: string): never => {
    throw new Error(`key ${i + 1}: ${what}`);
  };
  if (typeof e.id !== 'string' || !KEY_ID.test(e.id)) bad('id must be k_ and 16 hex digits');
  if (typeof e.name !== 'string' || !KEY_NAME.test(e.name)) bad('name must be 1-64 letters, digits, _ . or -');
  if (!isScope(e.scope)) bad('scope must be read, write or admin');
  if (typeof e.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.sha256)) bad('sha256 must be 64 lowercase hex digits');
  if (typeof e.created_at !== 'string') bad('created_at must be a string');
  if (e.description !== null && typeof e.description !== 'string') bad('description must be a string or null');
  if (e.hint !== null && typeof e.hint !== 'string') bad('hint must be a string or null');
  // Absent in files written before keys could be restricted: such a key spans every collection.
  const collection = e.collection ?? null;
  if (collection !== null && (typeof collection !== 'string' || !COLLECTION.test(collection))) bad('collection must be a collection name or null');
  const sha256 = e.sha256 as string;
  return {
    id: e.id as string,
    name: e.name as string,
    scope: e.scope as Scope,
    collection: collection as string | null,
    description: e.description as string | null,
    created_at: e.created_at as string,
    hint: e.hint as string | null,
    source: 'file',
    sha256,
    digest: Buffer.from(sha256, 'hex'),
  };
}

function readKeyFile(path: string): Key[] {
  if (!existsSync(path)) return [];
  const where = `VALORI_API_KEYS_FILE=${path}`;
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${where} cannot be read as JSON: ${(err as Error).message}`);
  }
  const d = (doc ?? {}) as { version?: unknown; keys?: unknown };
  if (d.version !== FILE_VERSION || !Array.isArray(d.keys)) throw new Error(`${where}: expected {"version": ${FILE_VERSION}, "keys": [...]}`);
  try {
    return d.keys.map(fromFile);
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`);
  }
}

/** temp file + fsync + rename + directory fsync: a crash leaves the old file or the new one. */
async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(text, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  // Makes the rename itself durable. Some platforms cannot open a directory for fsync; the
  // rename is still atomic there.
  const dir = await open(dirname(path), 'r').catch(() => null);
  if (dir !== null) await dir.sync().catch(() => undefined).finally(() => dir.close());
}

export class KeyStore {
  private readonly master: Buffer | null;
  private keys: readonly Key[];
  /** create/revoke run one at a time, so each rewrite starts from the previous one's result. */
  private tail: Promise<unknown> = Promise.resolve();

  /** Reads the key file; throws an Error (one line, naming the variable) when it is unusable. */
  constructor(private readonly options: KeyStoreOptions) {
    this.master = options.masterToken === null ? null : digest(options.masterToken);
    const env: Key[] = options.configured.map((k) => ({
      id: k.name,
      name: k.name,
      scope: k.scope,
      collection: null,
      description: null,
      created_at: null,
      hint: null,
      source: 'env',
      sha256: k.sha256,
      digest: Buffer.from(k.sha256, 'hex'),
    }));
    const file = options.file === null ? [] : readKeyFile(options.file);
    const names = new Set(env.map((k) => k.name));
    for (const k of file) {
      if (names.has(k.name)) throw new Error(`VALORI_API_KEYS_FILE=${options.file}: key name ${k.name} is also in VALORI_API_KEYS or used twice`);
      names.add(k.name);
    }
    this.keys = [...env, ...file];
    if (this.keys.length > MAX_KEYS) throw new Error(`VALORI_API_KEYS and VALORI_API_KEYS_FILE hold ${this.keys.length} keys: at most ${MAX_KEYS}`);
    if (this.master === null && this.keys.length === 0 && options.file !== null) {
      // Auth would be on with no credential at all: nobody could call the API, nor create a key.
      throw new Error(`VALORI_API_KEYS_FILE=${options.file} holds no keys and neither VALORI_AUTH_TOKEN nor VALORI_API_KEYS is set: set VALORI_AUTH_TOKEN to create the first key`);
    }
  }

  /** True when any credential is configured: then every route but the public ones needs one. */
  get enabled(): boolean {
    return this.master !== null || this.options.configured.length > 0 || this.options.file !== null;
  }

  get count(): number {
    return this.keys.length;
  }

  /**
   * The principal a presented token belongs to, or null. Every stored digest is compared with
   * timingSafeEqual, with no early exit, so the time taken does not say which key (if any) matched.
   */
  match(token: string): Principal | null {
    const d = digest(token);
    let found: Principal | null = null;
    if (this.master !== null && timingSafeEqual(d, this.master)) found = { name: 'VALORI_AUTH_TOKEN', power: 'root', collection: null };
    for (const k of this.keys) {
      if (timingSafeEqual(d, k.digest) && found === null) found = { name: k.name, power: k.scope, collection: k.collection };
    }
    return found;
  }

  list(): KeyInfo[] {
    return this.keys.map(({ id, name, scope, collection, description, created_at, hint, source }) => ({ id, name, scope, collection, description, created_at, hint, source }));
  }

  /** Mints a key, persists its hash, and returns the token (the only time it exists outside the caller). */
  create(input: { scope: Scope; name?: string; collection?: string | null; description?: string | null }): Promise<KeyInfo & { token: string }> {
    return this.serially(async () => {
      const file = this.options.file;
      if (file === null) {
        throw new KeyStoreError('not_enabled', 'creating keys needs VALORI_API_KEYS_FILE: a key kept only in memory would stop working at the next restart');
      }
      if (this.keys.length >= MAX_KEYS) throw new KeyStoreError('full', `this node already holds ${MAX_KEYS} keys: revoke some first`);
      const id = `k_${randomBytes(8).toString('hex')}`;
      const name = input.name ?? id;
      if (this.keys.some((k) => k.name === name)) throw new KeyStoreError('conflict', `a key named ${name} already exists`);
      const token = mintToken();
      const d = digest(token);
      const key: Key = {
        id,
        name,
        scope: input.scope,
        collection: input.collection ?? null,
        description: input.description ?? null,
        created_at: new Date().toISOString(),
        hint: tokenHint(token),
        source: 'file',
        sha256: d.toString('hex'),
        digest: d,
      };
      const next = [...this.keys, key];
      await this.persist(file, next);
      this.keys = next;
      const { sha256: _h, digest: _d, ...info } = key;
      return { ...info, token };
    });
  }

  revoke(id: string): Promise<KeyInfo> {
    return this.serially(async () => {
      const key = this.keys.find((k) => k.id === id);
      if (key === undefined) throw new KeyStoreError('not_found', `no key with id ${JSON.stringify(id.slice(0, 80))}`);
      if (key.source === 'env') {
        throw new KeyStoreError('immutable', `key ${key.name} comes from VALORI_API_KEYS: remove it there and restart the node`);
      }
      const next = this.keys.filter((k) => k !== key);
      await this.persist(this.options.file as string, next);
      this.keys = next;
      const { sha256: _h, digest: _d, ...info } = key;
      return info;
    });
  }

  private async persist(file: string, keys: readonly Key[]): Promise<void> {
    const entries = keys
      .filter((k) => k.source === 'file')
      .map(({ id, name, scope, collection, sha256, created_at, description, hint }) => ({ id, name, scope, collection, sha256, created_at, description, hint }));
    await writeAtomically(file, `${JSON.stringify({ version: FILE_VERSION, keys: entries }, null, 2)}\n`);
  }

  private serially<T>(op: () => Promise<T>): Promise<T> {
    const run = this.tail.then(op, op);
    this.tail = run.catch(() => undefined);
    return run;
  }
}
