/** Base class for every error Tessera throws on purpose: a stable `code` to branch on, never the message. */
export class TesseraError<C extends string = string> extends Error {
  readonly code: C;

  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** True when `err` is a TesseraError carrying `code`. */
export function hasCode(err: unknown, code: string): boolean {
  return err instanceof TesseraError && err.code === code;
}
