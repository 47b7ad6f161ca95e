'use strict';
const $ = (id) => document.getElementById(id);
const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const bytes = (n) => { if (n === null || n === undefined || n < 0) return '-'; const u = ['B', 'KB', 'MB', 'GB', 'TB', 'PB']; let i = 0; while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; } return (i === 0 ? n : n.toFixed(1)) + ' ' + u[i]; };
const pct = (x) => Math.round((x ?? 0) * 100) + '%';
const bar = (x) => '<progress max="100" value="' + Math.round(Math.min(1, Math.max(0, x ?? 0)) * 100) + '"></progress> ' + pct(x);
const when = (ms) => ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '-';
const eta = (s) => s === null || s === undefined ? 'unknown' : s <= 0 ? 'done' : s < 90 ? Math.ceil(s) + ' s' : s < 5400 ? Math.ceil(s / 60) + ' min' : (s / 3600).toFixed(1) + ' h';
const age = (s) => !s || s <= 0 ? '-' : s < 90 ? Math.round(s) + ' s' : s < 5400 ? Math.round(s / 60) + ' min' : (s / 3600).toFixed(1) + ' h';
const stateClass = (s) => s === 'ok' ? 'ok' : s === 'degraded' || s === 'missing' ? 'warn' : 'bad';

/** The header every change carries: the gateway refuses a change without it (a page of another site cannot send it). */
const CHANGE = { 'x-tessera-console': '1' };
/** Keys one page of a listing shows; the next page follows S3's continuation token. */
const PAGE_KEYS = 200;
/** Versions of a key the object details page shows at first, and each "more" adds. */
const VERSIONS_SHOWN = 100;
/** Files larger than this upload in parts through S3's multipart calls (5 MiB, S3's smallest part, is the part size). */
const PART_BYTES = 5 * 1024 * 1024;
/** What the signed-in user may do (GET /-/console/api/capabilities), refreshed on every page. */
let caps = { admin: [], s3: [], bucket: [], objects: [] };
const can = (list, action) => (list || []).includes(action);
const mayCluster = () => can(caps.admin, 'admin:ServerInfo');
/** Handlers to wire once the page's HTML is in place (scripts in markup are refused by the page's policy). */
let wiring = [];
const onRendered = (fn) => wiring.push(fn);
const keyPath = (bucket, key) => encodeURIComponent(bucket) + '/' + key.split('/').map(encodeURIComponent).join('/');
const hashPath = (parts) => parts.map(encodeURIComponent).join('/');

/** An S3 error's code and message, from its XML body. */
class S3Failure extends Error {
  constructor(status, text) {
    let code = 'HTTP ' + status; let message = '';
    try { const doc = new DOMParser().parseFromString(text, 'application/xml'); code = tag(doc, 'Code') || code; message = tag(doc, 'Message'); } catch { /* not XML */ }
    super(code + (message ? ': ' + message : '')); this.code = code; this.status = status;
  }
}
const tag = (node, name) => node.getElementsByTagName(name)[0]?.textContent ?? '';
const tags = (node, name) => [...node.getElementsByTagName(name)];

/** One S3 request as the signed-in user: the gateway answers `/-/console/s3/...` with its S3 route. */
async function s3(method, path, options = {}) {
  const headers = { ...(method === 'GET' || method === 'HEAD' ? {} : CHANGE), ...options.headers };
  const response = await fetch('/-/console/s3/' + path, { method, headers, body: options.body, credentials: 'same-origin', signal: options.signal });
  if (response.status === 401) { showSignIn(); throw new Error('signed out'); }
  const text = await response.text();
  if (!response.ok) throw new S3Failure(response.status, text);
  return { text, headers: response.headers, xml: () => new DOMParser().parseFromString(text, 'application/xml') };
}

/** One admin API call as the signed-in user (`/-/console/admin/v1/...`): its JSON answer, or its {code, message} as an error. */
async function admin(method, path, body) {
  const headers = method === 'GET' ? {} : { ...CHANGE, 'content-type': 'application/json' };
  const response = await fetch('/-/console/admin/v1/' + path, { method, headers, body, credentials: 'same-origin' });
  if (response.status === 401) { showSignIn(); throw new Error('signed out'); }
  const answer = await response.json();
  if (!response.ok) throw new Error((answer.code || response.status) + ': ' + (answer.message || answer.error || ''));
  return answer;
}

/** CRC32 of a string's UTF-8 bytes, base64: the x-amz-checksum-crc32 S3 takes instead of Content-MD5 on configuration writes. */
function crc32(text) {
  const bytes = new TextEncoder().encode(text);
  let crc = -1;
  for (const b of bytes) { crc ^= b; for (let i = 0; i < 8; i++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1)); }
  crc = (crc ^ -1) >>> 0;
  return btoa(String.fromCharCode(crc >>> 24, (crc >>> 16) & 255, (crc >>> 8) & 255, crc & 255));
}

/** Writes a bucket or object configuration document (XML or JSON) with its checksum. */
const putConfig = (path, body, type = 'application/xml') => s3('PUT', path, { body, headers: { 'content-type': type, 'x-amz-checksum-crc32': crc32(body) } });

/** Shows an action's outcome in the page's status line (an error as an alert). */
function report(id, text, failed) {
  const el = $(id); if (!el) return;
  el.textContent = text; el.className = failed ? 'error' : 'ok';
}
async function attempt(id, fn) {
  try { await fn(); } catch (err) { if (err.message !== 'signed out') report(id, err.message, true); }
}

