// Property-based fuzzing of every parser a request reaches before a handler: whatever the input, each
// answers with a value or an S3 error the client can be sent (a 4xx), never with another exception
// that would surface as a 500. Runs are seeded by fast-check and print the seed and the shrunk input
// of any failure; FUZZ_RUNS raises the number of cases per property.
import fc from 'fast-check';
import { t } from 'tap';
import { authenticate } from '../../src/gateway/auth/index.js';
import { AwsChunkedParser } from '../../src/gateway/auth/aws-chunked-parser.js';
import { S3Error, parseCopySource, parseCorsXml, parseRange, parseTaggingHeader, parseTaggingXml, requestDocumentRoot } from '../../src/gateway/s3/index.js';
import { MESSAGE_CHECKS, WireError } from '../../src/rpc/index.js';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 400);
const NOW_MS = Date.UTC(2026, 10, 22, 12, 0, 0);
const CREDENTIALS = { secretKeyFor: (id: string) => (id === 'AKID' ? 'secret' : undefined) };

/** Runs `parse`; passes when it returns or throws an S3Error whose status is a client error. */
function answersOrRefuses(parse: () => unknown): boolean {
  try {
    parse();
    return true;
  } catch (err) {
    if (err instanceof S3Error && err.status >= 400 && err.status < 500) return true;
    throw err;
  }
}

// Pieces of real requests, so generated inputs get past the first checks more often than random text would.
const token = fc.oneof(
  fc.string(),
  fc.constantFrom('', ' ', ',', '=', '/', '\0', '\r\n', 'AKID', 'AWS4-HMAC-SHA256', 'aws4_request', 's3', 'us-east-1', '20261122', '20261122T120000Z', 'host;x-amz-date', 'a'.repeat(64), '%', '%ZZ', '\u00ff', '..'),
);
const joined = fc.array(token, { maxLength: 8 }).map((parts) => parts.join(''));
const credential = fc.tuple(joined, joined, joined, joined, joined).map((parts) => parts.join('/'));
const authorization = fc.oneof(
  joined,
  fc.tuple(fc.constantFrom('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA256 ', 'AWS ', 'aws4-hmac-sha256', ''), credential, joined, joined, fc.constantFrom(', ', ',', ' ')).map(
    ([algorithm, cred, signed, signature, sep]) => `${algorithm} Credential=${cred}${sep}SignedHeaders=${signed}${sep}Signature=${signature}`,
  ),
);
const queryPair = fc.tuple(
  fc.oneof(fc.constantFrom('X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders', 'X-Amz-Expires', 'AWSAccessKeyId', 'Signature', 'Expires', 'uploads', 'tagging', 'versionId'), joined),
  fc.option(joined, { nil: undefined }),
);
const rawQuery = fc.array(queryPair, { maxLength: 8 }).map((pairs) => pairs.map(([k, v]) => (v === undefined ? k : `${k}=${v}`)).join('&'));
const headerValue = fc.oneof(joined, fc.array(joined, { minLength: 1, maxLength: 3 }));
const headers = fc.record(
  {
    authorization: fc.oneof(authorization, fc.array(authorization, { minLength: 1, maxLength: 2 })),
    'x-amz-date': headerValue,
    date: headerValue,
    'x-amz-content-sha256': fc.oneof(headerValue, fc.constantFrom('UNSIGNED-PAYLOAD', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER')),
    'x-amz-decoded-content-length': headerValue,
    'content-length': headerValue,
    'x-amz-trailer': headerValue,
    host: headerValue,
    'content-md5': headerValue,
  },
  { requiredKeys: [] },
);

t.test('SigV4 and SigV2 authentication (headers and query) answers every request with a result or a 4xx S3 error', async (t) => {
  fc.assert(
    fc.property(fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'HEAD'), joined, rawQuery, headers, (method, path, query, hdrs) =>
      answersOrRefuses(() => authenticate({ method, rawPath: `/${path}`, rawQuery: query, headers: hdrs }, CREDENTIALS, { nowMs: NOW_MS })),
    ),
    { numRuns: RUNS },
  );
  t.pass(`${RUNS} requests`);
});

/** A framing that is valid, or close to it: chunks with sizes that may lie, optional signatures and trailers. */
const chunkedBody = fc
  .tuple(
    fc.array(fc.tuple(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: -3, max: 3 }), fc.option(joined, { nil: undefined }), fc.constantFrom('\r\n', '\n', '')), { maxLength: 5 }),
    fc.array(joined, { maxLength: 3 }),
    fc.boolean(),
  )
  .map(([chunks, trailers, final]) => {
    const parts: Buffer[] = [];
    for (const [data, sizeSkew, signature, eol] of chunks) {
      const size = Math.max(0, data.length + sizeSkew);
      parts.push(Buffer.from(`${size.toString(16)}${signature === undefined ? '' : `;chunk-signature=${signature}`}${eol}`, 'latin1'), Buffer.from(data), Buffer.from(eol));
    }
    if (final) parts.push(Buffer.from(`0\r\n${trailers.map((line) => `${line}\r\n`).join('')}\r\n`, 'latin1'));
    return Buffer.concat(parts);
  });

