import { t } from 'tap';
import { copySourceRange, S3Error } from '../../../src/gateway/s3/index.js';

/** The S3 error `run` throws, as code, message and fields. */
function thrown(run: () => unknown): { code: string; message: string; fields: Record<string, string> } | undefined {
  try {
    run();
  } catch (err) {
    if (err instanceof S3Error) return { code: err.code, message: err.message, fields: err.fields };
    throw err;
  }
  return undefined;
}

t.test('without a range the whole source is copied; a range inside it copies first through last', async (t) => {
  t.same(copySourceRange(undefined, 10), { start: 0, length: 10 });
  t.same(copySourceRange(undefined, 0), { start: 0, length: 0 }, 'an empty source');
  t.same(copySourceRange('bytes=2-5', 10), { start: 2, length: 4 });
  t.same(copySourceRange('bytes=0-9', 10), { start: 0, length: 10 }, 'the last byte is the last offset');
  t.same(copySourceRange(' bytes=9-9 ', 10), { start: 9, length: 1 });
});

t.test('a range reaching past the source, or backwards, is 400 InvalidArgument naming the source size', async (t) => {
  for (const range of ['bytes=0-10', 'bytes=5-20', 'bytes=10-12', 'bytes=0-0', 'bytes=8-3']) {
    const size = range === 'bytes=0-0' ? 0 : 10;
    t.same(
      thrown(() => copySourceRange(range, size)),
      { code: 'InvalidArgument', message: `Range specified is not valid for source object of size: ${size}`, fields: { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: range } },
      range,
    );
  }
});

t.test("anything but bytes=first-last is 400 InvalidArgument with S3's message naming the form", async (t) => {
  for (const range of ['bytes=-2', 'bytes=3-', 'bytes=0-1,3-4', 'items=0-1', 'bytes=a-b', '']) {
    t.same(
      thrown(() => copySourceRange(range, 10)),
      {
        code: 'InvalidArgument',
        message: 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
        fields: { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: range },
      },
      JSON.stringify(range),
    );
  }
});

t.test('a copy of more than 5 GiB, whole or ranged, is 400 InvalidRequest naming the limit', async (t) => {
  const GiB = 1024 ** 3;
  const tooLarge = { code: 'InvalidRequest', message: 'The specified copy source is larger than the maximum allowable size for a copy source: 5368709120', fields: {} };
  t.same(thrown(() => copySourceRange(undefined, 5 * GiB + 1)), tooLarge, 'a whole source one byte over');
  t.same(thrown(() => copySourceRange(`bytes=1-${5 * GiB + 1}`, 6 * GiB)), tooLarge, 'a range one byte over');
  t.same(copySourceRange(undefined, 5 * GiB), { start: 0, length: 5 * GiB }, 'exactly 5 GiB is allowed');
  t.same(copySourceRange(`bytes=${GiB}-${6 * GiB - 1}`, 6 * GiB), { start: GiB, length: 5 * GiB }, 'so is a 5 GiB range of a larger source');
});