async function api(path) {
  const response = await fetch('/-/console/api/' + path, { credentials: 'same-origin' });
  if (response.status === 401) { showSignIn(); throw new Error('signed out'); }
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function showSignIn() {
  $('nav').hidden = true; $('who').textContent = ''; $('page').innerHTML = ''; $('signin').hidden = false;
}

async function signIn(event) {
  event.preventDefault();
  const form = new FormData($('signin'));
  const response = await fetch('/-/console/api/session', {
    method: 'POST', headers: { 'content-type': 'application/json' }, credentials: 'same-origin',
    body: JSON.stringify({ accessKeyId: form.get('accessKeyId'), secretAccessKey: form.get('secretAccessKey') }),
  });
  if (!response.ok) { $('signin-error').textContent = (await response.json()).error || 'Sign-in refused.'; return; }
  $('signin-error').textContent = ''; $('signin').hidden = true; $('signin').reset();
  render();
}

async function signOut() {
  await fetch('/-/console/api/session', { method: 'DELETE', credentials: 'same-origin' });
  showSignIn();
}

const pages = {
  async overview() {
    const o = await api('overview');
    const up = o.nodes.filter((n) => n.state === 'ok').length;
    let html = '<h1>Cluster</h1><div class="cards">' +
      '<div class="card">Nodes up<b class="' + (up === o.nodes.length ? 'ok' : 'bad') + '">' + up + ' / ' + o.nodes.length + '</b></div>' +
      '<div class="card">Zones<b>' + o.zones.length + '</b>' + esc(o.zones.join(', ')) + '</div>' +
      '<div class="card">Ring epoch<b>' + o.ringEpoch + '</b>' + o.partitions + ' partitions</div>' +
      '<div class="card">Erasure<b>' + o.erasure.dataShards + ' + ' + o.erasure.parityShards + '</b>any ' + o.erasure.parityShards + ' nodes may fail</div>' +
      '<div class="card">Free<b>' + bytes(o.nodes.reduce((s, n) => s + (n.freeBytes || 0), 0)) + '</b>kernel ' + esc(o.gateway.kernel) + '</div></div>';
    html += '<h2>Nodes</h2><table id="nodes"><tr><th>Node</th><th>Zone</th><th>Address</th><th>State</th><th>Free</th><th>Used / capacity</th><th>Ring epoch</th><th>Slots (ideal)</th><th>Quarantined</th></tr>';
    for (const n of o.nodes) {
      html += '<tr><td>' + esc(n.id) + '</td><td>' + esc(n.zone) + '</td><td>' + esc(n.address) + '</td><td class="' + stateClass(n.state) + '">' + esc(n.state) + '</td>' +
        '<td class="num">' + bytes(n.freeBytes) + '</td><td class="num">' + (n.capacityBytes ? bytes(n.usedBytes) + ' / ' + bytes(n.capacityBytes) : '-') + '</td>' +
        '<td class="num">' + esc(n.ringEpoch ?? '-') + '</td><td class="num">' + n.slots + ' (' + n.idealSlots + ')</td><td class="num">' + esc(n.quarantinedShards ?? '-') + '</td></tr>';
    }
    return html + '</table>';
  },
  async healing() {
    const h = await api('healing');
    let html = '<h1>Healing</h1>';
    if (can(caps.admin, 'admin:StartHeal')) {
      html += '<form id="heal" class="inline"><label><input type="checkbox" name="fast"> Fast (no rate limit)</label> <button type="submit">Start a scrub and repair pass</button> <span id="heal-status" role="status"></span></form>';
      onRendered(() => $('heal').addEventListener('submit', (event) => {
        event.preventDefault();
        attempt('heal-status', async () => {
          const answer = await admin('POST', 'healing', JSON.stringify({ fast: event.target.elements.fast.checked }));
          report('heal-status', 'Pass started on ' + answer.started + ' of ' + answer.nodes.length + ' nodes.', answer.started < answer.nodes.length);
        });
      }));
    }
    html += '<table id="healing"><tr><th>Node</th><th>Scrub</th><th>Scrub rate</th><th>Checksum failures</th><th>Repairs done / pending</th><th>Below full redundancy</th><th>Rebalance</th><th>Time left</th><th>GC freed</th></tr>';
    for (const row of h.nodes) {
      if (row.error) { html += '<tr><td>' + esc(row.nodeId) + '</td><td class="bad" colspan="8">unreachable: ' + esc(row.error) + '</td></tr>'; continue; }
      const f = row.status.figures;
      const rebalancing = !f.rebalance.done && f.rebalance.progress < 1;
      html += '<tr><td>' + esc(row.nodeId) + '</td><td>' + bar(f.scrub.progress) + ' pass ' + (f.scrub.passes + 1) + '</td><td class="num">' + bytes(row.status.workers.scrub.bytesPerSecond || 0) + '/s</td>' +
        '<td class="num ' + (f.scrub.checksumFailures > 0 ? 'warn' : '') + '">' + f.scrub.checksumFailures + '</td><td class="num">' + f.repair.done + ' / ' + f.repair.pending + '</td>' +
        '<td class="num ' + (f.audit.belowFullRedundancy > 0 ? 'warn' : 'ok') + '">' + f.audit.belowFullRedundancy + '</td><td>' + (rebalancing ? bar(f.rebalance.progress) : 'idle') + '</td>' +
        '<td>' + (rebalancing ? eta(f.rebalance.etaSeconds) : '-') + '</td><td class="num">' + bytes(f.gc.bytesFreed) + '</td></tr>';
    }
    return html + '</table>' + deliveryTable(h.events);
  },
  async buckets(args, params) {
    if (args.length === 0) {
      const doc = (await s3('GET', '')).xml();
      const list = tags(doc, 'Bucket').map((b) => ({ name: tag(b, 'Name'), created: tag(b, 'CreationDate') }));
      let html = '<h1>Buckets</h1>';
      if (can(caps.s3, 's3:CreateBucket')) {
        html += '<form id="create-bucket" class="inline"><label>New bucket <input name="bucket" required pattern="[a-z0-9][a-z0-9.\\-]{1,61}[a-z0-9]" autocomplete="off"></label> <button type="submit">Create bucket</button> <span id="bucket-status" role="status"></span></form>';
        onRendered(() => $('create-bucket').addEventListener('submit', (event) => {
          event.preventDefault();
          const name = new FormData(event.target).get('bucket');
          attempt('bucket-status', async () => { await s3('PUT', encodeURIComponent(name)); location.hash = '#/buckets/' + encodeURIComponent(name) + '/'; });
        }));
      }
      html += '<div class="scroll"><table id="buckets"><tr><th>Bucket</th><th>Created</th></tr>';
      for (const bucket of list) html += '<tr><td><a href="#/buckets/' + encodeURIComponent(bucket.name) + '/">' + esc(bucket.name) + '</a></td><td>' + esc(bucket.created.replace('T', ' ').slice(0, 19)) + '</td></tr>';
      return html + (list.length === 0 ? '<tr><td colspan="2">No buckets yet.</td></tr>' : '') + '</table></div>';
    }
    const bucket = args[0];
    const prefix = args.slice(1).join('/');
    caps = await api('capabilities?bucket=' + encodeURIComponent(bucket) + '&prefix=' + encodeURIComponent(prefix));
    const token = params.get('token');
    const query = 'list-type=2&delimiter=%2F&max-keys=' + PAGE_KEYS + '&prefix=' + encodeURIComponent(prefix) + (token ? '&continuation-token=' + encodeURIComponent(token) : '');
    const doc = (await s3('GET', encodeURIComponent(bucket) + '?' + query)).xml();
    const prefixes = tags(doc, 'CommonPrefixes').map((p) => tag(p, 'Prefix'));
    const objects = tags(doc, 'Contents').map((o) => ({ key: tag(o, 'Key'), size: Number(tag(o, 'Size')), modified: tag(o, 'LastModified') }));
    const here = '#/buckets/' + encodeURIComponent(bucket) + '/' + hashPath(prefix.split('/'));
    let crumbs = '<a href="#/buckets">Buckets</a> / <a href="#/buckets/' + encodeURIComponent(bucket) + '/">' + esc(bucket) + '</a> / ';
    let walked = '';
    for (const part of prefix.split('/').filter((p) => p !== '')) { walked += part + '/'; crumbs += '<a href="#/buckets/' + encodeURIComponent(bucket) + '/' + hashPath(walked.split('/')) + '">' + esc(part) + '</a> / '; }
    let html = '<h1>' + esc(bucket) + '</h1><p class="crumbs">' + crumbs + '</p><p class="links">';
    if (mayCluster() || can(caps.bucket, 's3:ListBucketVersions')) html += '<a id="show-versions" href="#/versions/' + encodeURIComponent(bucket) + '/' + hashPath(prefix.split('/')) + '">Show every version and delete marker</a> ';
    if (caps.bucket.some((a) => /^s3:(Put|Delete)Bucket|^s3:Put.*Configuration$/.test(a))) html += '<a id="bucket-settings" href="#/settings/' + encodeURIComponent(bucket) + '">Bucket settings</a>';
    html += '</p>';
    if (can(caps.objects, 's3:PutObject')) {
      html += '<form id="upload" class="inline"><label>Upload to ' + esc(bucket + '/' + prefix) + ' <input type="file" id="upload-files" multiple></label> <label>or a folder <input type="file" id="upload-folder" webkitdirectory multiple></label> <button type="submit" id="upload-start">Upload</button> ' +
        '<button type="button" id="upload-cancel" hidden>Cancel</button> <progress id="upload-progress" max="100" value="0" hidden></progress> <span id="upload-status" role="status"></span></form>';
      onRendered(() => wireUpload(bucket, prefix));
    }
    const mayDelete = can(caps.objects, 's3:DeleteObject');
    const mayShare = can(caps.objects, 's3:GetObject');
    html += '<p id="object-status" role="status"></p><div class="scroll"><table id="objects"><tr><th>Key</th><th>Size</th><th>Last modified</th><th>Actions</th></tr>';
    for (const p of prefixes) html += '<tr><td><a href="#/buckets/' + encodeURIComponent(bucket) + '/' + hashPath(p.split('/')) + '">' + esc(p.slice(prefix.length)) + '</a></td><td></td><td></td><td></td></tr>';
    objects.forEach((o, i) => {
      const name = esc(o.key.slice(prefix.length));
      const link = mayCluster() ? '<a href="#/object/' + keyPath(bucket, o.key) + '">' + name + '</a>' : '<a href="#/item/' + keyPath(bucket, o.key) + '">' + name + '</a>';
      html += '<tr><td>' + link + '</td><td class="num">' + bytes(o.size) + '</td><td>' + esc(o.modified.replace('T', ' ').slice(0, 19)) + '</td><td class="actions">' +
        '<a class="details" href="#/item/' + keyPath(bucket, o.key) + '">Details</a> ' +
        (mayShare ? '<a class="download" download href="/-/console/s3/' + keyPath(bucket, o.key) + '">Download</a> <button type="button" class="share" data-i="' + i + '">Share</button> ' : '') +
        (mayDelete ? '<button type="button" class="delete" data-i="' + i + '">Delete</button>' : '') + '</td></tr>';
    });
    if (prefixes.length + objects.length === 0) html += '<tr><td colspan="4">Nothing under this prefix.</td></tr>';
    html += '</table></div>';
    if (tag(doc, 'IsTruncated') === 'true') html += '<p><a id="next-page" href="' + here + '?token=' + encodeURIComponent(tag(doc, 'NextContinuationToken')) + '">Next ' + PAGE_KEYS + ' keys</a></p>';
    if (mayShare) html += '<div id="share" hidden><label>Link lasts <select id="share-expiry"><option value="3600">1 hour</option><option value="86400">1 day</option><option value="604800">7 days</option></select></label> <button type="button" id="share-make">Make link</button> <input id="share-url" readonly aria-label="Shared link"></div>';
    onRendered(() => {
      let sharing;
      for (const b of document.querySelectorAll('#objects button.delete')) b.addEventListener('click', () => {
        const o = objects[Number(b.dataset.i)];
        if (!confirm('Delete ' + o.key + '?')) return;
        attempt('object-status', async () => { await s3('DELETE', keyPath(bucket, o.key)); render(); });
      });
      for (const b of document.querySelectorAll('#objects button.share')) b.addEventListener('click', () => { sharing = objects[Number(b.dataset.i)]; $('share').hidden = false; $('share-url').value = ''; $('share-expiry').focus(); });
      if ($('share-make')) $('share-make').addEventListener('click', () => attempt('object-status', async () => {
        const response = await fetch('/-/console/api/presign', { method: 'POST', credentials: 'same-origin', headers: { ...CHANGE, 'content-type': 'application/json' }, body: JSON.stringify({ bucket, key: sharing.key, expiresSeconds: Number($('share-expiry').value) }) });
        const answer = await response.json();
        if (!response.ok) throw new Error(answer.error);
        $('share-url').value = answer.url; $('share-url').select();
      }));
    });
    return html;
  },
  async item(args, params) {
    const bucket = args[0];
    const key = args.slice(1).join('/');
    const path = keyPath(bucket, key);
    caps = await api('capabilities?bucket=' + encodeURIComponent(bucket) + '&prefix=' + encodeURIComponent(key));
    const head = (await s3('HEAD', path)).headers;
    const meta = [];
    head.forEach((value, name) => { if (name.startsWith('x-amz-meta-')) meta.push([name.slice('x-amz-meta-'.length), value]); });
    let html = '<h1>' + esc(key) + '</h1><p class="crumbs"><a href="#/buckets">Buckets</a> / <a href="#/buckets/' + encodeURIComponent(bucket) + '/' + hashPath(key.split('/').slice(0, -1).concat([''])) + '">' + esc(bucket) + '</a></p><p id="item-status" role="status"></p>' +
      '<div class="cards"><div class="card">Size<b>' + bytes(Number(head.get('content-length'))) + '</b>' + esc(head.get('content-type')) + '</div><div class="card">Version<b id="item-version">' + esc(head.get('x-amz-version-id') ?? 'null') + '</b>' + esc(head.get('last-modified')) + '</div></div>';
    html += '<p><a class="download" download href="/-/console/s3/' + path + '">Download</a>' + (mayCluster() ? ' <a href="#/object/' + path + '">Shard map</a>' : '') + '</p>';
    // Metadata is replaced by copying the object onto itself, as S3 does it.
    const mayWrite = can(caps.objects, 's3:PutObject');
    html += '<h2>Metadata</h2><label for="item-meta">x-amz-meta-* (one name: value a line)</label><textarea id="item-meta" rows="3"' + (mayWrite ? '' : ' readonly') + '>' + esc(meta.map(([n, v]) => n + ': ' + v).join('\n')) + '</textarea>';
    if (mayWrite) {
      html += '<p><button type="button" id="item-meta-save">Save metadata</button></p>';
      onRendered(() => $('item-meta-save').addEventListener('click', () => attempt('item-status', async () => {
        const headers = { 'x-amz-copy-source': encodeURIComponent(bucket) + '/' + key.split('/').map(encodeURIComponent).join('/'), 'x-amz-metadata-directive': 'REPLACE', 'content-type': head.get('content-type') || 'application/octet-stream' };
        for (const line of $('item-meta').value.split('\n')) {
          const at = line.indexOf(':');
          if (line.trim() === '') continue;
          if (at <= 0) throw new Error('Each line is "name: value".');
          headers['x-amz-meta-' + line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
        }
        await s3('PUT', path, { headers });
        render();
      })));
    }
    if (can(caps.objects, 's3:GetObjectTagging')) {
      const tagging = (await s3('GET', path + '?tagging')).xml();
      const pairs = tags(tagging, 'Tag').map((t) => tag(t, 'Key') + '=' + tag(t, 'Value'));
      const mayTag = can(caps.objects, 's3:PutObjectTagging');
      html += '<h2>Tags</h2><label for="item-tags">Tags (one key=value a line)</label><textarea id="item-tags" rows="3"' + (mayTag ? '' : ' readonly') + '>' + esc(pairs.join('\n')) + '</textarea>';
      if (mayTag) {
        html += '<p><button type="button" id="item-tags-save">Save tags</button></p>';
        onRendered(() => $('item-tags-save').addEventListener('click', () => attempt('item-status', async () => {
          const xmlEsc = (v) => v.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]);
          const body = '<Tagging><TagSet>' + $('item-tags').value.split('\n').filter((l) => l.trim() !== '').map((l) => {
            const at = l.indexOf('=');
            return '<Tag><Key>' + xmlEsc(at < 0 ? l.trim() : l.slice(0, at).trim()) + '</Key><Value>' + xmlEsc(at < 0 ? '' : l.slice(at + 1).trim()) + '</Value></Tag>';
          }).join('') + '</TagSet></Tagging>';
          await putConfig(path + '?tagging', body);
          report('item-status', 'Tags saved.');
        })));
      }
    }
    // Legal hold and retention exist only in a bucket with object lock: elsewhere S3 refuses to read them.
    // In one, a version whose hold was never set answers NoSuchObjectLockConfiguration: it is off.
    const hold = await s3('GET', path + '?legal-hold').then((r) => tag(r.xml(), 'Status'), (err) => (err.code === 'NoSuchObjectLockConfiguration' ? 'OFF' : null));
    if (hold !== null) {
      html += '<h2>Legal hold and retention</h2><p>Legal hold: <b id="item-hold">' + esc(hold || 'OFF') + '</b> ';
      if (can(caps.objects, 's3:PutObjectLegalHold')) {
        const next = hold === 'ON' ? 'OFF' : 'ON';
        html += '<button type="button" id="item-hold-toggle">Turn ' + next + '</button>';
        onRendered(() => $('item-hold-toggle').addEventListener('click', () => attempt('item-status', async () => { await putConfig(path + '?legal-hold', '<LegalHold><Status>' + next + '</Status></LegalHold>'); render(); })));
      }
      const retention = await s3('GET', path + '?retention').then((r) => r.xml(), () => null);
      html += '</p><p>Retention: <b id="item-retention">' + (retention ? esc(tag(retention, 'Mode') + ' until ' + tag(retention, 'RetainUntilDate')) : 'none') + '</b></p>';
      if (can(caps.objects, 's3:PutObjectRetention')) {
        html += '<form id="item-retain" class="inline"><label>Mode <select name="mode"><option>GOVERNANCE</option><option>COMPLIANCE</option></select></label> <label>Retain until <input name="until" type="date" required></label> <button type="submit">Set retention</button></form>';
        onRendered(() => $('item-retain').addEventListener('submit', (event) => {
          event.preventDefault();
          const form = new FormData(event.target);
          attempt('item-status', async () => { await putConfig(path + '?retention', '<Retention><Mode>' + esc(form.get('mode')) + '</Mode><RetainUntilDate>' + esc(form.get('until')) + 'T00:00:00Z</RetainUntilDate></Retention>'); render(); });
        }));
      }
    }
    if (can(caps.bucket, 's3:ListBucketVersions')) {
      // The key's versions and delete markers in S3's order (newest first), `shown` of them, a page at a
      // time: the listing of the key as a prefix reaches the key's own versions first, then longer keys.
      const shown = Math.max(1, Math.min(10_000, Number(params.get('versions')) || VERSIONS_SHOWN));
      const versions = [];
      let more = false;
      let after = '';
      for (let done = false; !done;) {
        const doc = (await s3('GET', encodeURIComponent(bucket) + '?versions&max-keys=' + Math.min(1000, shown - versions.length + 1) + '&prefix=' + encodeURIComponent(key) + after)).xml();
        done = tag(doc, 'IsTruncated') !== 'true';
        for (const v of doc.documentElement.children) {
          if (v.tagName !== 'Version' && v.tagName !== 'DeleteMarker') continue;
          if (tag(v, 'Key') !== key) { done = true; break; }
          if (versions.length === shown) { more = true; done = true; break; }
          versions.push({ id: tag(v, 'VersionId'), latest: tag(v, 'IsLatest') === 'true', marker: v.tagName === 'DeleteMarker', size: Number(tag(v, 'Size')), modified: tag(v, 'LastModified') });
        }
        after = '&key-marker=' + encodeURIComponent(tag(doc, 'NextKeyMarker')) + '&version-id-marker=' + encodeURIComponent(tag(doc, 'NextVersionIdMarker'));
      }
      const mayRestore = can(caps.objects, 's3:PutObject') && can(caps.objects, 's3:GetObjectVersion');
      const mayDelete = can(caps.objects, 's3:DeleteObjectVersion');
      html += '<h2>Versions</h2><div class="scroll"><table id="item-versions"><tr><th>Version</th><th>Latest</th><th>Kind</th><th>Size</th><th>Last modified</th><th>Actions</th></tr>';
      versions.forEach((x, i) => {
        html += '<tr><td>' + esc(x.id) + '</td><td>' + (x.latest ? 'latest' : '') + '</td><td' + (x.marker ? ' class="marker">delete marker' : '>object') + '</td><td class="num">' + (x.marker ? '' : bytes(x.size)) + '</td><td>' + esc(x.modified.replace('T', ' ').slice(0, 19)) + '</td><td class="actions">' +
          (!x.marker && !x.latest && mayRestore ? '<button type="button" class="restore" data-i="' + i + '">Restore</button> ' : '') + (mayDelete ? '<button type="button" class="delete-version" data-i="' + i + '">Delete version</button>' : '') + '</td></tr>';
      });
      html += '</table></div>';
      if (more) html += '<p><a id="more-versions" href="#/item/' + path + '?versions=' + (shown + VERSIONS_SHOWN) + '">Show ' + VERSIONS_SHOWN + ' more versions</a></p>';
      onRendered(() => {
        for (const b of document.querySelectorAll('#item-versions button.restore')) b.addEventListener('click', () => attempt('item-status', async () => {
          // Restoring copies the old version over the current one: a new version with its bytes, nothing lost.
          const source = encodeURIComponent(bucket) + '/' + key.split('/').map(encodeURIComponent).join('/') + '?versionId=' + encodeURIComponent(versions[Number(b.dataset.i)].id);
          await s3('PUT', path, { headers: { 'x-amz-copy-source': source } });
          render();
        }));
        for (const b of document.querySelectorAll('#item-versions button.delete-version')) b.addEventListener('click', () => {
          const x = versions[Number(b.dataset.i)];
          if (confirm('Delete version ' + x.id + ' for good?')) attempt('item-status', async () => { await s3('DELETE', path + '?versionId=' + encodeURIComponent(x.id)); render(); });
        });
      });
    }
    return html;
  },
  async settings(args) {
    const bucket = args[0];
    caps = await api('capabilities?bucket=' + encodeURIComponent(bucket));
    const b = encodeURIComponent(bucket);
    let html = '<h1>' + esc(bucket) + ': settings</h1><p class="crumbs"><a href="#/buckets">Buckets</a> / <a href="#/buckets/' + b + '/">' + esc(bucket) + '</a></p><p id="settings-status" role="status"></p>';
    if (can(caps.bucket, 's3:GetBucketVersioning')) {
      const status = tag((await s3('GET', b + '?versioning')).xml(), 'Status') || 'Off';
      html += '<h2>Versioning</h2><p>Versioning: <b id="versioning">' + esc(status) + '</b> ';
      if (can(caps.bucket, 's3:PutBucketVersioning')) {
        html += '<button type="button" id="versioning-toggle">' + (status === 'Enabled' ? 'Suspend' : 'Enable') + '</button>';
        onRendered(() => $('versioning-toggle').addEventListener('click', () => attempt('settings-status', async () => {
          const next = status === 'Enabled' ? 'Suspended' : 'Enabled';
          await putConfig(b + '?versioning', '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>' + next + '</Status></VersioningConfiguration>');
          render();
        })));
      }
      html += '</p>';
    }
    if (can(caps.bucket, 's3:GetBucketPolicy')) {
      let policy = '';
      try { policy = (await s3('GET', b + '?policy')).text; } catch (err) { if (err.code !== 'NoSuchBucketPolicy') throw err; }
      const editable = can(caps.bucket, 's3:PutBucketPolicy');
      html += '<h2>Bucket policy</h2><label for="policy-text">Policy (JSON)</label><textarea id="policy-text" rows="10"' + (editable ? '' : ' readonly') + '>' + esc(policy) + '</textarea>';
      if (editable) {
        html += '<p><button type="button" id="policy-save">Validate and save</button> ' + (policy && can(caps.bucket, 's3:DeleteBucketPolicy') ? '<button type="button" id="policy-delete">Remove policy</button> ' : '') + '<span id="policy-status" role="status"></span></p>';
        onRendered(() => {
          $('policy-save').addEventListener('click', () => attempt('policy-status', async () => {
            const text = $('policy-text').value;
            try { JSON.parse(text); } catch (err) { report('policy-status', 'Not valid JSON: ' + err.message, true); return; }
            await putConfig(b + '?policy', text, 'application/json');
            report('policy-status', 'Saved.');
          }));
          if ($('policy-delete')) $('policy-delete').addEventListener('click', () => attempt('policy-status', async () => { await s3('DELETE', b + '?policy'); render(); }));
        });
      }
    }
    // Examples name the cluster's own targets when the user may list them (the Targets & keys page defines them).
    const targets = can(caps.admin, 'admin:ListTargets') ? await admin('GET', 'targets').catch(() => []) : [];
    const eventArn = targets.find((x) => x.type !== 's3')?.arn ?? 'arn:tessera:sqs::NAME:webhook';
    const replicaArn = targets.find((x) => x.type === 's3')?.arn ?? 'arn:tessera:replication::NAME:BUCKET';
    // The other configurations, each S3's own XML document, read and written as S3 takes them; the last
    // field says S3 removes it with DELETE (a notification configuration is cleared by saving an empty one).
    const documents = [
      ['tagging', 'Tags', 's3:GetBucketTagging', 's3:PutBucketTagging', 'NoSuchTagSet', '<Tagging><TagSet><Tag><Key>team</Key><Value>data</Value></Tag></TagSet></Tagging>'],
      ['encryption', 'Default encryption', 's3:GetEncryptionConfiguration', 's3:PutEncryptionConfiguration', 'ServerSideEncryptionConfigurationNotFoundError', '<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>'],
      ['cors', 'CORS', 's3:GetBucketCORS', 's3:PutBucketCORS', 'NoSuchCORSConfiguration', '<CORSConfiguration><CORSRule><AllowedOrigin>https://example.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>'],
      ['lifecycle', 'Lifecycle', 's3:GetLifecycleConfiguration', 's3:PutLifecycleConfiguration', 'NoSuchLifecycleConfiguration', '<LifecycleConfiguration><Rule><ID>expire-tmp</ID><Filter><Prefix>tmp/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>7</Days></Expiration></Rule></LifecycleConfiguration>'],
      ['object-lock', 'Object lock defaults', 's3:GetBucketObjectLockConfiguration', 's3:PutBucketObjectLockConfiguration', 'ObjectLockConfigurationNotFoundError', '<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>'],
      ['notification', 'Event notifications', 's3:GetBucketNotification', 's3:PutBucketNotification', null, '<NotificationConfiguration><QueueConfiguration><Id>created</Id><Queue>' + esc(eventArn) + '</Queue><Event>s3:ObjectCreated:*</Event></QueueConfiguration></NotificationConfiguration>'],
      ['replication', 'Replication', 's3:GetReplicationConfiguration', 's3:PutReplicationConfiguration', 'ReplicationConfigurationNotFoundError', '<ReplicationConfiguration><Role></Role><Rule><ID>replicate-all</ID><Priority>1</Priority><Status>Enabled</Status><Filter><Prefix></Prefix></Filter><DeleteMarkerReplication><Status>Enabled</Status></DeleteMarkerReplication><Destination><Bucket>' + esc(replicaArn) + '</Bucket></Destination></Rule></ReplicationConfiguration>'],
    ];
    const removable = new Set(['tagging', 'encryption', 'cors', 'lifecycle', 'replication']);
    for (const [sub, title, read, write, missing, example] of documents) {
      if (!can(caps.bucket, read)) continue;
      let text = '';
      try { text = (await s3('GET', b + '?' + sub)).text; } catch (err) { if (err.code !== missing) text = ''; }
      // An empty notification configuration is S3's answer for none.
      if (sub === 'notification' && !/<(Queue|Topic|CloudFunction)Configuration>/.test(text)) text = '';
      const id = 'doc-' + sub;
      html += '<h2>' + esc(title) + '</h2><label for="' + id + '">' + esc(title) + ' (S3 XML' + (text ? '' : '; none set, an example shown') + ')</label><textarea id="' + id + '" rows="5"' + (can(caps.bucket, write) ? '' : ' readonly') + '>' + esc(text || example) + '</textarea>';
      if (can(caps.bucket, write)) {
        const remove = text && removable.has(sub) ? ' <button type="button" id="' + id + '-remove">Remove</button>' : '';
        html += '<p><button type="button" id="' + id + '-save">Save ' + esc(title.toLowerCase()) + '</button>' + remove + ' <span id="' + id + '-status" role="status"></span></p>';
        onRendered(() => {
          $(id + '-save').addEventListener('click', () => attempt(id + '-status', async () => { await putConfig(b + '?' + sub, $(id).value); report(id + '-status', 'Saved.'); }));
          if ($(id + '-remove')) $(id + '-remove').addEventListener('click', () => attempt(id + '-status', async () => { await s3('DELETE', b + '?' + sub, { headers: {} }); render(); }));
        });
      }
    }
    if (can(caps.admin, 'admin:GetBucketQuota')) {
      const q = await admin('GET', 'buckets/' + b + '/quota');
      const limit = (v) => (v === undefined ? '' : String(v));
      html += '<h2>Quota</h2><p id="quota-usage">Used: ' + bytes(q.usage.bytes) + ' in ' + q.usage.objects + ' objects' + (q.usage.complete ? '' : ' (estimated: not every node answered)') + '</p>';
      if (can(caps.admin, 'admin:SetBucketQuota')) {
        html += '<form id="quota" class="inline"><label>Max bytes <input name="maxBytes" type="number" min="0" step="1" value="' + esc(limit(q.quota?.maxBytes)) + '"></label> <label>Max objects <input name="maxObjects" type="number" min="0" step="1" value="' + esc(limit(q.quota?.maxObjects)) + '"></label> ' +
          '<button type="submit">Save quota</button> <button type="button" id="quota-clear">Clear quota</button> <span id="quota-status" role="status"></span></form>';
        onRendered(() => {
          $('quota').addEventListener('submit', (event) => {
            event.preventDefault();
            const form = new FormData(event.target);
            const body = {};
            for (const name of ['maxBytes', 'maxObjects']) if (form.get(name) !== '') body[name] = Number(form.get(name));
            attempt('quota-status', async () => { await admin('PUT', 'buckets/' + b + '/quota', JSON.stringify(body)); report('quota-status', 'Saved.'); });
          });
          $('quota-clear').addEventListener('click', () => attempt('quota-status', async () => { await admin('DELETE', 'buckets/' + b + '/quota'); render(); }));
        });
      } else {
        html += '<p>Quota: ' + (q.quota === null ? 'none' : esc(limit(q.quota.maxBytes) || 'no limit') + ' bytes, ' + esc(limit(q.quota.maxObjects) || 'no limit') + ' objects') + '</p>';
      }
    }
    if (can(caps.bucket, 's3:DeleteBucket')) {
      html += '<h2>Delete bucket</h2><form id="delete-bucket" class="inline"><label>Type the bucket\'s name to delete it and every object and version in it <input id="delete-confirm" autocomplete="off"></label> <button type="submit">Delete bucket</button> <span id="delete-status" role="status"></span></form>';
      onRendered(() => $('delete-bucket').addEventListener('submit', (event) => {
        event.preventDefault();
        attempt('delete-status', async () => {
          try { await s3('DELETE', b); } catch (err) {
            if (err.code !== 'BucketNotEmpty') throw err;
            if ($('delete-confirm').value !== bucket) { report('delete-status', 'The bucket is not empty: type its name to delete everything in it.', true); return; }
            await emptyBucket(bucket, (n) => report('delete-status', n + ' versions deleted...'));
            await s3('DELETE', b);
          }
          location.hash = '#/buckets';
        });
      }));
    }
    return html;
  },
  async services() {
    let html = '<h1>Targets &amp; keys</h1><p id="services-status" role="status"></p>';
    if (can(caps.admin, 'admin:ListTargets')) {
      const targets = await admin('GET', 'targets');
      html += '<h2>Event and replication targets</h2><p>A bucket\'s event notifications and replication rules name a target by its ARN (bucket settings).</p>' +
        '<div class="scroll"><table id="targets"><tr><th>Target</th><th>ARN</th><th>Type</th><th>Where</th><th></th></tr>';
      targets.forEach((x, i) => {
        html += '<tr data-target="' + esc(x.name) + '"><td>' + esc(x.name) + '</td><td><code>' + esc(x.arn) + '</code></td><td>' + esc(x.type) + '</td><td>' + esc(x.url) + (x.bucket ? ' / ' + esc(x.bucket) : '') + '</td><td>' +
          (can(caps.admin, 'admin:DeleteTarget') ? '<button type="button" class="target-remove" data-i="' + i + '">Remove</button>' : '') + '</td></tr>';
      });
      if (targets.length === 0) html += '<tr><td colspan="5">No targets yet.</td></tr>';
      html += '</table></div>';
      onRendered(() => {
        for (const button of document.querySelectorAll('#targets button.target-remove')) button.addEventListener('click', () => {
          const name = targets[Number(button.dataset.i)].name;
          if (confirm('Remove target ' + name + '? Bucket configurations naming it stop delivering.')) attempt('services-status', async () => { await admin('DELETE', 'targets/' + encodeURIComponent(name)); render(); });
        });
      });
    }
    if (can(caps.admin, 'admin:PutTarget')) {
      // One example per type: the fields `tessera admin target add` takes (docs/admin-api.md).
      const examples = {
        webhook: { type: 'webhook', url: 'https://ops.example.com/s3-events' },
        amqp: { type: 'amqp', url: 'amqp://127.0.0.1:5672', exchange: 's3', routingKey: 'events' },
        nats: { type: 'nats', url: 'nats://127.0.0.1:4222', subject: 's3.events' },
        redis: { type: 'redis', url: 'redis://127.0.0.1:6379/0', key: 's3-events', format: 'list' },
        mqtt: { type: 'mqtt', url: 'mqtt://127.0.0.1:1883', topic: 's3/events', qos: 1 },
        s3: { type: 's3', endpoint: 'https://s3.site-b.example:9000', bucket: 'replicas', region: 'us-east-1', accessKeyId: '', secretAccessKey: '' },
      };
      html += '<h3>Add a target</h3><form id="add-target"><label>Name <input name="name" required pattern="[A-Za-z0-9_\\-]{1,64}" autocomplete="off"></label> ' +
        '<label>Type <select id="target-type">' + Object.keys(examples).map((k) => '<option>' + k + '</option>').join('') + '</select></label>' +
        '<label for="target-definition">Definition (JSON; secrets are kept, and never shown again)</label><textarea id="target-definition" rows="6">' + esc(JSON.stringify(examples.webhook, null, 2)) + '</textarea>' +
        '<p><button type="submit">Add target</button> <span id="add-target-status" role="status"></span></p></form>';
      onRendered(() => {
        $('target-type').addEventListener('change', () => { $('target-definition').value = JSON.stringify(examples[$('target-type').value], null, 2); });
        $('add-target').addEventListener('submit', (event) => {
          event.preventDefault();
          attempt('add-target-status', async () => {
            const text = $('target-definition').value;
            try { JSON.parse(text); } catch (err) { report('add-target-status', 'Not valid JSON: ' + err.message, true); return; }
            await admin('PUT', 'targets/' + encodeURIComponent(new FormData(event.target).get('name')), text);
            render();
          });
        });
      });
    }
    if (can(caps.admin, 'admin:ListKmsKeys')) {
      const keys = await admin('GET', 'kms/keys');
      const mayChange = can(caps.admin, 'admin:UpdateKmsKey');
      html += '<h2>KMS keys</h2><p>SSE-KMS writes name a key by its name or ARN; <code>aws/s3</code> is the default key, made on the first write that names none.</p>' +
        '<div class="scroll"><table id="kms-keys"><tr><th>Key</th><th>ARN</th><th>State</th><th>Versions</th><th>Last rotated</th><th></th></tr>';
      keys.forEach((k, i) => {
        html += '<tr data-key="' + esc(k.name) + '"><td>' + esc(k.name) + '</td><td><code>' + esc(k.arn) + '</code></td><td class="' + (k.state === 'Enabled' ? 'ok' : 'warn') + '">' + esc(k.state) + '</td><td class="num">' + k.versions + '</td><td>' + when(k.rotatedMs) + '</td><td class="actions">' +
          (mayChange ? '<button type="button" class="kms-rotate" data-i="' + i + '">Rotate</button> <button type="button" class="kms-toggle" data-i="' + i + '">' + (k.state === 'Enabled' ? 'Disable' : 'Enable') + '</button>' : '') + '</td></tr>';
      });
      if (keys.length === 0) html += '<tr><td colspan="6">No keys yet.</td></tr>';
      html += '</table></div>';
      onRendered(() => {
        for (const button of document.querySelectorAll('#kms-keys button.kms-rotate')) button.addEventListener('click', () => attempt('services-status', async () => {
          await admin('POST', 'kms/keys/' + encodeURIComponent(keys[Number(button.dataset.i)].name) + '/rotate'); render();
        }));
        for (const button of document.querySelectorAll('#kms-keys button.kms-toggle')) button.addEventListener('click', () => {
          const key = keys[Number(button.dataset.i)];
          if (key.state === 'Enabled' && !confirm('Disable ' + key.name + '? Objects sealed by it cannot be read until it is enabled again.')) return;
          attempt('services-status', async () => { await admin('PUT', 'kms/keys/' + encodeURIComponent(key.name), JSON.stringify({ enabled: key.state !== 'Enabled' })); render(); });
        });
      });
    }
    if (can(caps.admin, 'admin:CreateKmsKey')) {
      html += '<form id="create-kms-key" class="inline"><label>New KMS key <input name="name" required pattern="[A-Za-z0-9_\\-]{1,64}" autocomplete="off"></label> <button type="submit">Create key</button> <span id="create-kms-key-status" role="status"></span></form>';
      onRendered(() => $('create-kms-key').addEventListener('submit', (event) => {
        event.preventDefault();
        attempt('create-kms-key-status', async () => { await admin('POST', 'kms/keys', JSON.stringify({ name: new FormData(event.target).get('name') })); render(); });
      }));
    }
    return html;
  },
  async identity() {
    const mayList = can(caps.admin, 'admin:ListUsers');
    let html = '<h1>Identity</h1><p id="identity-status" role="status"></p>';
    if (can(caps.admin, 'admin:CreateUser')) {
      html += '<form id="create-user" class="inline"><label>New user <input name="user" required autocomplete="off"></label> <button type="submit">Create user</button></form><div id="new-secret" hidden role="alert"></div>';
      onRendered(() => $('create-user').addEventListener('submit', (event) => {
        event.preventDefault();
        attempt('identity-status', async () => { showSecret(await admin('POST', 'users', JSON.stringify({ name: new FormData(event.target).get('user') }))); });
      }));
    }
    if (mayList) {
      const users = await admin('GET', 'users');
      html += '<h2>Users</h2><div class="scroll"><table id="users"><tr><th>User</th><th>Keys</th><th>Policies</th><th>Actions</th></tr>';
      for (const u of users) {
        const keys = can(caps.admin, 'admin:ListAccessKeys') ? await admin('GET', 'users/' + encodeURIComponent(u.name) + '/keys') : [];
        const keyCells = keys.map((k) => '<div class="key" data-user="' + esc(u.name) + '" data-key="' + esc(k.accessKeyId) + '"><code>' + esc(k.accessKeyId) + '</code> ' + (k.enabled === false || k.disabled === true ? '<span class="warn">disabled</span>' : '<span class="ok">enabled</span>') +
          (can(caps.admin, 'admin:UpdateAccessKey') ? ' <button type="button" class="key-toggle" data-enable="' + (k.enabled === false || k.disabled === true) + '">' + (k.enabled === false || k.disabled === true ? 'Enable' : 'Disable') + '</button>' : '') +
          (can(caps.admin, 'admin:DeleteAccessKey') ? ' <button type="button" class="key-delete">Delete key</button>' : '') + '</div>').join('');
        const policies = (u.policies || []).map((p) => '<span class="policy" data-user="' + esc(u.name) + '" data-policy="' + esc(p) + '">' + esc(p) + (can(caps.admin, 'admin:DetachUserPolicy') ? ' <button type="button" class="detach" aria-label="Detach ' + esc(p) + ' from ' + esc(u.name) + '">Detach</button>' : '') + '</span> ').join('');
        html += '<tr data-user="' + esc(u.name) + '"><td>' + esc(u.name) + '</td><td>' + keyCells + '</td><td>' + policies + '</td><td class="actions">' +
          (can(caps.admin, 'admin:CreateAccessKey') ? '<button type="button" class="key-create">New key</button> ' : '') +
          (can(caps.admin, 'admin:AttachUserPolicy') ? '<label>Attach <input class="attach-name" size="10" aria-label="Policy to attach to ' + esc(u.name) + '"></label> <button type="button" class="attach">Attach</button> ' : '') +
          (can(caps.admin, 'admin:DeleteUser') ? '<button type="button" class="user-delete">Delete user</button>' : '') + '</td></tr>';
      }
      html += '</table></div>';
      onRendered(() => {
        const userOf = (el) => el.closest('tr').dataset.user;
        const on = (selector, fn) => { for (const el of document.querySelectorAll('#users ' + selector)) el.addEventListener('click', () => attempt('identity-status', () => fn(el))); };
        on('.key-create', async (el) => showSecret(await admin('POST', 'users/' + encodeURIComponent(userOf(el)) + '/keys')));
        on('.key-toggle', async (el) => { await admin('PUT', 'keys/' + encodeURIComponent(el.parentElement.dataset.key), JSON.stringify({ enabled: el.dataset.enable === 'true' })); render(); });
        on('.key-delete', async (el) => { if (confirm('Delete key ' + el.parentElement.dataset.key + '?')) { await admin('DELETE', 'keys/' + encodeURIComponent(el.parentElement.dataset.key)); render(); } });
        on('.detach', async (el) => { await admin('DELETE', 'users/' + encodeURIComponent(el.parentElement.dataset.user) + '/policies/' + encodeURIComponent(el.parentElement.dataset.policy)); render(); });
        on('.attach', async (el) => { await admin('PUT', 'users/' + encodeURIComponent(userOf(el)) + '/policies/' + encodeURIComponent(el.closest('td').querySelector('.attach-name').value)); render(); });
        on('.user-delete', async (el) => { if (confirm('Delete user ' + userOf(el) + ' and its keys?')) { await admin('DELETE', 'users/' + encodeURIComponent(userOf(el))); render(); } });
      });
    }
    if (can(caps.admin, 'admin:ListPolicies')) {
      const policies = await admin('GET', 'policies');
      const mayRead = can(caps.admin, 'admin:GetPolicy') && can(caps.admin, 'admin:PutPolicy');
      html += '<h2>Policies</h2><div class="scroll"><table id="policies"><tr><th>Policy</th><th>Kind</th><th>Users</th><th></th></tr>';
      policies.forEach((p, i) => {
        html += '<tr><td>' + esc(p.name) + '</td><td>' + esc(p.kind ?? '') + '</td><td>' + esc((p.users || []).join(', ')) + '</td><td>' + (mayRead ? '<button type="button" class="policy-edit" data-i="' + i + '">Edit</button>' : '') + '</td></tr>';
      });
      html += '</table></div>';
      onRendered(() => {
        for (const b of document.querySelectorAll('#policies button.policy-edit')) b.addEventListener('click', () => attempt('identity-status', async () => {
          const p = await admin('GET', 'policies/' + encodeURIComponent(policies[Number(b.dataset.i)].name));
          $('policy-name').value = p.name; $('identity-policy').value = JSON.stringify(p.document, null, 2); $('identity-policy').focus();
        }));
      });
      if (can(caps.admin, 'admin:PutPolicy')) {
        html += '<h3>Add or change a policy</h3><form id="put-policy"><label>Policy name <input id="policy-name" required autocomplete="off"></label><label for="identity-policy">Document (JSON)</label><textarea id="identity-policy" rows="8">{\n  "Version": "2012-10-17",\n  "Statement": [{ "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::*"] }]\n}</textarea><p><button type="submit">Validate and save policy</button> <span id="put-policy-status" role="status"></span></p></form>';
        onRendered(() => $('put-policy').addEventListener('submit', (event) => {
          event.preventDefault();
          attempt('put-policy-status', async () => {
            const text = $('identity-policy').value;
            try { JSON.parse(text); } catch (err) { report('put-policy-status', 'Not valid JSON: ' + err.message, true); return; }
            await admin('PUT', 'policies/' + encodeURIComponent($('policy-name').value), text);
            render();
          });
        }));
      }
    }
    if (!mayList && !can(caps.admin, 'admin:CreateUser')) html += '<p>Your policies allow no identity actions.</p>';
    return html;
  },
  async object(args, params) {
    const bucket = args[0];
    const key = args.slice(1).join('/');
    const version = params.get('version');
    const query = 'bucket=' + encodeURIComponent(bucket) + '&key=' + encodeURIComponent(key);
    const [o, v] = await Promise.all([api('object?' + query + (version === null ? '' : '&versionId=' + encodeURIComponent(version))), api('versions?' + query)]);
    let html = '<h1>' + esc(key) + '</h1><p class="crumbs"><a href="#/buckets">Buckets</a> / <a href="#/buckets/' + encodeURIComponent(bucket) + '/">' + esc(bucket) + '</a></p>';
    const versions = versionTable(bucket, key, v, o.found ? o.s3VersionId : version);
    if (!o.found) return html + '<p class="warn">No node of this key\'s set holds ' + (version === null ? 'a version of it' : 'version ' + esc(version)) + '.</p>' + versions;
    if (o.deleted) {
      return html + '<div class="cards"><div class="card">Delete marker<b>' + when(o.lastModifiedMs) + '</b>' + esc(o.s3VersionId) + '</div></div>' +
        '<p class="marker" id="marker-note">This version is a delete marker: it holds no data, only a record on each node of the key\'s set.</p>' + versions;
    }
    const health = o.healthyShards < o.dataShards ? '<b class="bad">unreadable</b>' : o.healthyShards < o.shards.length ? '<b class="warn">below full redundancy</b>' : '<b class="ok">fully redundant</b>';
    html += '<div class="cards"><div class="card">Size<b>' + bytes(o.sizeBytes) + '</b>' + esc(o.contentType) + '</div><div class="card">Health' + health + o.healthyShards + ' of ' + o.shards.length + ' shards</div>' +
      '<div class="card">Placement<b>partition ' + o.partition + '</b>ring epoch ' + o.ringEpoch + ', ' + o.dataShards + ' + ' + o.parityShards + '</div><div class="card">Version<b id="shown-version">' + esc(o.s3VersionId) + '</b>' + when(o.lastModifiedMs) + '</div></div>';
    if (o.parts > 0) html += '<p>Multipart object: ' + o.parts + ' parts, each stored as a version of its own.</p>';
    html += '<h2>Shard map</h2><table id="shards"><tr><th>Shard</th><th>Kind</th><th>Node</th><th>Address</th><th>State</th><th>Bytes</th><th>If this node is lost</th></tr>';
    for (const s of o.shards) {
      html += '<tr><td class="num">' + s.shardIndex + '</td><td>' + (s.shardIndex < o.dataShards ? 'data' : 'parity') + '</td><td>' + esc(s.nodeId) + '</td><td>' + esc(s.address) + '</td>' +
        '<td class="' + stateClass(s.state) + '">' + esc(s.state) + (s.detail ? ' (' + esc(s.detail) + ')' : '') + '</td><td class="num">' + bytes(s.sizeBytes) + '</td>' +
        '<td class="' + (s.ifLost === 'unreadable' ? 'bad' : s.ifLost === 'no effect' ? 'ok' : 'warn') + '">' + esc(s.ifLost) + '</td></tr>';
    }
    return html + '</table>' + versions;
  },
  async versions(args, params) {
    const bucket = args[0];
    const prefix = args.slice(1).join('/');
    // Administrators read the nodes' own view (each version opens its shard map); others S3's ListObjectVersions.
    const list = mayCluster() ? await api('prefix-versions?bucket=' + encodeURIComponent(bucket) + '&prefix=' + encodeURIComponent(prefix)) : await listedVersions(bucket, prefix, params);
    const hrefOf = (x) => (mayCluster() ? versionHref(bucket, x.key, x.versionId) : '#/item/' + keyPath(bucket, x.key));
    let html = '<h1>' + esc(bucket) + ': versions</h1><p class="crumbs"><a href="#/buckets">Buckets</a> / <a href="#/buckets/' + encodeURIComponent(bucket) + '/' + prefix.split('/').map(encodeURIComponent).join('/') + '">' + esc(bucket) + '/' + esc(prefix) + '</a></p>';
    html += '<table id="prefix-versions"><tr><th>Key</th><th>Version</th><th>Latest</th><th>Kind</th><th>Size</th><th>Last modified</th></tr>';
    for (const p of list.prefixes) html += '<tr><td><a href="#/versions/' + encodeURIComponent(bucket) + '/' + p.split('/').map(encodeURIComponent).join('/') + '">' + esc(p.slice(prefix.length)) + '</a></td><td></td><td></td><td></td><td></td><td></td></tr>';
    for (const x of list.versions) {
      html += '<tr><td><a href="' + hrefOf(x) + '">' + esc(x.key.slice(prefix.length)) + '</a></td><td>' + esc(x.versionId) + '</td><td>' + (x.isLatest ? 'latest' : '') + '</td>' +
        '<td' + (x.deleteMarker ? ' class="marker">delete marker' : '>object') + '</td><td class="num">' + (x.deleteMarker ? '' : bytes(x.sizeBytes)) + '</td><td>' + when(x.lastModifiedMs) + '</td></tr>';
    }
    if (list.prefixes.length + list.versions.length === 0) html += '<tr><td colspan="6">Nothing under this prefix.</td></tr>';
    html += '</table>';
    if (list.next !== undefined) {
      html += '<p><a id="next-versions" href="#/versions/' + encodeURIComponent(bucket) + '/' + hashPath(prefix.split('/')) + '?key=' + encodeURIComponent(list.next.key) + '&version=' + encodeURIComponent(list.next.version) + '">Next ' + PAGE_KEYS + ' versions</a></p>';
    } else if (list.truncated) {
      html += '<p>More versions exist than one page shows.</p>';
    }
    return html;
  },
};

