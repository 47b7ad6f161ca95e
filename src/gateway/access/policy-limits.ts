// What a policy document may hold. A bucket's owner writes its policy and every request to the
// bucket (anonymous ones, and each key of a DeleteObjects) is judged against all of it, so the work a
// document can cause must be bounded when it is set. S3 documents only the 20 KB size; the counts
// and lengths below are far above what people write, and each has the same MalformedPolicy answer.

/** Largest policy document accepted, in bytes: S3's bound for a bucket policy, used for user policies too. */
export const MAX_POLICY_BYTES = 20 * 1024;

/** Most statements in one policy. */
export const MAX_POLICY_STATEMENTS = 256;

/**
 * Most values in one list: a statement's Action, Resource or one principal type, or one condition
 * key's values.
 */
export const MAX_POLICY_LIST_VALUES = 256;

/**
 * Longest value, in characters, of an action, resource, principal or condition value. The longest
 * ARN S3 can name is `arn:aws:s3:::` + a 63-character bucket + `/` + a 1,024-byte key: 1,101.
 */
export const MAX_POLICY_VALUE_CHARS = 1_280;

/** Most condition keys in one statement's Condition block, over all its operators. */
export const MAX_POLICY_CONDITION_KEYS = 64;

/** Fails with `malformed` when `values` (one list of `field`) is longer than a list may be, or holds a value too long. */
export function checkPolicyValues(values: readonly string[], field: string, malformed: (message: string) => Error): void {
  if (values.length > MAX_POLICY_LIST_VALUES) throw malformed(`${field} has ${values.length} values; a policy allows at most ${MAX_POLICY_LIST_VALUES}`);
  for (const value of values) {
    if (value.length > MAX_POLICY_VALUE_CHARS) throw malformed(`${field} has a value of ${value.length} characters; a policy allows at most ${MAX_POLICY_VALUE_CHARS}`);
  }
}
