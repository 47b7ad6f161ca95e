import { t } from 'tap';
import { objectLocation, parseTarget } from '../../../src/gateway/s3/index.js';

t.test('an object URL keeps the request scheme and host, and adds the bucket only for path-style requests', async (t) => {
  t.equal(objectLocation({ protocol: 'https', host: 'gw.example:9443', bucket: 'photos', key: 'a/b c.jpg', virtualHosted: false }), 'https://gw.example:9443/photos/a%2Fb%20c.jpg');
  t.equal(objectLocation({ protocol: 'https', host: 'photos.s3.example', bucket: 'photos', key: 'a/b c.jpg', virtualHosted: true }), 'https://photos.s3.example/a%2Fb%20c.jpg');
  t.equal(objectLocation({ protocol: 'http', host: '127.0.0.1:9000', bucket: 'b', key: 'é+%', virtualHosted: false }), 'http://127.0.0.1:9000/b/%C3%A9%2B%25');
});

t.test('a target says whether its bucket came from the host name', async (t) => {
  t.equal(parseTarget('/photos/cat.jpg', 'photos.s3.example', 's3.example').virtualHosted, true);
  t.equal(parseTarget('/photos/cat.jpg', '127.0.0.1:9000', 's3.example').virtualHosted, false);
  t.equal(parseTarget('/photos/cat.jpg', 'photos.s3.example', undefined).virtualHosted, false);
});
