import { S3Error } from '../s3/index.js';

/** What the framing parser reports; the body decoder verifies and forwards. Handlers may throw S3Error. */
export interface ChunkedHandlers {
  /**
   * A chunk header: its data size and the value of `;chunk-signature=` if present. Size 0 is the final chunk.
   * Returning false stops `write` right after this header (the caller waits for something, then feeds the rest).
   */
  chunkHeader(sizeBytes: number, signature: string | undefined): boolean | void;
  /** A view into the input (no copy) holding the next bytes of the current chunk's data. */
  chunkData(data: Buffer): void;
  /** The current (non-final) chunk's data and its CRLF have been read. */
  chunkEnd(): void;
  /** One non-empty line of the trailer section, after the final chunk. */
  trailerLine(line: string): void;
}

const LF = 0x0a;
const CR = 0x0d;
// A chunk header is "<hex size>;chunk-signature=<64 hex>" plus slack for other extensions.
const MAX_HEADER_LINE_BYTES = 4096;
const MAX_TRAILER_BYTES = 16 * 1024;
const CHUNK_SIZE = /^[0-9a-fA-F]{1,13}$/;

const State = { Header: 0, Data: 1, DataEnd: 2, DataEndLf: 3, Trailer: 4 } as const;
type State = (typeof State)[keyof typeof State];

function malformed(detail: string): S3Error {
  return new S3Error('InvalidRequest', { message: `Malformed aws-chunked body: ${detail}` });
}

/**
 * Incremental parser for the aws-chunked body encoding. It accepts input split at any byte, never copies chunk data,
 * scans framing with Buffer#indexOf, and accepts both CRLF and bare LF line ends (clients differ around the trailer).
 */
export class AwsChunkedParser {
  readonly #h: ChunkedHandlers;
  #state: State = State.Header;
  #remaining = 0;
  #line: Buffer[] = [];
  #lineBytes = 0;
  #trailerBytes = 0;

  constructor(handlers: ChunkedHandlers) {
    this.#h = handlers;
  }

  /** Feeds the next piece of the framed body; returns how much of it was read (all, unless a chunkHeader said stop). */
  write(buf: Buffer): number {
    let pos = 0;
    while (pos < buf.length) {
      switch (this.#state) {
        case State.Header:
        case State.Trailer: {
          const lf = buf.indexOf(LF, pos);
          const end = lf === -1 ? buf.length : lf;
          this.#appendLine(buf.subarray(pos, end));
          if (lf === -1) return buf.length;
          pos = lf + 1;
          const line = this.#takeLine();
          if (this.#state === State.Header) {
            if (!this.#header(line)) return pos;
          } else if (line !== '') this.#h.trailerLine(line);
          break;
        }
        case State.Data: {
          const n = Math.min(this.#remaining, buf.length - pos);
          this.#h.chunkData(buf.subarray(pos, pos + n));
          pos += n;
          this.#remaining -= n;
          if (this.#remaining === 0) this.#state = State.DataEnd;
          break;
        }
        case State.DataEnd: {
          const b = buf[pos++];
          if (b === CR) this.#state = State.DataEndLf;
          else if (b === LF) this.#endChunk();
          else throw malformed('chunk data is longer than its declared size');
          break;
        }
        case State.DataEndLf: {
          if (buf[pos++] !== LF) throw malformed('chunk data is longer than its declared size');
          this.#endChunk();
          break;
        }
      }
    }
    return pos;
  }

  /** Declares the input complete; throws IncompleteBody if the final chunk never arrived. */
  end(): void {
    if (this.#state !== State.Trailer) {
      throw new S3Error('IncompleteBody', { message: 'The aws-chunked body ended before its final zero-length chunk.' });
    }
    // A sender may omit the last line end of the trailer section.
    const line = this.#takeLine();
    if (line !== '') this.#h.trailerLine(line);
  }

  #endChunk(): void {
    this.#state = State.Header;
    this.#h.chunkEnd();
  }

  #appendLine(piece: Buffer): void {
    if (piece.length === 0) return;
    this.#lineBytes += piece.length;
    if (this.#state === State.Header) {
      if (this.#lineBytes > MAX_HEADER_LINE_BYTES) throw malformed('chunk header line too long');
    } else {
      this.#trailerBytes += piece.length;
      if (this.#trailerBytes > MAX_TRAILER_BYTES) throw new S3Error('MalformedTrailerError', { message: 'The trailer section is too large.' });
    }
    this.#line.push(piece);
  }

  #takeLine(): string {
    const parts = this.#line;
    let text = parts.length === 1 ? parts[0]!.toString('latin1') : Buffer.concat(parts).toString('latin1');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    this.#line = [];
    this.#lineBytes = 0;
    return text;
  }

  /** False when the handler asked to stop after this header. */
  #header(line: string): boolean {
    const semi = line.indexOf(';');
    const sizeText = (semi === -1 ? line : line.slice(0, semi)).trim();
    if (!CHUNK_SIZE.test(sizeText)) throw malformed(`invalid chunk size "${sizeText.slice(0, 32)}"`);
    const size = parseInt(sizeText, 16);
    let signature: string | undefined;
    if (semi !== -1) {
      for (const ext of line.slice(semi + 1).split(';')) {
        const eq = ext.indexOf('=');
        if (eq !== -1 && ext.slice(0, eq).trim() === 'chunk-signature') signature = ext.slice(eq + 1).trim();
      }
    }
    const goOn = this.#h.chunkHeader(size, signature) !== false;
    if (size === 0) {
      this.#state = State.Trailer;
    } else {
      this.#remaining = size;
      this.#state = State.Data;
    }
    return goOn;
  }
}