/** One page of S3's ListObjectVersions under `prefix`, `/` as delimiter, from the markers in `params`: versions in S3's order. */
async function listedVersions(bucket, prefix, params) {
  const markers = params.get('key') === null ? '' : '&key-marker=' + encodeURIComponent(params.get('key')) + '&version-id-marker=' + encodeURIComponent(params.get('version') ?? '');
  const doc = (await s3('GET', encodeURIComponent(bucket) + '?versions&delimiter=%2F&max-keys=' + PAGE_KEYS + '&prefix=' + encodeURIComponent(prefix) + markers)).xml();
  const versions = [...doc.documentElement.children]
    .filter((v) => v.tagName === 'Version' || v.tagName === 'DeleteMarker')
    .map((v) => ({ key: tag(v, 'Key'), versionId: tag(v, 'VersionId'), isLatest: tag(v, 'IsLatest') === 'true', deleteMarker: v.tagName === 'DeleteMarker', sizeBytes: Number(tag(v, 'Size')), lastModifiedMs: Date.parse(tag(v, 'LastModified')) }));
  const truncated = tag(doc, 'IsTruncated') === 'true';
  return {
    prefixes: tags(doc, 'CommonPrefixes').map((p) => tag(p, 'Prefix')),
    versions,
    truncated,
    next: truncated ? { key: tag(doc, 'NextKeyMarker'), version: tag(doc, 'NextVersionIdMarker') } : undefined,
  };
}

