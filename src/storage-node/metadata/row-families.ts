import type { MetadataStore } from '../metadata-store.js';

/*
 * The row families of a node's metadata as the store lends them to the code beside it: each names
 * exactly the operations its readers use, so background work and routes reach no other row.
 */

/** The node's keys in placement-hash order, each with its current version and its older ones: what walks over the keys read. */
export type KeyRows = Pick<MetadataStore, 'countKeys' | 'hashIndexPage' | 'hashRange' | 'getObject' | 'keyVersions' | 'keyVersionsPage' | 'versionRowsPage'>;

/** Every version row and version tombstone in placement-hash order: partition digests and listings, scrub, rebalance, and the collector that drops tombstones. */
export type VersionRows = Pick<MetadataStore, 'versionPage' | 'versionMarks' | 'versionGonePage' | 'dropVersionGone'>;

/** Shards found bad and waiting for repair. */
export type QuarantineRows = Pick<MetadataStore, 'quarantined' | 'isQuarantined'>;

/** Shards stored but not yet committed or dropped. */
export type PreparedRows = Pick<MetadataStore, 'preparedShards'>;

/** The files rows point to: what a sweep for orphan files asks. */
export type FileRows = Pick<MetadataStore, 'filesUnder' | 'hasFile'>;

/** Where background workers keep their cursors between steps and restarts. */
export type CursorRows = Pick<MetadataStore, 'loadCursor' | 'saveCursor'>;
