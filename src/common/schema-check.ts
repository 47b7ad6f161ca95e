import type { Static, TSchema } from 'typebox';
import { Compile, type Validator } from 'typebox/compile';
import type { TLocalizedValidationError } from 'typebox/error';

/**
 * A schema and its validator. TypeBox compiles the schema into a plain JavaScript check, so a call
 * costs about as much as hand-written checks; compiling takes milliseconds, so it happens once, on
 * first use, and whoever holds the instance shares the result (rpc's MESSAGE_CHECKS, the config's
 * role checks).
 */
export class SchemaCheck<T extends TSchema> {
  /** What the value is, for error text ("commit request"). */
  readonly name: string;
  readonly schema: T;
  private compiled: Validator<{}, T> | undefined;

  constructor(name: string, schema: T) {
    this.name = name;
    this.schema = schema;
  }

  /** True when `value` matches the schema. */
  is(value: unknown): value is Static<T> {
    return this.validator().Check(value);
  }

  /** The first thing wrong with `value` ("commit request /record/versionId must match pattern ..."), or null when it is well-formed. */
  problem(value: unknown): string | null {
    const validator = this.validator();
    if (validator.Check(value)) return null;
    const [first] = validator.Errors(value);
    if (first === undefined) return `not a ${this.name}`;
    return `${this.name}${first.instancePath === '' ? '' : ` ${first.instancePath}`} ${first.message}`;
  }

  /** `value` as the schema's type, or the error `fail` makes of what is wrong with it. */
  parse(value: unknown, fail: (problem: string) => Error): Static<T> {
    if (this.validator().Check(value)) return value;
    throw fail(this.problem(value) ?? `not a ${this.name}`);
  }

  /** Every problem with `value`, as TypeBox reports them (empty when it matches). */
  errors(value: unknown): TLocalizedValidationError[] {
    const validator = this.validator();
    return validator.Check(value) ? [] : validator.Errors(value);
  }

  private validator(): Validator<{}, T> {
    this.compiled ??= Compile<T>(this.schema);
    return this.compiled;
  }
}