/**
 * Event notifications and replication per target, summed over the nodes that answered: what waits, for
 * how long, and what was delivered, failed and dropped since the nodes started.
 */
function deliveryTable(events) {
  let html = '<h2>Events &amp; replication</h2><table id="events"><tr><th>Target</th><th>Type</th><th>Backlog</th><th>Oldest undelivered</th><th>Delivered</th><th>Failed</th><th>Dropped</th></tr>';
  for (const e of events) {
    html += '<tr><td>' + esc(e.target) + '</td><td>' + (e.type === null ? 'unknown' : e.type === 's3' ? 's3 replication' : esc(e.type)) + '</td>' +
      '<td class="num ' + (e.backlog > 0 ? 'warn' : 'ok') + '">' + e.backlog + '</td><td class="num ' + (e.oldestSeconds >= 900 ? 'bad' : e.oldestSeconds > 0 ? 'warn' : '') + '">' + age(e.oldestSeconds) + '</td>' +
      '<td class="num">' + e.delivered + '</td><td class="num ' + (e.failures > 0 ? 'warn' : '') + '">' + e.failures + '</td><td class="num ' + (e.dropped > 0 ? 'bad' : '') + '">' + e.dropped + '</td></tr>';
  }
  if (events.length === 0) html += '<tr><td colspan="7">No event or replication target has had changes to deliver since the nodes started.</td></tr>';
  return html + '</table>';
}