t.test('aws-chunked framing and trailers: any bytes, split anywhere, parse or get an S3 error', async (t) => {
  fc.assert(
    fc.property(fc.oneof(chunkedBody, fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b))), fc.array(fc.nat(), { maxLength: 6 }), (body, cuts) => {
      const parser = new AwsChunkedParser({ chunkHeader: () => undefined, chunkData: () => undefined, chunkEnd: () => undefined, trailerLine: () => undefined });
      const points = [...new Set(cuts.map((c) => c % (body.length + 1)))].sort((a, b) => a - b);
      return answersOrRefuses(() => {
        let from = 0;
        for (const point of [...points, body.length]) {
          parser.write(body.subarray(from, point));
          from = point;
        }
        parser.end();
      });
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

t.test('aws-chunked: a valid body parses to the same data and trailers however it is split', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 100 }), { maxLength: 5 }), fc.array(fc.nat(), { maxLength: 6 }), (chunks, cuts) => {
      const body = Buffer.concat([
        ...chunks.flatMap((c) => [Buffer.from(`${c.length.toString(16)};chunk-signature=${'0'.repeat(64)}\r\n`), Buffer.from(c), Buffer.from('\r\n')]),
        Buffer.from('0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n'),
      ]);
      const seen: Buffer[] = [];
      const trailers: string[] = [];
      const parser = new AwsChunkedParser({ chunkHeader: () => undefined, chunkData: (d) => seen.push(Buffer.from(d)), chunkEnd: () => undefined, trailerLine: (l) => trailers.push(l) });
      let from = 0;
      for (const point of [...new Set(cuts.map((c) => c % (body.length + 1)))].sort((a, b) => a - b).concat(body.length)) {
        parser.write(body.subarray(from, point));
        from = point;
      }
      parser.end();
      return Buffer.concat(seen).equals(Buffer.concat(chunks.map((c) => Buffer.from(c)))) && trailers.join('|') === 'x-amz-checksum-crc32:AAAAAA==';
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

const ELEMENTS = ['Delete', 'Object', 'Key', 'VersionId', 'Quiet', 'CompleteMultipartUpload', 'Part', 'PartNumber', 'ETag', 'Tagging', 'TagSet', 'Tag', 'Value', 'CORSConfiguration', 'CORSRule', 'AllowedOrigin', 'AllowedMethod', 'AllowedHeader', 'MaxAgeSeconds', 'ExposeHeader', 'ID', 'AccessControlPolicy', 'Owner', 'AccessControlList', 'Grant', 'Grantee', 'Permission'];
const xmlText = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('&amp;', '&lt;', '&#0;', '&#x10FFFF;', '&bogus;', '<![CDATA[x]]>', ']]>', '\0', '1', '-1', '99999999999999999999', 'true', 'GET', '*'));
const { tree: xmlTree } = fc.letrec<{ tree: string }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    xmlText,
    fc.tuple(fc.constantFrom(...ELEMENTS), fc.array(tie('tree'), { maxLength: 4 }), fc.constantFrom('', ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"', ' a="b"', ' xmlns:xsi="x" xsi:type="CanonicalUser"'), fc.boolean()).map(
      ([name, children, attributes, closed]) => `<${name}${attributes}>${children.join('')}${closed ? `</${name}>` : ''}`,
    ),
  ),
}));
const xmlDocument = fc.oneof(xmlTree, fc.tuple(fc.constantFrom('', '<?xml version="1.0" encoding="UTF-8"?>', '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>'), xmlTree).map(([prolog, tree]) => prolog + tree), fc.string());

