import { PassThrough, Readable, Transform } from 'node:stream';
import { t } from 'tap';
import { pipeInto } from '../../../src/gateway/http/request-body.js';

/** A transform that keeps what passes and fails on the chunk `failOn` when given. */
function collector(failOn?: string): { sink: Transform; seen: string[] } {
  const seen: string[] = [];
  const sink = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (chunk.toString() === failOn) return done(new Error('bad chunk'));
      seen.push(chunk.toString());
      done(null, chunk);
    },
  });
  sink.resume();
  return { sink, seen };
}

/** A body (a PassThrough the test writes to) piped into a collector, as decodedBody pipes a request. */
function piped(failOn?: string): { source: PassThrough; sink: Transform; done: Promise<void> } {
  const source = new PassThrough();
  const { sink } = collector(failOn);
  return { source, sink, done: pipeInto(source, sink) };
}

t.test('a body piped into its decoder arrives whole, the decoder is ended, and the promise resolves once both are done', async (t) => {
  const { sink, seen } = collector();
  await pipeInto(Readable.from(['a', 'b', 'c']), sink);
  t.same(seen, ['a', 'b', 'c']);
  t.ok(sink.writableFinished, 'the decoder was ended');
});

t.test('a decoder that fails mid-body destroys the body it reads and rejects with its error', async (t) => {
  const { source, done } = piped('b');
  source.write('a');
  source.write('b');
  await t.rejects(done, { message: 'bad chunk' });
  t.ok(source.destroyed, 'the body was destroyed: nothing more is read from the client');
});

t.test('a body cut off before its end (the client went away) destroys the decoder and rejects as a premature close', async (t) => {
  const { source, sink, done } = piped();
  source.write('a');
  source.destroy();
  await t.rejects(done, { code: 'ERR_STREAM_PREMATURE_CLOSE' });
  t.ok(sink.destroyed, 'the decoder was destroyed, so its reader sees the failure');
});

t.test('a body that failed destroys the decoder with the same error', async (t) => {
  const { source, sink, done } = piped();
  const sinkError = new Promise<Error>((resolve) => sink.once('error', resolve));
  source.destroy(new Error('socket reset'));
  await t.rejects(done, { message: 'socket reset' });
  t.equal((await sinkError).message, 'socket reset');
});

t.test('a body that ended before its decoder failed is not destroyed: the answer can still be sent on its socket', async (t) => {
  const source = new PassThrough();
  const sink = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      done(null, chunk);
    },
    flush(done) {
      // A check that runs at the body's end (a digest or checksum mismatch).
      done(new Error('digest mismatch'));
    },
  });
  sink.resume();
  const destroyedWith: unknown[] = [];
  const destroy = source.destroy.bind(source);
  source.destroy = (err?: Error) => {
    destroyedWith.push(err);
    return destroy(err);
  };
  const done = pipeInto(source, sink);
  source.end('whole body');
  await t.rejects(done, { message: 'digest mismatch' });
  t.notOk(destroyedWith.some((err) => err !== undefined), 'the body read to its end was not destroyed with the error');
});