function versionHref(bucket, key, versionId) {
  return '#/object/' + encodeURIComponent(bucket) + '/' + key.split('/').map(encodeURIComponent).join('/') + '?version=' + encodeURIComponent(versionId);
}

/** Every version and delete marker of one key, newest first, each a link to its own shard map. */
function versionTable(bucket, key, v, shown) {
  let html = '<h2>Versions</h2><table id="versions"><tr><th>Version</th><th>Latest</th><th>Kind</th><th>Size</th><th>Last modified</th><th>Shard map</th></tr>';
  for (const x of v.versions) {
    const here = x.versionId === shown;
    html += '<tr' + (here ? ' class="selected"' : '') + '><td>' + esc(x.versionId) + '</td><td>' + (x.isLatest ? 'latest' : '') + '</td>' +
      '<td' + (x.deleteMarker ? ' class="marker">delete marker' : '>' + (x.multipart ? 'object (multipart)' : 'object')) + '</td>' +
      '<td class="num">' + (x.deleteMarker ? '' : bytes(x.sizeBytes)) + '</td><td>' + when(x.lastModifiedMs) + '</td>' +
      '<td>' + (here ? 'shown above' : '<a class="open-version" href="' + versionHref(bucket, key, x.versionId) + '">open</a>') + '</td></tr>';
  }
  if (v.versions.length === 0) html += '<tr><td colspan="6">No versions.</td></tr>';
  return html + '</table>' + (v.truncated ? '<p>Older versions exist than this list shows.</p>' : '');
}

