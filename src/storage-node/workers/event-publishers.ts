import type { Logger } from '../../common/index.js';
import {
  checkS3TargetDefinition,
  checkTargetDefinition,
  createPublisher,
  parseReplicationArn,
  parseTargetArn,
  type DefinedTarget,
  type Publisher,
  type PublisherLimits,
} from '../../events/index.js';
import type { Ring } from '../../placement/index.js';
import { TARGET_RECORD_PREFIX, type UserRecord } from '../../rpc/index.js';
import type { Replicator, ReplicatorFactory } from './replicators.js';

/** How long a target's definition is believed before it is read again: an operator's change reaches delivery within seconds. */
export const DEFAULT_DEFINITION_TTL_MS = 2_000;

/**
 * What a destination's ARN leads to on this node: an event target and its publisher, or a replication
 * target and its replicator; `gone` when it can never be delivered (not a target ARN of this region,
 * the target removed, replaced by one of another type or writing to another bucket than the ARN names,
 * its definition unreadable, or a replication target on a node with no replicators); `unknown` when
 * this node has no record of the target (yet: target records reach every node, but are acknowledged by
 * a majority).
 */
export type TargetLookup =
  | { state: 'ready'; name: string; publisher: Publisher; replicator?: undefined }
  | { state: 'ready'; name: string; replicator: Replicator; publisher?: undefined }
  | { state: 'gone'; name: string }
  | { state: 'unknown'; name: string };

/** Construction parameters of EventPublishers. */
export interface EventPublishersOptions {
  /** This cluster's region: an ARN naming another is not one of its targets. */
  region: string;
  /** This node's record named `name` (`target:NAME` for a target), if it holds one. */
  readRecord: (name: string) => Promise<UserRecord | undefined>;
  logger: Logger;
  /** Limits of each publisher (events' defaults when absent). */
  publisherLimits?: PublisherLimits;
  /** Makes the replicator of a replication target; without it, replication destinations are gone. */
  replicators?: ReplicatorFactory | undefined;
  /** The ring the node follows, for the replicators. */
  ring?: () => Ring | undefined;
  definitionTtlMs?: number;
  clock?: () => number;
}

/** A target's definition as last read, and its publisher once one was needed. */
interface TargetEntry {
  readAtMs: number;
  /** The definition's JSON as stored; null when the record is missing, undefined when it is removed or unusable. */
  text: string | null | undefined;
  definition: DefinedTarget | undefined;
  publisher: Publisher | undefined;
  replicator: Replicator | undefined;
}

/** Label under which destinations are counted whose ARN names no target. */
export const NOT_A_TARGET = '(not a target)';

/**
 * The publishers and replicators a node delivers through: one per target, created on the first change
 * sent to it, replaced when its definition changes, closed when the node closes. Definitions come from
 * the node's own target records (`target:NAME`), read at most once per `definitionTtlMs` each.
 */
export class EventPublishers {
  private readonly options: EventPublishersOptions;
  private readonly clock: () => number;
  private readonly targets = new Map<string, TargetEntry>();
  private closed = false;

  constructor(options: EventPublishersOptions) {
    this.options = options;
    this.clock = options.clock ?? Date.now;
  }

  /** What the destination ARN `arn` leads to now; throws once closed (nothing is judged gone because the node is stopping). */
  async lookup(arn: string): Promise<TargetLookup> {
    if (this.closed) throw new Error('event publishers are closed');
    const { region } = this.options;
    const event = parseTargetArn(arn, region);
    const replication = event === undefined ? parseReplicationArn(arn, region) : undefined;
    const name = event?.name ?? replication?.name;
    if (name === undefined) return { state: 'gone', name: NOT_A_TARGET };
    const entry = await this.entry(name);
    if (entry.text === null) return { state: 'unknown', name };
    const { definition } = entry;
    if (this.closed) throw new Error('event publishers are closed');
    if (event !== undefined) {
      if (definition === undefined || definition.type !== event.type) return { state: 'gone', name };
      entry.publisher ??= createPublisher(definition, this.options.publisherLimits);
      return { state: 'ready', name, publisher: entry.publisher };
    }
    // A replication ARN names its target's bucket: a target redefined to write elsewhere no longer takes the rule's changes.
    const factory = this.options.replicators;
    if (definition?.type !== 's3' || definition.bucket !== replication?.bucket || factory === undefined) return { state: 'gone', name };
    entry.replicator ??= factory(name, definition, this.options.ring ?? (() => undefined));
    return { state: 'ready', name, replicator: entry.replicator };
  }

  /** Closes every publisher; lookups throw from now on. */
  async close(): Promise<void> {
    this.closed = true;
    const closing = [...this.targets.values()].flatMap((entry) => [entry.publisher, entry.replicator].filter((sender) => sender !== undefined));
    this.targets.clear();
    await Promise.allSettled(closing.map((sender) => sender.close()));
  }

  private async entry(name: string): Promise<TargetEntry> {
    const now = this.clock();
    const held = this.targets.get(name);
    if (held !== undefined && now - held.readAtMs < (this.options.definitionTtlMs ?? DEFAULT_DEFINITION_TTL_MS)) return held;
    const record = await this.options.readRecord(`${TARGET_RECORD_PREFIX}${name}`);
    const text = record === undefined ? null : record.deleted || record.target === undefined ? undefined : record.target;
    if (held !== undefined && held.text === text) {
      held.readAtMs = now;
      return held;
    }
    // A new or changed definition: the old publisher or replicator (its connection, its credentials) goes.
    for (const sender of [held?.publisher, held?.replicator]) {
      if (sender !== undefined) void sender.close().catch((err: unknown) => this.options.logger.warn({ err, target: name }, 'target sender did not close cleanly'));
    }
    const definition = text === null || text === undefined ? undefined : this.definitionOf(name, text);
    const entry: TargetEntry = { readAtMs: now, text, definition, publisher: undefined, replicator: undefined };
    if (!this.closed) this.targets.set(name, entry);
    return entry;
  }

  private definitionOf(name: string, text: string): DefinedTarget | undefined {
    try {
      const value: unknown = JSON.parse(text);
      if (typeof value === 'object' && value !== null && (value as Record<string, unknown>)['type'] === 's3') return checkS3TargetDefinition(value);
      return checkTargetDefinition(value);
    } catch (err) {
      this.options.logger.warn({ err, target: name }, 'target definition is unusable; its destinations are skipped');
      return undefined;
    }
  }
}
