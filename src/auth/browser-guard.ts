// With auth off, a web page the developer happens to visit can still reach a node on localhost:
// a "simple" cross-site request (form POST, no-cors fetch) needs no preflight, and DNS rebinding
// turns the attacker's host name into 127.0.0.1. This guard, used only when no credential is
// configured, refuses what only a browser acting for another site would send:
//   421 a Host that is not a loopback name, the bind address or in VALORI_ALLOWED_HOSTS;
//   403 an Origin that is not this node (scheme and port included) nor listed in VALORI_CORS_ORIGINS;
//   415 a POST/DELETE whose Content-Type a browser may send cross-site without a preflight (form,
//       multipart, text/plain) or a body with no Content-Type at all. JSON routes already need
//       application/json; body-less routes (index build, log trim, snapshot save) accept no
//       Content-Type only with no body, and a browser's body-less POST carries an Origin.
// GET/HEAD of the public routes (/health, /livez, /readyz, /metrics) stay open, as they do with auth on.
import type { IncomingHttpHeaders } from 'node:http';
import type { RequestHandler } from 'express';
import { isJsonContentType } from '../http/body';
import { AppError } from '../http/errors';
import { isPublic } from './scopes';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** The one route that takes raw bytes (application/octet-stream) instead of JSON. */
const RAW_BODY_PATHS: ReadonlySet<string> = new Set(['/v1/snapshot/upload']);

/** Media types a browser sends cross-site without asking first (the CORS-safelisted ones). */
const SIMPLE_TYPES: ReadonlySet<string> = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);

export interface BrowserGuardOptions {
  /** The host part of VALORI_BIND (an IPv6 address without brackets). */
  bindHost: string;
  /** VALORI_ALLOWED_HOSTS, lower case, without ports. */
  allowedHosts: readonly string[];
  /** VALORI_CORS_ORIGINS: pages the operator listed are not foreign, so their Origin passes. */
  allowedOrigins?: readonly string[];
}

/** "Example.COM:3000" -> "example.com", "[::1]:3000" -> "[::1]"; null when unusable. */
export function hostName(header: string | undefined): string | null {
  if (header === undefined) return null;
  const h = header.trim().toLowerCase();
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::\d{1,5})?$/.exec(h);
  return m === null ? null : m[1].replace(/\.$/, '');
}

function hasBody(headers: IncomingHttpHeaders): boolean {
  const len = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0');
}

function quote(text: string): string {
  return JSON.stringify(text.length > 100 ? `${text.slice(0, 97)}...` : text);
}

/** Whether `origin` names the same scheme-less host and port the request was sent to. */
function sameOrigin(origin: string, host: string): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // includes the opaque origin "null" (sandboxed frames, file: pages)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  let target: URL;
  try {
    // Read the Host with the Origin's scheme, so "localhost:80" and "http://localhost" agree.
    target = new URL(`${url.protocol}//${host}`);
  } catch {
    return false;
  }
  return url.host === target.host;
}

/** What the guard decides for one request: null lets it through. */
export type BrowserCheck = (method: string, path: string, headers: IncomingHttpHeaders) => AppError | null;

export function browserCheck(options: BrowserGuardOptions): BrowserCheck {
  const bind = options.bindHost.includes(':') ? `[${options.bindHost.toLowerCase()}]` : options.bindHost.toLowerCase();
  const allowed = new Set([...LOOPBACK_NAMES, bind, ...options.allowedHosts]);
  const origins = new Set(options.allowedOrigins ?? []);
  return (method, path, headers) => {
    if (isPublic(method, path)) return null;
    const host = headers.host ?? '';
    const name = hostName(host);
    if (name === null || !allowed.has(name)) {
      return new AppError(
        'MISDIRECTED_REQUEST',
        `Host ${quote(host)} is not a name this node answers to while auth is off (localhost, 127.0.0.1, [::1], the bind address or VALORI_ALLOWED_HOSTS); set VALORI_AUTH_TOKEN to serve other names`,
      );
    }
    const origin = headers.origin;
    if (origin !== undefined && !sameOrigin(origin, host) && !origins.has(origin)) {
      return new AppError('FORBIDDEN', `cross-origin request refused while auth is off: Origin ${quote(origin)} is not this node`);
    }
    if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return null;
    const type = headers['content-type'];
    const media = type?.split(';')[0].trim().toLowerCase();
    if (RAW_BODY_PATHS.has(path)) {
      if (media === undefined || SIMPLE_TYPES.has(media)) {
        return new AppError('UNSUPPORTED_MEDIA_TYPE', 'a snapshot upload needs "Content-Type: application/octet-stream" while auth is off');
      }
      return null;
    }
    if (type === undefined ? hasBody(headers) : !isJsonContentType(type)) {
      return new AppError('UNSUPPORTED_MEDIA_TYPE', `${method} needs "Content-Type: application/json" (or no body and no Content-Type) while auth is off, so other web pages cannot send it`);
    }
    return null;
  };
}

export function browserGuard(options: BrowserGuardOptions): RequestHandler {
  const check = browserCheck(options);
  return (req, _res, next) => {
    const refused = check(req.method, req.path, req.headers);
    if (refused === null) next();
    else next(refused);
  };
}