/**
 * Renders run one at a time (a page's handlers are collected while it renders), and one asked for while
 * another runs replaces it: the older's page is dropped rather than shown over the newer one.
 */
let renders = 0;
let rendering = Promise.resolve();
function render() {
  const generation = ++renders;
  rendering = rendering.then(() => (generation === renders ? renderPage(generation) : undefined));
  return rendering;
}

async function renderPage(generation) {
  const [path, search] = location.hash.replace(/^#\/?/, '').split('?');
  const [name, ...rest] = path.split('/');
  try {
    caps = await api('capabilities');
    $('who').innerHTML = 'signed in as <b>' + esc(caps.name) + '</b> (' + esc(caps.user) + ') <button id="signout">Sign out</button>';
    $('signout').addEventListener('click', signOut);
    // Only the pages the user's policies open: the cluster pages need admin:ServerInfo, identity any admin action.
    const services = ['admin:ListTargets', 'admin:PutTarget', 'admin:ListKmsKeys', 'admin:CreateKmsKey'].some((a) => can(caps.admin, a));
    const open = { overview: mayCluster(), healing: mayCluster(), buckets: true, services, identity: caps.admin.some((a) => /User|AccessKey|Polic/.test(a)) };
    for (const a of document.querySelectorAll('#nav a')) a.hidden = !open[a.dataset.page];
    // Own names only: '#/constructor/...' must not reach Object.prototype's members.
    const page = Object.hasOwn(pages, name) && (!Object.hasOwn(open, name) || open[name]) ? name : mayCluster() ? 'overview' : 'buckets';
    const args = rest.map(decodeURIComponent);
    const params = new URLSearchParams(search || '');
    for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === (page === 'object' || page === 'versions' || page === 'settings' || page === 'item' ? 'buckets' : page));
    wiring = [];
    const html = await pages[page](args, params);
    if (generation !== renders) return;
    $('signin').hidden = true; $('nav').hidden = false;
    $('page').innerHTML = html;
    for (const fn of wiring) fn();
    wiring = [];
    document.body.dataset.page = page;
  } catch (err) {
    if (generation === renders && err.message !== 'signed out') $('page').innerHTML = '<p class="error" role="alert">' + esc(err.message) + '</p>';
  }
}

