/**
 * SigV4 canonical request pieces, computed the way S3 does them.
 * Every string here is a "byte string": one char per wire byte (latin1), which is how node delivers
 * header values; percent-decoded URL parts are turned into bytes the same way, so hashing with
 * 'latin1' reproduces exactly the bytes the client signed.
 */

const HEX_DIGITS = '0123456789ABCDEF';

// SigV4 leaves only RFC 3986 unreserved characters bare.
const UNRESERVED = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~') UNRESERVED[c.charCodeAt(0)] = 1;

const CANONICAL_PATH_FAST = /^[A-Za-z0-9\-._~/]*$/;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Percent-decodes `s` into bytes. A '%' not followed by two hex digits stays literal (and is re-encoded as %25);
 * `plusAsSpace` applies form decoding, which S3 uses for query strings but never for paths.
 */
export function percentDecode(s: string, plusAsSpace: boolean): Buffer {
  if (!s.includes('%') && !(plusAsSpace && s.includes('+'))) return Buffer.from(s, 'utf8');
  const out = Buffer.allocUnsafe(Buffer.byteLength(s, 'utf8'));
  let o = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && i + 2 < s.length) {
      const hi = hexValue(s.charCodeAt(i + 1));
      const lo = hexValue(s.charCodeAt(i + 2));
      if (hi >= 0 && lo >= 0) {
        out[o++] = (hi << 4) | lo;
        i += 2;
        continue;
      }
      out[o++] = c;
    } else if (c === 0x2b && plusAsSpace) {
      out[o++] = 0x20;
    } else if (c < 0x80) {
      out[o++] = c;
    } else {
      // Node refuses raw non-ASCII request targets, but stay correct for callers that pass decoded text.
      const cp = s.codePointAt(i)!;
      o += out.write(String.fromCodePoint(cp), o, 'utf8');
      if (cp > 0xffff) i++;
    }
  }
  return out.subarray(0, o);
}

/** SigV4 URI encoding of raw bytes: unreserved characters bare, everything else %XX upper-case; '/' bare when `keepSlash`. */
export function uriEncode(bytes: Uint8Array, keepSlash: boolean): string {
  const latin1 = (from: number, to: number): string => Buffer.from(bytes.buffer, bytes.byteOffset + from, to - from).toString('latin1');
  let out = '';
  let runStart = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (UNRESERVED[b] === 1 || (keepSlash && b === 0x2f)) continue;
    if (i > runStart) out += latin1(runStart, i);
    out += '%' + HEX_DIGITS[b >> 4]! + HEX_DIGITS[b & 15]!;
    runStart = i + 1;
  }
  if (runStart < bytes.length) out += latin1(runStart, bytes.length);
  return out;
}

/**
 * Canonical URI for S3: the path as sent, normalised to one encoding (decode, then encode each byte once).
 * S3 does not double-encode and does not remove dot segments or repeated slashes.
 */
export function canonicalPath(rawPath: string): string {
  if (rawPath === '') return '/';
  if (CANONICAL_PATH_FAST.test(rawPath)) return rawPath;
  return uriEncode(percentDecode(rawPath, false), true);
}

/** Splits a raw query string into form-decoded (key, value) byte strings, in order; a key without '=' has value ''. */
export function decodeQuery(rawQuery: string): [string, string][] {
  const pairs: [string, string][] = [];
  if (rawQuery === '') return pairs;
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = eq === -1 ? part : part.slice(0, eq);
    const value = eq === -1 ? '' : part.slice(eq + 1);
    pairs.push([percentDecode(key, true).toString('latin1'), percentDecode(value, true).toString('latin1')]);
  }
  return pairs;
}

/** Canonical query string: every pair re-encoded, sorted by encoded key then value; `omitKey` (X-Amz-Signature when presigned) dropped. */
export function canonicalQuery(pairs: readonly [string, string][], omitKey?: string): string {
  const encoded: [string, string][] = [];
  for (const [key, value] of pairs) {
    if (key === omitKey) continue;
    encoded.push([uriEncode(Buffer.from(key, 'latin1'), false), uriEncode(Buffer.from(value, 'latin1'), false)]);
  }
  encoded.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return encoded.map(([k, v]) => `${k}=${v}`).join('&');
}

// Trim and collapse runs of spaces/tabs only: String#trim would also eat latin1 0xA0, a real wire byte.
function canonicalHeaderValue(value: string): string {
  return value.replace(/[ \t]+/g, ' ').replace(/^ | $/g, '');
}

/** The canonical headers block (each `name:value\n`) for `signedHeaders`, taking values from node's headers object. */
export function canonicalHeaders(signedHeaders: readonly string[], headers: Readonly<Record<string, string | string[] | undefined>>): string {
  let out = '';
  for (const name of signedHeaders) {
    const raw = headers[name];
    const value = raw === undefined ? '' : Array.isArray(raw) ? raw.map(canonicalHeaderValue).join(',') : canonicalHeaderValue(raw);
    out += `${name}:${value}\n`;
  }
  return out;
}

/** The whole canonical request (a byte string). */
export function canonicalRequest(parts: {
  method: string;
  path: string;
  query: string;
  headers: string;
  signedHeaders: readonly string[];
  payloadHash: string;
}): string {
  return `${parts.method}\n${parts.path}\n${parts.query}\n${parts.headers}\n${parts.signedHeaders.join(';')}\n${parts.payloadHash}`;
}
