import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Busboy, type BusboyFileStream } from '@fastify/busboy';
import { S3Error } from '../../s3/index.js';

/** S3's cap on the form fields that precede the file (MaxPostPreDataLengthExceededError past it). */
export const MAX_POST_FIELD_BYTES = 20 * 1024;

/** The part of a POST form S3 reads before the upload: the fields (lower-cased names) and the file. */
export interface FormHead {
  fields: Map<string, string>;
  /** The file part's bytes; a body that breaks off inside it fails with MalformedPOSTRequest. */
  file: AsyncIterable<Buffer>;
  /** The file part's filename (its last path segment), '' when it has none: what `${filename}` becomes. */
  filename: string;
}

/** A multipart/form-data body being parsed: its head once the file part starts, and the end of the whole body. */
export interface PostForm {
  /** Settles when the file part begins; rejects with the S3 error a malformed or fileless form gets. */
  head: Promise<FormHead>;
  /** Settles when the whole body has been parsed; rejects with MalformedPOSTRequest if it is not well-formed. */
  done: Promise<void>;
}

function malformed(): S3Error {
  return new S3Error('MalformedPOSTRequest');
}

/**
 * Streams a multipart/form-data body through a parser, as S3 reads a POST upload: the fields up to
 * the part named `file` (at most 20 KiB of them), then the file itself, left for the caller to
 * stream with backpressure. Fields after the file, and further files, are read past and ignored.
 * Nothing but the fields is held in memory.
 */
export function readPostForm(body: Readable, contentType: string): PostForm {
  let parser: ReturnType<typeof Busboy>;
  try {
    parser = Busboy({
      headers: { 'content-type': contentType },
      // The part named `file` is the upload, whether or not it carries a filename; any other part is a field.
      isPartAFile: (name) => name?.toLowerCase() === 'file',
      limits: { fieldSize: MAX_POST_FIELD_BYTES + 1, fieldNameSize: 1024, files: 1, fields: 1000, parts: 1100, headerPairs: 100 },
    });
  } catch {
    const failed = Promise.reject(new S3Error('MalformedPOSTRequest'));
    failed.catch(() => undefined);
    body.resume();
    return { head: failed, done: failed };
  }
  const fields = new Map<string, string>();
  let fieldBytes = 0;
  let file: BusboyFileStream | undefined;
  let headError: S3Error | undefined;
  let settleHead: { resolve: (head: FormHead) => void; reject: (err: unknown) => void } | undefined;
  const head = new Promise<FormHead>((resolve, reject) => {
    settleHead = { resolve, reject };
  });
  head.catch(() => undefined);
  const failHead = (err: S3Error): void => {
    headError ??= err;
    settleHead?.reject(headError);
    settleHead = undefined;
  };
  parser.on('field', (name: string | undefined, value: string, nameTruncated: boolean, valueTruncated: boolean) => {
    // Fields after the file do not count, as in S3. A part without a name is no field at all.
    if (file !== undefined || headError !== undefined) return;
    if (typeof name !== 'string') return failHead(malformed());
    fieldBytes += Buffer.byteLength(name) + Buffer.byteLength(value);
    if (nameTruncated || valueTruncated || fieldBytes > MAX_POST_FIELD_BYTES) return failHead(new S3Error('MaxPostPreDataLengthExceededError'));
    const lower = name.toLowerCase();
    if (fields.has(lower)) {
      return failHead(new S3Error('InvalidArgument', { message: `Bucket POST has more than one field named '${name}'.`, fields: { ArgumentName: name, ArgumentValue: value } }));
    }
    fields.set(lower, value);
  });
  parser.on('file', (_name: string, stream: BusboyFileStream, filename: string | undefined) => {
    // An error on a file nobody reads yet must not go unhandled; the reader sees it on its next read.
    stream.on('error', () => undefined);
    if (file !== undefined || headError !== undefined) {
      stream.resume();
      return;
    }
    file = stream;
    settleHead?.resolve({ fields, file: fileChunks(stream), filename: filename ?? '' });
    settleHead = undefined;
  });
  parser.on('error', () => undefined);
  const done = pipeline(body, parser).then(
    () => {
      if (file === undefined) {
        failHead(new S3Error('InvalidArgument', { message: 'POST requires exactly one file upload per request.', fields: { ArgumentName: 'file', ArgumentValue: '0' } }));
      }
    },
    (err: unknown) => {
      const error = err instanceof S3Error ? err : malformed();
      failHead(error);
      file?.destroy(error);
      throw error;
    },
  );
  done.catch(() => undefined);
  return { head, done };
}

/** The parser's file stream, its failures (a part cut short, a broken boundary) turned into S3's error. */
async function* fileChunks(stream: Readable): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } catch (err) {
    throw err instanceof S3Error ? err : malformed();
  }
}