/** One upload request with progress (fetch reports none): resolves with the response's ETag. */
function sendWithProgress(method, path, body, onProgress, upload) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    upload.xhr = xhr;
    xhr.open(method, '/-/console/s3/' + path);
    xhr.setRequestHeader('x-tessera-console', '1');
    xhr.upload.addEventListener('progress', (event) => onProgress(event.loaded));
    xhr.addEventListener('load', () => (xhr.status >= 200 && xhr.status < 300 ? resolve(xhr.getResponseHeader('etag')) : reject(new S3Failure(xhr.status, xhr.responseText))));
    xhr.addEventListener('error', () => reject(new Error('the upload failed')));
    xhr.addEventListener('abort', () => reject(new Error('cancelled')));
    xhr.send(body);
  });
}

/**
 * Uploads the chosen files under the page's prefix: one PUT each, or for a file over PART_BYTES S3's
 * multipart calls (a part at a time), with one progress bar for all; Cancel stops the request in
 * flight and aborts the multipart upload, so nothing of it is left.
 */
function wireUpload(bucket, prefix) {
  let upload = null;
  $('upload-cancel').addEventListener('click', () => { if (upload) { upload.cancelled = true; upload.xhr?.abort(); } });
  $('upload').addEventListener('submit', (event) => {
    event.preventDefault();
    // A folder's files keep their path below the folder, the folder's own name first, as the key below the prefix.
    const files = [...[...$('upload-files').files].map((file) => ({ file, name: file.name })),
      ...[...$('upload-folder').files].map((file) => ({ file, name: file.webkitRelativePath || file.name }))];
    if (files.length === 0) { report('upload-status', 'Choose files or a folder to upload.', true); return; }
    const total = files.reduce((sum, f) => sum + f.file.size, 0) || 1;
    let done = 0;
    upload = { cancelled: false, xhr: null };
    const current = upload;
    const progress = (loaded) => { $('upload-progress').value = Math.round(((done + loaded) / total) * 100); };
    $('upload-progress').hidden = false; $('upload-cancel').hidden = false; $('upload-start').disabled = true;
    report('upload-status', 'Uploading...');
    (async () => {
      for (const { file, name } of files) {
        const path = keyPath(bucket, prefix + name);
        if (file.size <= PART_BYTES) {
          await sendWithProgress('PUT', path, file, progress, current);
        } else {
          const id = tag((await s3('POST', path + '?uploads', { headers: { 'content-type': file.type || 'application/octet-stream' } })).xml(), 'UploadId');
          try {
            const parts = [];
            for (let n = 1, at = 0; at < file.size; n++, at += PART_BYTES) {
              if (current.cancelled) throw new Error('cancelled');
              const etag = await sendWithProgress('PUT', path + '?partNumber=' + n + '&uploadId=' + encodeURIComponent(id), file.slice(at, at + PART_BYTES), (loaded) => progress(at + loaded), current);
              parts.push('<Part><PartNumber>' + n + '</PartNumber><ETag>' + esc(etag) + '</ETag></Part>');
            }
            await s3('POST', path + '?uploadId=' + encodeURIComponent(id), { body: '<CompleteMultipartUpload>' + parts.join('') + '</CompleteMultipartUpload>', headers: { 'content-type': 'application/xml' } });
          } catch (err) {
            await s3('DELETE', path + '?uploadId=' + encodeURIComponent(id)).catch(() => undefined);
            throw err;
          }
        }
        done += file.size;
        progress(0);
      }
    })().then(() => { report('upload-status', 'Uploaded ' + files.length + ' file' + (files.length === 1 ? '' : 's') + '.'); upload = null; render(); },
      (err) => { report('upload-status', err.message === 'cancelled' ? 'Cancelled; nothing of the upload was kept.' : err.message, true); upload = null; $('upload-start').disabled = false; $('upload-cancel').hidden = true; });
  });
}

