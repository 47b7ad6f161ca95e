/**
 * The web console's assets, shipped inside the package as strings (no build step, no CDN, nothing
 * fetched from elsewhere at run time): one HTML page, its stylesheet and a small script without
 * dependencies that renders each page from the console's JSON API.
 */

const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tessera console</title>
<link rel="stylesheet" href="/-/console/console.css">
<script src="/-/console/console.js" defer></script>
</head>
<body>
<header>
  <span class="brand">Tessera</span>
  <nav id="nav" hidden>
    <a href="#/overview" data-page="overview">Cluster</a>
    <a href="#/healing" data-page="healing">Healing</a>
    <a href="#/buckets" data-page="buckets">Buckets</a>
  </nav>
  <span id="who"></span>
</header>
<main id="main">
  <form id="signin" hidden>
    <h1>Sign in</h1>
    <label>Access key <input name="accessKeyId" autocomplete="username" required></label>
    <label>Secret key <input name="secretAccessKey" type="password" autocomplete="current-password" required></label>
    <button type="submit">Sign in</button>
    <p id="signin-error" class="error" role="alert"></p>
  </form>
  <section id="page"></section>
</main>
</body>
</html>
`;

const CONSOLE_CSS = `
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: #1d2433; background: #f5f6f8; }
header { display: flex; align-items: center; gap: 24px; padding: 10px 24px; background: #1d2433; color: #fff; }
header a { color: #c8d1e0; text-decoration: none; margin-right: 16px; }
header a.active { color: #fff; font-weight: 600; border-bottom: 2px solid #6cb2ff; }
.brand { font-weight: 700; font-size: 16px; letter-spacing: .5px; }
#who { margin-left: auto; color: #c8d1e0; }
#who button { margin-left: 8px; }
main { padding: 20px 24px; max-width: 1200px; }
h1 { font-size: 20px; margin: 0 0 12px; }
h2 { font-size: 16px; margin: 20px 0 8px; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #e3e6eb; white-space: nowrap; }
th { background: #eef0f4; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin-bottom: 12px; }
.card { background: #fff; border: 1px solid #e3e6eb; border-radius: 6px; padding: 10px 14px; min-width: 150px; }
.card b { display: block; font-size: 18px; }
.ok { color: #16794c; } .warn { color: #a86200; } .bad { color: #b3261e; font-weight: 600; }
progress { width: 120px; vertical-align: middle; }
form#signin { background: #fff; border: 1px solid #e3e6eb; border-radius: 6px; padding: 20px; max-width: 360px; }
form#signin label { display: block; margin-bottom: 10px; }
form#signin input { display: block; width: 100%; padding: 6px; margin-top: 4px; }
.error { color: #b3261e; }
.crumbs a { margin-right: 4px; }
tr.selected td { background: #e8f1ff; }
.marker { color: #6b7280; font-style: italic; }
`;

const CONSOLE_JS = `'use strict';
const $ = (id) => document.getElementById(id);
const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const bytes = (n) => { if (n === null || n === undefined || n < 0) return '-'; const u = ['B', 'KB', 'MB', 'GB', 'TB', 'PB']; let i = 0; while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; } return (i === 0 ? n : n.toFixed(1)) + ' ' + u[i]; };
const pct = (x) => Math.round((x ?? 0) * 100) + '%';
const bar = (x) => '<progress max="100" value="' + Math.round(Math.min(1, Math.max(0, x ?? 0)) * 100) + '"></progress> ' + pct(x);
const when = (ms) => ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '-';
const eta = (s) => s === null || s === undefined ? 'unknown' : s <= 0 ? 'done' : s < 90 ? Math.ceil(s) + ' s' : s < 5400 ? Math.ceil(s / 60) + ' min' : (s / 3600).toFixed(1) + ' h';
const age = (s) => !s || s <= 0 ? '-' : s < 90 ? Math.round(s) + ' s' : s < 5400 ? Math.round(s / 60) + ' min' : (s / 3600).toFixed(1) + ' h';
const stateClass = (s) => s === 'ok' ? 'ok' : s === 'degraded' || s === 'missing' ? 'warn' : 'bad';

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
  if (!location.hash || location.hash === '#/') location.hash = '#/overview'; else render();
}

async function signOut() {
  await fetch('/-/console/api/session', { method: 'DELETE', credentials: 'same-origin' });
  showSignIn();
}

const pages = {
  async overview() {
    const o = await api('overview');
    $('who').innerHTML = 'signed in as <b>' + esc(o.user) + '</b> <button id="signout">Sign out</button>';
    $('signout').onclick = signOut;
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
    let html = '<h1>Healing</h1><table id="healing"><tr><th>Node</th><th>Scrub</th><th>Scrub rate</th><th>Checksum failures</th><th>Repairs done / pending</th><th>Below full redundancy</th><th>Rebalance</th><th>Time left</th><th>GC freed</th></tr>';
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
  async buckets(args) {
    if (args.length === 0) {
      const b = await api('buckets');
      let html = '<h1>Buckets</h1><table id="buckets"><tr><th>Bucket</th><th>Created</th></tr>';
      for (const bucket of b.buckets) html += '<tr><td><a href="#/buckets/' + encodeURIComponent(bucket.name) + '/">' + esc(bucket.name) + '</a></td><td>' + when(bucket.createdMs) + '</td></tr>';
      return html + (b.buckets.length === 0 ? '<tr><td colspan="2">No buckets yet.</td></tr>' : '') + '</table>';
    }
    const bucket = args[0];
    const prefix = args.slice(1).join('/');
    const list = await api('objects?bucket=' + encodeURIComponent(bucket) + '&prefix=' + encodeURIComponent(prefix));
    let crumbs = '<a href="#/buckets">Buckets</a> / <a href="#/buckets/' + encodeURIComponent(bucket) + '/">' + esc(bucket) + '</a> / ';
    let walked = '';
    for (const part of prefix.split('/').filter((p) => p !== '')) { walked += part + '/'; crumbs += '<a href="#/buckets/' + encodeURIComponent(bucket) + '/' + walked.split('/').map(encodeURIComponent).join('/') + '">' + esc(part) + '</a> / '; }
    let html = '<h1>' + esc(bucket) + '</h1><p class="crumbs">' + crumbs + '</p><p><a id="show-versions" href="#/versions/' + encodeURIComponent(bucket) + '/' + prefix.split('/').map(encodeURIComponent).join('/') + '">Show every version and delete marker</a></p><table id="objects"><tr><th>Key</th><th>Size</th><th>Last modified</th><th>Version</th></tr>';
    for (const p of list.prefixes) html += '<tr><td><a href="#/buckets/' + encodeURIComponent(bucket) + '/' + p.split('/').map(encodeURIComponent).join('/') + '">' + esc(p.slice(prefix.length)) + '</a></td><td></td><td></td><td></td></tr>';
    for (const o of list.objects) html += '<tr><td><a href="#/object/' + encodeURIComponent(bucket) + '/' + o.key.split('/').map(encodeURIComponent).join('/') + '">' + esc(o.key.slice(prefix.length)) + '</a></td><td class="num">' + bytes(o.sizeBytes) + '</td><td>' + when(o.lastModifiedMs) + '</td><td>' + esc(o.versionId) + '</td></tr>';
    if (list.prefixes.length + list.objects.length === 0) html += '<tr><td colspan="4">Nothing under this prefix.</td></tr>';
    return html + '</table>' + (list.truncated ? '<p>More keys exist than one page shows.</p>' : '');
  },
  async object(args, params) {
    const bucket = args[0];
    const key = args.slice(1).join('/');
    const version = params.get('version');
    const query = 'bucket=' + encodeURIComponent(bucket) + '&key=' + encodeURIComponent(key);
    const [o, v] = await Promise.all([api('object?' + query + (version === null ? '' : '&versionId=' + encodeURIComponent(version))), api('versions?' + query)]);
    let html = '<h1>' + esc(key) + '</h1><p class="crumbs"><a href="#/buckets">Buckets</a> / <a href="#/buckets/' + encodeURIComponent(bucket) + '/">' + esc(bucket) + '</a></p>';
    const versions = versionTable(bucket, key, v, o.found ? o.s3VersionId : version);
    if (!o.found) return html + '<p class="warn">No node of this key\\'s set holds ' + (version === null ? 'a version of it' : 'version ' + esc(version)) + '.</p>' + versions;
    if (o.deleted) {
      return html + '<div class="cards"><div class="card">Delete marker<b>' + when(o.lastModifiedMs) + '</b>' + esc(o.s3VersionId) + '</div></div>' +
        '<p class="marker" id="marker-note">This version is a delete marker: it holds no data, only a record on each node of the key\\'s set.</p>' + versions;
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
  async versions(args) {
    const bucket = args[0];
    const prefix = args.slice(1).join('/');
    const list = await api('prefix-versions?bucket=' + encodeURIComponent(bucket) + '&prefix=' + encodeURIComponent(prefix));
    let html = '<h1>' + esc(bucket) + ': versions</h1><p class="crumbs"><a href="#/buckets">Buckets</a> / <a href="#/buckets/' + encodeURIComponent(bucket) + '/' + prefix.split('/').map(encodeURIComponent).join('/') + '">' + esc(bucket) + '/' + esc(prefix) + '</a></p>';
    html += '<table id="prefix-versions"><tr><th>Key</th><th>Version</th><th>Latest</th><th>Kind</th><th>Size</th><th>Last modified</th></tr>';
    for (const p of list.prefixes) html += '<tr><td><a href="#/versions/' + encodeURIComponent(bucket) + '/' + p.split('/').map(encodeURIComponent).join('/') + '">' + esc(p.slice(prefix.length)) + '</a></td><td></td><td></td><td></td><td></td><td></td></tr>';
    for (const x of list.versions) {
      html += '<tr><td><a href="' + versionHref(bucket, x.key, x.versionId) + '">' + esc(x.key.slice(prefix.length)) + '</a></td><td>' + esc(x.versionId) + '</td><td>' + (x.isLatest ? 'latest' : '') + '</td>' +
        '<td' + (x.deleteMarker ? ' class="marker">delete marker' : '>object') + '</td><td class="num">' + (x.deleteMarker ? '' : bytes(x.sizeBytes)) + '</td><td>' + when(x.lastModifiedMs) + '</td></tr>';
    }
    if (list.prefixes.length + list.versions.length === 0) html += '<tr><td colspan="6">Nothing under this prefix.</td></tr>';
    return html + '</table>' + (list.truncated ? '<p>More versions exist than one page shows.</p>' : '');
  },
};

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

async function render() {
  const [path, search] = location.hash.replace(/^#\\/?/, '').split('?');
  const [name, ...rest] = path.split('/');
  // Own names only: '#/constructor/...' must not reach Object.prototype's members.
  const page = Object.hasOwn(pages, name) ? name : 'overview';
  const args = rest.map(decodeURIComponent);
  const params = new URLSearchParams(search || '');
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === (page === 'object' || page === 'versions' ? 'buckets' : page));
  try {
    const html = await pages[page](args, params);
    $('signin').hidden = true; $('nav').hidden = false;
    $('page').innerHTML = html;
    document.body.dataset.page = page;
    if (page !== 'overview' && $('who').textContent === '') api('overview').then((o) => { $('who').innerHTML = 'signed in as <b>' + esc(o.user) + '</b> <button id="signout">Sign out</button>'; $('signout').onclick = signOut; }, () => {});
  } catch (err) {
    if (err.message !== 'signed out') $('page').innerHTML = '<p class="error" role="alert">' + esc(err.message) + '</p>';
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('signin').addEventListener('submit', signIn);
  window.addEventListener('hashchange', render);
  render();
});
`;

/** Console assets by path under /-/console/. */
export const CONSOLE_ASSETS: Readonly<Record<string, { type: string; body: string }>> = {
  'index.html': { type: 'text/html; charset=utf-8', body: INDEX_HTML },
  'console.css': { type: 'text/css; charset=utf-8', body: CONSOLE_CSS },
  'console.js': { type: 'text/javascript; charset=utf-8', body: CONSOLE_JS },
};
