/** `first`, then the rest of the chunks `rest` yields. */
export async function* prepended(first: Buffer, rest: AsyncGenerator<Buffer>): AsyncGenerator<Buffer> {
  try {
    yield first;
    yield* rest;
  } finally {
    // Given up after `first`: the shard's file closes now, not when the collector finds it.
    await rest.return(undefined);
  }
}