t.test('XML request bodies: any document gets its parsed root, tags or CORS rules, or an S3 error', async (t) => {
  fc.assert(
    fc.property(xmlDocument, fc.constantFrom('Delete', 'CompleteMultipartUpload', 'Tagging', 'CORSConfiguration', 'AccessControlPolicy'), (text, root) => {
      answersOrRefuses(() => requestDocumentRoot(text, root));
      answersOrRefuses(() => parseTaggingXml(text, 10));
      answersOrRefuses(() => parseCorsXml(text));
      return true;
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

t.test('Range: any header and size give the whole object, a range inside it, or InvalidRange', async (t) => {
  const rangeHeader = fc.oneof(
    fc.string(),
    fc.tuple(fc.constantFrom('bytes=', 'bytes =', 'Bytes=', ''), fc.option(fc.bigInt({ min: 0n, max: 10n ** 20n }), { nil: undefined }), fc.constantFrom('-', ',', '--'), fc.option(fc.bigInt({ min: 0n, max: 10n ** 20n }), { nil: undefined })).map(
      ([unit, first, dash, last]) => `${unit}${first ?? ''}${dash}${last ?? ''}`,
    ),
  );
  fc.assert(
    fc.property(fc.option(rangeHeader, { nil: undefined }), fc.nat({ max: 2 ** 40 }), (header, size) => {
      let range;
      try {
        range = parseRange(header, size);
      } catch (err) {
        if (err instanceof S3Error && err.code === 'InvalidRange') return true;
        throw err;
      }
      return range === undefined || (Number.isSafeInteger(range.start) && range.start >= 0 && range.start <= range.end && range.end < size);
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

t.test('copy source and tagging headers: any value names an object or gets an S3 error', async (t) => {
  const copySource = fc.oneof(
    fc.string(),
    fc.tuple(fc.constantFrom('', '/'), joined, fc.constantFrom('/', '%2F', ''), joined, fc.constantFrom('', '?versionId=', '?versionId=null', '?x=1&versionId=a', '?')).map((parts) => parts.join('')),
  );
  fc.assert(
    fc.property(copySource, (value) => {
      answersOrRefuses(() => parseCopySource(value));
      answersOrRefuses(() => parseTaggingHeader(value));
      return true;
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

t.test('node protocol messages: every check accepts its message or refuses it with the caller’s error, whatever the JSON', async (t) => {
  const message = fc.oneof(
    fc.jsonValue(),
    fc.anything(),
    fc.record(
      { op: fc.constantFrom('prepare', 'commit', 'status', 'digest', 'other'), ref: fc.jsonValue(), erasure: fc.jsonValue(), shard: fc.string(), request: fc.jsonValue(), bucket: fc.jsonValue(), key: fc.jsonValue(), partition: fc.oneof(fc.integer(), fc.jsonValue()), bits: fc.oneof(fc.integer({ min: -1, max: 22 }), fc.jsonValue()) },
      { requiredKeys: [] },
    ),
  );
  fc.assert(
    fc.property(message, (value) => {
      for (const [name, check] of Object.entries(MESSAGE_CHECKS)) {
        try {
          check.parse(value, (problem) => new WireError('BadRequest', problem));
        } catch (err) {
          if (!(err instanceof WireError)) throw new Error(`${name} threw ${String(err)}`, { cause: err });
        }
        if (typeof check.is(value) !== 'boolean') return false;
      }
      return true;
    }),
    { numRuns: RUNS },
  );
  t.pass();
});
