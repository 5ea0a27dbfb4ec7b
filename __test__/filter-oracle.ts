// A plain-JavaScript reading of the metadata filter language, written from the contract
// (docs: "Filter language") and nothing else, so that the kernel's evaluator can be checked
// against it. `compileFilter` validates the whole filter first (as the server must, even inside
// an $or whose first branch already matches) and returns a predicate over a record's metadata.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Scalar = number | string | boolean;
type Pred = (metadata: Json | undefined) => boolean;

/** A filter the contract refuses (the server answers 400 INVALID_ARGUMENT). */
export class FilterError extends Error {}

const MAX_DEPTH = 16;
const MAX_CLAUSES = 1024;
const MAX_FILTER_BYTES = 65_536;
/** The 0.3.1 form: a range object whose keys carry no `$`. */
const PLAIN_OPS = new Set(['eq', 'gt', 'gte', 'lt', 'lte']);
const PATH_OPS = new Set(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: unknown): v is Scalar => typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean';
const kind = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
const own = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** JSON nesting depth: a scalar is 0, `{}` and `[]` are 1. */
function depth(v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depth));
  if (isObject(v)) return 1 + Math.max(0, ...Object.values(v).map(depth));
  return 0;
}

/** The value at a dotted path, walking nested objects only; `undefined` when absent. */
export function resolve(metadata: Json | undefined, path: string): Json | undefined {
  let cur: Json | undefined = metadata;
  for (const seg of path.split('.')) {
    if (!isObject(cur) || !own(cur, seg)) return undefined;
    cur = (cur as Record<string, Json>)[seg];
  }
  return cur;
}

/** values(path): an array's scalar elements, a scalar itself, nothing for null or an object. */
export function valuesAt(metadata: Json | undefined, path: string): Scalar[] {
  const v = resolve(metadata, path);
  if (Array.isArray(v)) return v.filter(isScalar);
  return isScalar(v) ? [v] : [];
}

const same = (a: Scalar, b: Scalar): boolean => typeof a === typeof b && a === b;

class Compiler {
  clauses = 0;

  count(n: number): void {
    this.clauses += n;
    if (this.clauses > MAX_CLAUSES) throw new FilterError(`the filter has more than ${MAX_CLAUSES} clauses or $in items`);
  }

  filter(f: unknown, where: string): Pred {
    if (!isObject(f)) throw new FilterError(`a filter must be an object, got ${kind(f)} at ${where}`);
    const parts: Pred[] = [];
    for (const [key, value] of Object.entries(f)) {
      if (key === '$and' || key === '$or') {
        if (!Array.isArray(value) || value.length === 0 || !value.every(isObject)) throw new FilterError(`${key} needs a non-empty array of filter objects`);
        const subs = value.map((sub, i) => this.filter(sub, `${key}[${i}]`));
        parts.push(key === '$and' ? (m) => subs.every((p) => p(m)) : (m) => subs.some((p) => p(m)));
      } else if (key === '$not') {
        const sub = this.filter(value, '$not');
        parts.push((m) => !sub(m));
      } else if (key.startsWith('$')) {
        throw new FilterError(`unknown filter operator "${key}"`);
      } else {
        parts.push(this.path(key, value));
      }
    }
    return (m) => parts.every((p) => p(m));
  }

  path(path: string, value: unknown): Pred {
    if (path === '' || path.split('.').some((s) => s === '')) throw new FilterError(`empty path or path segment in "${path}"`);
    this.count(1);
    if (isScalar(value)) return this.op(path, '$eq', value);
    if (!isObject(value)) throw new FilterError(`$eq needs a number, string or boolean, got ${kind(value)} at "${path}"`);
    const keys = Object.keys(value);
    if (keys.length === 0) throw new FilterError(`the object at "${path}" has no operators`);
    const dollar = keys.filter((k) => k.startsWith('$')).length;
    if (dollar !== 0 && dollar !== keys.length) throw new FilterError(`the object at "${path}" mixes $ operators with other keys`);
    const ops = keys.map((k) => {
      if (dollar === 0 && !PLAIN_OPS.has(k)) throw new FilterError(`unknown filter operator "${k}" at "${path}"`);
      if (dollar !== 0 && !PATH_OPS.has(k)) throw new FilterError(`unknown filter operator "${k}" at "${path}"`);
      return this.op(path, dollar === 0 ? `$${k}` : k, value[k]);
    });
    return (m) => ops.every((p) => p(m));
  }

  op(path: string, op: string, v: unknown): Pred {
    const at = `at "${path}"`;
    switch (op) {
      case '$eq':
      case '$ne': {
        if (!isScalar(v)) throw new FilterError(`${op} needs a number, string or boolean, got ${kind(v)} ${at}`);
        const eq = (m: Json | undefined) => valuesAt(m, path).some((x) => same(x, v));
        return op === '$eq' ? eq : (m) => resolve(m, path) !== undefined && !eq(m);
      }
      case '$gt':
      case '$gte':
      case '$lt':
      case '$lte': {
        if (typeof v !== 'number') throw new FilterError(`${op} needs a number, got ${kind(v)} ${at}`);
        const test: (x: number) => boolean =
          op === '$gt' ? (x) => x > v : op === '$gte' ? (x) => x >= v : op === '$lt' ? (x) => x < v : (x) => x <= v;
        return (m) => valuesAt(m, path).some((x) => typeof x === 'number' && test(x));
      }
      case '$in':
      case '$nin': {
        if (!Array.isArray(v)) throw new FilterError(`${op} needs an array, got ${kind(v)} ${at}`);
        if (!v.every(isScalar)) throw new FilterError(`${op} needs an array of numbers, strings or booleans ${at}`);
        this.count(v.length);
        const list = v as Scalar[];
        const inList = (m: Json | undefined) => valuesAt(m, path).some((x) => list.some((y) => same(x, y)));
        return op === '$in' ? inList : (m) => resolve(m, path) !== undefined && !inList(m);
      }
      case '$exists': {
        if (typeof v !== 'boolean') throw new FilterError(`$exists needs a boolean, got ${kind(v)} ${at}`);
        return (m) => (resolve(m, path) !== undefined) === v;
      }
      default:
        throw new FilterError(`unknown filter operator "${op}" ${at}`);
    }
  }
}

/** Validates `filter` as the contract does and returns its predicate; throws FilterError. */
export function compileFilter(filter: unknown): Pred {
  if (!isObject(filter)) throw new FilterError(`a filter must be an object, got ${kind(filter)}`);
  if (Buffer.byteLength(JSON.stringify(filter), 'utf8') > MAX_FILTER_BYTES) throw new FilterError(`the filter is longer than ${MAX_FILTER_BYTES} bytes`);
  if (depth(filter) > MAX_DEPTH) throw new FilterError(`the filter is nested deeper than ${MAX_DEPTH}`);
  return new Compiler().filter(filter, 'the top');
}
