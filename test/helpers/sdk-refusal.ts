/**
 * How the AWS SDK reports a request the server refused: its error name (S3's code), HTTP status and
 * message. Throws when the request was accepted.
 */
export async function refusal(work: Promise<unknown>): Promise<{ name: string; status: number; message: string }> {
  try {
    await work;
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode ?? -1, message: e.message };
  }
  throw new Error('the request was accepted');
}
