import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * True when `authorization` is `Bearer <token>` (compared in constant time); any request passes when
 * no token is configured. Guards the Prometheus endpoints of gateways and nodes.
 */
export function bearerAllowed(authorization: string | undefined, token: string | undefined): boolean {
  if (token === undefined) return true;
  if (authorization === undefined || !authorization.startsWith('Bearer ')) return false;
  const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(authorization.slice('Bearer '.length).trim()), digest(token));
}

/** The content type of Prometheus' text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
