import fc from 'fast-check';
import { t } from 'tap';
import {
  BODY_HASH_HEADER,
  DATE_HEADER,
  MAX_SIGNATURE_SKEW_MS,
  NODE_HEADER,
  NODE_PATHS,
  ReplayGuard,
  SIGNATURE_HEADER,
  UNSIGNED_BODY,
  signRequest,
  verifyRequestSignature,
} from '../../src/rpc/index.js';

/**
 * The signed headers of a node request have one canonical form each, and only that form verifies:
 * whatever is done to one of them (its case changed, characters added before or after, whitespace,
 * leading zeros, the header repeated as separate values or joined as Node joins them), a request that
 * verified before no longer does. The replay guard admits the canonical request once, and keys it on
 * the signature's decoded bytes, so no spelling of the same signature is admitted after it.
 */

const SECRET = 'node-signature-property-secret';
const NOW = 1_800_000_000_000;
const AUDIENCE = { nodeId: 'n0', anyNode: false };
const SIGNED_HEADERS = [DATE_HEADER, SIGNATURE_HEADER, BODY_HASH_HEADER, NODE_HEADER] as const;
const RUNS = { numRuns: 300 };

type Headers = Record<string, string | string[] | undefined>;

/** A valid signed request: its method, target, time and body hash, and the headers a gateway sends with it. */
const signedRequest = fc
  .record({
    method: fc.constantFrom('GET', 'PUT', 'POST'),
    url: fc.constantFrom(`${NODE_PATHS.shards}?bucket=b&key=k&version=0000000000010000aaaaaaaa&shard=0&k=4&m=2&block=65536&fresh=1`, NODE_PATHS.commit, NODE_PATHS.batch, `${NODE_PATHS.objects}?bucket=b&key=k`),
    skewMs: fc.integer({ min: -MAX_SIGNATURE_SKEW_MS, max: MAX_SIGNATURE_SKEW_MS }),
    bodyHash: fc.oneof(fc.constant(UNSIGNED_BODY), fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => Buffer.from(bytes).toString('hex'))),
  })
  .map((request) => ({ ...request, headers: signRequest(SECRET, request.method, request.url, request.bodyHash, NOW + request.skewMs, 'n0') }));

/** One way of spelling a header value otherwise: each yields a value (or values) that is not the canonical one. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('case' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('append' as const), text: fc.constantFrom('0', 'a', 'A', 'f', 'g', 'z', '=', ',', '\u00a0', '%00') }),
  fc.record({ kind: fc.constant('prepend' as const), text: fc.constantFrom('0', '00', '+', '-', 'a', 'F', 'x', '0x') }),
  fc.record({ kind: fc.constant('whitespace' as const), at: fc.nat(), text: fc.constantFrom(' ', '\t', '  ') }),
  fc.record({ kind: fc.constant('leading-zeros' as const), count: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('repeat' as const), other: fc.option(fc.string({ maxLength: 70 }), { nil: undefined }) }),
  fc.record({ kind: fc.constant('comma-join' as const), other: fc.option(fc.string({ maxLength: 70 }), { nil: undefined }) }),
);

type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

/** `value` spelled as `m` says: a string, or several values for a repeated header (as headersDistinct holds them). */
function mutate(value: string, m: Mutation): string | string[] {
  switch (m.kind) {
    case 'case': {
      const letters = [...value].map((c, i) => (c.toLowerCase() !== c.toUpperCase() ? i : -1)).filter((i) => i >= 0);
      if (letters.length === 0) return value;
      const i = letters[m.at % letters.length] as number;
      const c = value[i] as string;
      return value.slice(0, i) + (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) + value.slice(i + 1);
    }
    case 'append':
      return value + m.text;
    case 'prepend':
      return m.text + value;
    case 'whitespace': {
      const i = m.at % (value.length + 1);
      return value.slice(0, i) + m.text + value.slice(i);
    }
    case 'leading-zeros':
      return '0'.repeat(m.count) + value;
    case 'repeat':
      return [value, m.other ?? value];
    case 'comma-join':
      return `${value}, ${m.other ?? value}`;
  }
}

function same(a: string | string[], b: string): boolean {
  return typeof a === 'string' && a === b;
}

t.test('the canonical signed headers verify, and the replay guard admits them exactly once', async () => {
  fc.assert(
    fc.property(signedRequest, ({ method, url, headers }) => {
      if (verifyRequestSignature(SECRET, method, url, headers, NOW, AUDIENCE) !== null) return false;
      const guard = new ReplayGuard({ startMs: NOW - MAX_SIGNATURE_SKEW_MS });
      return guard.admitSigned(headers, NOW) === null && guard.admitSigned(headers, NOW) === 'replayed' && guard.size === 1;
    }),
    RUNS,
  );
});

t.test('any non-canonical spelling of any one signed header is refused, whether repeated, joined, recased, padded or prefixed', async () => {
  fc.assert(
    fc.property(signedRequest, fc.constantFrom(...SIGNED_HEADERS), mutation, ({ method, url, headers }, name, m) => {
      const canonical = headers[name] as string;
      const spelled = mutate(canonical, m);
      fc.pre(!same(spelled, canonical));
      const forged: Headers = { ...headers, [name]: spelled };
      return verifyRequestSignature(SECRET, method, url, forged, NOW, AUDIENCE) !== null;
    }),
    RUNS,
  );
});

t.test('no spelling of a signature is admitted by the replay guard once the canonical one was', async () => {
  fc.assert(
    fc.property(signedRequest, fc.constantFrom(DATE_HEADER, SIGNATURE_HEADER), mutation, ({ headers }, name, m) => {
      const guard = new ReplayGuard({ startMs: NOW - MAX_SIGNATURE_SKEW_MS });
      if (guard.admitSigned(headers, NOW) !== null) return false;
      const spelled = mutate(headers[name] as string, m);
      fc.pre(!same(spelled, headers[name] as string));
      // Even were the request to reach the guard, a form that is not canonical is refused there too.
      return guard.admitSigned({ ...headers, [name]: spelled }, NOW) !== null && guard.size === 1;
    }),
    RUNS,
  );
});

t.test('the replay guard remembers a signature by its decoded bytes: a lenient decoding of another spelling is a replay', async () => {
  fc.assert(
    fc.property(signedRequest, fc.constantFrom('upper', 'append-0', 'append-garbage'), ({ headers }, spelling) => {
      const text = headers[SIGNATURE_HEADER] as string;
      const dateMs = Number(headers[DATE_HEADER]);
      const guard = new ReplayGuard({ startMs: NOW - MAX_SIGNATURE_SKEW_MS });
      if (guard.admit(Buffer.from(text, 'hex'), dateMs, NOW) !== null) return false;
      const other = spelling === 'upper' ? text.toUpperCase() : spelling === 'append-0' ? `${text}0` : `${text}zz`;
      // Buffer.from(hex) stops at the first character it cannot read and ignores a trailing odd digit.
      return guard.admit(Buffer.from(other, 'hex'), dateMs, NOW) === 'replayed';
    }),
    RUNS,
  );
});
