import { createHmac, timingSafeEqual } from 'node:crypto';

/** The console's session cookie. */
export const CONSOLE_COOKIE = 'tessera_console';
/** How long a console sign-in lasts. */
export const CONSOLE_SESSION_MS = 8 * 60 * 60 * 1000;

/**
 * Signed console sessions: `accessKeyId.expiryMs.mac`, the MAC an HMAC-SHA256 under a key derived from
 * the cluster secret, so every gateway (and every worker) of a cluster honours a session any of them
 * issued, and nothing is stored. The secret key is never in the cookie.
 */
export class ConsoleSessions {
  private readonly key: Buffer;
  private readonly clock: () => number;

  constructor(options: { clusterSecret: string; clock: () => number }) {
    this.key = createHmac('sha256', options.clusterSecret).update('tessera console session v1').digest();
    this.clock = options.clock;
  }

  /** A session value for `accessKeyId`, good for CONSOLE_SESSION_MS. */
  issue(accessKeyId: string): string {
    const body = `${Buffer.from(accessKeyId, 'utf8').toString('base64url')}.${this.clock() + CONSOLE_SESSION_MS}`;
    return `${body}.${this.mac(body)}`;
  }

  /** The access key a session value belongs to, or undefined when it is forged, malformed or expired. */
  verify(value: string | undefined): string | undefined {
    if (value === undefined) return undefined;
    const parts = value.split('.');
    if (parts.length !== 3) return undefined;
    const [user, expiry, mac] = parts as [string, string, string];
    const expected = Buffer.from(this.mac(`${user}.${expiry}`));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    if (!(Number(expiry) > this.clock())) return undefined;
    return Buffer.from(user, 'base64url').toString('utf8');
  }

  private mac(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}

/** True when `given` is the secret `expected` (constant time; undefined never matches). */
export function secretMatches(given: string, expected: string | undefined): boolean {
  if (expected === undefined) return false;
  const a = createHmac('sha256', 'compare').update(given).digest();
  const b = createHmac('sha256', 'compare').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The value of cookie `name` in a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}
