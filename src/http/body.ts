// JSON body parsing for POST routes: 415 unless the Content-Type is JSON, then express.json with
// VALORI_MAX_BODY_BYTES. Its errors (malformed JSON, too large) are turned into our envelope by
// the error mapper.
import express, { type Request, type RequestHandler } from 'express';
import { AppError } from './errors';

/** application/json or application/*+json, parameters (charset) allowed. */
export function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  const mediaType = header.split(';')[0].trim().toLowerCase();
  return mediaType === 'application/json' || /^application\/[a-z0-9.!#$%&'*^_`{|}~-]+\+json$/.test(mediaType);
}

export function jsonBody(limitBytes: number): RequestHandler[] {
  const requireJson: RequestHandler = (req, _res, next) => {
    if (isJsonContentType(req.headers['content-type'])) return next();
    next(new AppError('UNSUPPORTED_MEDIA_TYPE', 'expected a JSON body: send "Content-Type: application/json"'));
  };
  const parse = express.json({
    limit: limitBytes,
    strict: true,
    type: (req) => isJsonContentType((req as Request).headers['content-type']),
  });
  return [requireJson, parse];
}
