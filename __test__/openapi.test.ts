// GET /openapi.json: a valid OpenAPI 3.0 document that covers exactly the routes the Express
// router has, and against which every JSON example in docs/api-reference.md validates (request
// bodies, query strings, responses and error envelopes, in code blocks and inline).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Ajv, { type ValidateFunction } from 'ajv';
import type { Express } from 'express';
import { STATUS_BY_CODE } from '../src/http/errors';
import { requestSchemas } from '../src/http/schemas';
import { buildOpenApiDocument, openApiPath } from '../src/openapi';
import { request, startServer, type TestServer } from './helpers';

const DOC_PATH = join(__dirname, '..', 'docs', 'api-reference.md');
const VERSION = (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;

type Json = Record<string, any>;

/** Every (method, path) the Express router has, read from the router itself. */
function registeredRoutes(app: Express): string[] {
  const out = new Set<string>();
  for (const layer of app.router.stack) {
    for (const handler of layer.route?.stack ?? []) if (handler.method) out.add(`${handler.method.toUpperCase()} ${layer.route!.path}`);
  }
  return [...out].sort();
}

function documentedRoutes(doc: Json): string[] {
  return Object.entries(doc.paths as Json)
    .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();
}

/** Validators over the document's own schemas, $refs resolved inside the document. */
function validatorsFor(doc: Json) {
  const ajv = new Ajv({ strict: true, allErrors: true });
  ajv.addVocabulary(['openapi', 'info', 'tags', 'security', 'paths', 'components']);
  ajv.addFormat('binary', true);
  ajv.addSchema(doc, 'openapi.json');
  const cache = new Map<string, ValidateFunction>();
  return (pointer: string[]): ValidateFunction => {
    const key = `openapi.json#/${pointer.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`;
    let v = cache.get(key);
    if (v === undefined) {
      v = ajv.getSchema(key);
      assert.ok(v, `no schema at ${key}`);
      cache.set(key, v);
    }
    return v;
  };
}

interface Section {
  heading: string;
  /** The routes a section documents, as in its heading: [method, OpenAPI path]. */
  ops: [string, string][];
  text: string;
}

function sections(markdown: string): Section[] {
  return markdown.split(/^(?=## )/m).map((text) => {
    const heading = text.split('\n')[0];
    const ops = [...heading.matchAll(/`(GET|POST|PATCH) (\/[^`]*)`/g)].map((m) => [m[1].toLowerCase(), openApiPath(m[2])] as [string, string]);
    return { heading, ops, text };
  });
}

function pathMatches(pattern: string, path: string): boolean {
  return new RegExp(`^${pattern.replace(/\{\w+\}/g, '[^/]+')}$`).test(path);
}

describe('OpenAPI document', () => {
  let s: TestServer;
  let doc: Json;

  before(async () => {
    s = await startServer({ VALORI_DIM: '4', VALORI_MAX_K: '50' });
    const r = await request(s.base, '/openapi.json');
    assert.equal(r.status, 200);
    doc = r.json;
  });
  after(() => s.stop());

  it('when GET /openapi.json is called, then it serves the generated document for this configuration', () => {
    assert.equal(doc.openapi, '3.0.3');
    assert.equal(doc.info.version, VERSION);
    assert.equal(doc.components.schemas.SearchRequest.properties.k.maximum, 50, 'k follows VALORI_MAX_K');
    // Last: as an assertion function, deepEqual narrows doc to the builder's looser type.
    assert.deepEqual(doc, buildOpenApiDocument({ maxK: 50, version: VERSION }));
  });

  it('when the router is enumerated, then every registered route is in the document and nothing else', () => {
    const registered = registeredRoutes(s.app).map((r) => openApiPath(r));
    assert.ok(registered.includes('GET /openapi.json'));
    assert.deepEqual(documentedRoutes(doc), registered);
  });

  it('when checked against the OpenAPI 3.0 JSON Schema, then the document is valid', async () => {
    const { Validator } = await import('@seriousme/openapi-schema-validator');
    const result = await new Validator().validate(structuredClone(doc));
    assert.ok(result.valid, JSON.stringify(result.errors, null, 2));
  });

  it('when request bodies are read from the document, then they are the schemas the routes validate with', () => {
    const schemas = requestSchemas(50);
    assert.deepEqual(doc.components.schemas.InsertRecordRequest, schemas.insertRecord);
    assert.deepEqual(doc.components.schemas.SearchRequest, schemas.search);
    assert.deepEqual(doc.paths['/search'].post.requestBody.content['application/json'].schema, { $ref: '#/components/schemas/SearchRequest' });
    // Type unions are not OpenAPI 3.0: the generator turns them into nullable.
    assert.deepEqual(doc.components.schemas.SnapshotSaveRequest.properties.path.type, 'string');
    assert.equal(doc.components.schemas.SnapshotSaveRequest.properties.path.nullable, true);
  });

  it('when an error status is documented, then its description names every code the server maps to that status', () => {
    for (const [code, status] of Object.entries(STATUS_BY_CODE)) {
      // A wrong method has no operation to carry it; the reference's Conventions section covers 405.
      if (code === 'METHOD_NOT_ALLOWED') continue;
      const withStatus = Object.values(doc.paths as Json).flatMap((item) => Object.values(item as Json).map((op) => op.responses[status]));
      const documented = withStatus.filter((r) => r?.content?.['application/json']?.schema?.$ref === '#/components/schemas/Error');
      assert.ok(documented.length > 0, `some operation documents ${status} (${code})`);
      for (const r of documented) assert.match(r.description, new RegExp(`\\b${code}\\b`));
    }
  });

  it("when the reference's error table is read, then it lists every code with the status the server answers", () => {
    const rows = [...readFileSync(DOC_PATH, 'utf8').matchAll(/^\| (\d{3}) \| ((?:`[A-Z_]+`(?:, )?)+) \|/gm)];
    const listed = new Map(rows.flatMap(([, status, codes]) => [...codes.matchAll(/`([A-Z_]+)`/g)].map((m) => [m[1], Number(status)] as const)));
    assert.deepEqual(Object.fromEntries([...listed].sort()), Object.fromEntries(Object.entries(STATUS_BY_CODE).sort()));
  });

  it('when every JSON example in docs/api-reference.md is checked, then it validates against the document', () => {
    const schema = validatorsFor(doc);
    const problems: string[] = [];
    let checked = 0;

    const check = (v: ValidateFunction, value: unknown, what: string): boolean => {
      if (v(value)) return true;
      problems.push(`${what}: ${JSON.stringify(value).slice(0, 120)} -> ${JSON.stringify(v.errors?.slice(0, 3))}`);
      return false;
    };

    const response = (sec: Section, value: unknown, where: string, inline = false): void => {
      const envelope = typeof value === 'object' && value !== null && 'code' in value && 'error' in value;
      if (envelope) {
        checked++;
        const status = STATUS_BY_CODE[(value as { code: keyof typeof STATUS_BY_CODE }).code];
        if (status === undefined) return void problems.push(`${where}: unknown error code in ${JSON.stringify(value)}`);
        if (sec.ops.length === 0) return void check(schema(['components', 'schemas', 'Error']), value, where);
        for (const [method, path] of sec.ops) {
          const r = doc.paths[path]?.[method]?.responses?.[String(status)];
          if (r === undefined) problems.push(`${where}: ${method.toUpperCase()} ${path} documents no ${status} for ${JSON.stringify(value)}`);
          else check(schema(['paths', path, method, 'responses', String(status), 'content', 'application/json', 'schema']), value, where);
        }
        return;
      }
      // Prose outside route sections (the differences table) quotes bodies without their route.
      if (sec.ops.length === 0 && inline) return;
      checked++;
      if (sec.ops.length === 0) return void problems.push(`${where}: a JSON example outside any route section`);
      for (const [method, path] of sec.ops) {
        const candidates = Object.entries(doc.paths[path][method].responses as Json)
          .filter(([, r]) => r.content?.['application/json']?.schema?.$ref !== '#/components/schemas/Error' && r.content?.['application/json'])
          .map(([status]) => schema(['paths', path, method, 'responses', status, 'content', 'application/json', 'schema']));
        if (!candidates.some((v) => v(value))) check(candidates[0], value, `${where} (${method.toUpperCase()} ${path})`);
      }
    };

    for (const sec of sections(readFileSync(DOC_PATH, 'utf8'))) {
      const where = sec.heading.replace(/^## /, '');
      for (const ex of sec.ops) assert.ok(doc.paths[ex[1]]?.[ex[0]], `${where}: the heading names a route the document lacks`);
      const fences = [...sec.text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)];
      for (const [, lang, body] of fences) {
        if (lang === 'json') {
          let values: unknown[];
          try {
            values = [JSON.parse(body)];
          } catch {
            values = body.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
          }
          for (const v of values) response(sec, v, `${where}, json block`);
          continue;
        }
        // A shell transcript: `$ curl ...` (continued with \), then its output up to the next `$`.
        const lines = body.split('\n');
        const commands: { command: string; output: string[] }[] = [];
        for (let i = 0; i < lines.length; i++) {
          if (!lines[i].startsWith('$ ')) {
            if (commands.length > 0) commands[commands.length - 1].output.push(lines[i]);
            else commands.push({ command: '', output: [lines[i]] });
            continue;
          }
          let command = lines[i];
          while (command.endsWith('\\') && i + 1 < lines.length) command = `${command.slice(0, -1)} ${lines[++i].trim()}`;
          commands.push({ command, output: [] });
        }
        for (const { command, output } of commands) {
          const url = /localhost:3000(\/[^\s'"]*)/.exec(command)?.[1];
          if (url !== undefined) {
            const { pathname, searchParams } = new URL(url, 'http://x');
            const data = /-d '([^']*)'/.exec(command)?.[1];
            // -X PATCH names its method; else a JSON body (-d), an explicit -X POST, or raw bytes (--data-binary) make it a POST.
            const method = /\s-X PATCH\b/.test(command) ? 'patch' : data !== undefined || /\s-X POST\b|\s--data-binary\s/.test(command) ? 'post' : 'get';
            const op = sec.ops.find(([m, p]) => m === method && pathMatches(p, pathname));
            if (op === undefined) {
              problems.push(`${where}: ${method.toUpperCase()} ${pathname} is not the route this section documents`);
              continue;
            }
            const [, path] = op;
            if (data !== undefined) {
              checked++;
              check(schema(['paths', path, method, 'requestBody', 'content', 'application/json', 'schema']), JSON.parse(data), `${where}, request`);
            }
            for (const [name, value] of searchParams) {
              const params = doc.paths[path][method].parameters as Json[];
              const i = params.findIndex((p) => p.in === 'query' && p.name === name);
              if (i < 0) problems.push(`${where}: query parameter ${name} is not documented`);
              else {
                // A query string carries text: an integer parameter is written as its digits.
                const typed = params[i].schema?.type === 'integer' && /^-?\d+$/.test(value) ? Number(value) : value;
                check(schema(['paths', path, method, 'parameters', String(i), 'schema']), typed, `${where}, query ${name}`);
              }
            }
          }
          const text = output.join('\n').trim();
          if (text === '') continue;
          let value: unknown;
          try {
            value = JSON.parse(text);
          } catch {
            // Plain-text output (/version, /metrics): the route must answer text/plain.
            const textual = sec.ops.some(([m, p]) => doc.paths[p][m].responses['200'].content['text/plain'] !== undefined);
            if (!textual) problems.push(`${where}: output is neither JSON nor a text/plain route's answer: ${text.slice(0, 80)}`);
            continue;
          }
          response(sec, value, `${where}, output`);
        }
      }
      // Inline examples in the prose, e.g. `{"error":"record 5 not found","code":"NOT_FOUND"}`.
      const prose = sec.text.replace(/^```\w*\n[\s\S]*?^```$/gm, '');
      for (const [, span] of prose.matchAll(/`(\{[^`]*\})`/g)) {
        let value: unknown;
        try {
          value = JSON.parse(span);
        } catch {
          continue; // shorthand such as {"error", "code"}, not an example
        }
        response(sec, value, `${where}, inline`, true);
      }
    }
    assert.deepEqual(problems, []);
    assert.ok(checked >= 40, `only ${checked} examples found: is the parser still reading the reference?`);
  });
});