/** Deletes every version and delete marker of a bucket, a listing page at a time. */
async function emptyBucket(bucket, onProgress) {
  let deleted = 0;
  for (;;) {
    const doc = (await s3('GET', encodeURIComponent(bucket) + '?versions&max-keys=500')).xml();
    const entries = [...tags(doc, 'Version'), ...tags(doc, 'DeleteMarker')].map((v) => ({ key: tag(v, 'Key'), versionId: tag(v, 'VersionId') }));
    if (entries.length === 0) return;
    for (let i = 0; i < entries.length; i += 8) {
      await Promise.all(entries.slice(i, i + 8).map((e) => s3('DELETE', keyPath(bucket, e.key) + '?versionId=' + encodeURIComponent(e.versionId))));
      deleted += Math.min(8, entries.length - i);
      onProgress(deleted);
    }
  }
}

/** A new key's secret, shown this once: the gateway never shows it again. */
function showSecret(answer) {
  const box = $('new-secret') || $('identity-status');
  box.hidden = false;
  box.innerHTML = '<p><b>Save this secret now: it is shown only once.</b></p><p>User <b>' + esc(answer.user) + '</b>, access key <code id="new-access-key">' + esc(answer.accessKeyId) +
    '</code>, secret key <code id="new-secret-key">' + esc(answer.secretAccessKey) + '</code></p><button type="button" id="secret-done">Done, refresh the list</button>';
  $('secret-done').addEventListener('click', () => render());
  $('secret-done').focus();
}

document.addEventListener('DOMContentLoaded', () => {
  $('signin').addEventListener('submit', signIn);
  window.addEventListener('hashchange', render);
  render();
});
