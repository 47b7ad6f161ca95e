import type { Logger } from '../../common/index.js';
import { checkTargetDefinition, createPublisher, parseTargetArn, type Publisher, type PublisherLimits, type TargetDefinition } from '../../events/index.js';
import { TARGET_RECORD_PREFIX, type UserRecord } from '../../rpc/index.js';

/** How long a target's definition is believed before it is read again: an operator's change reaches delivery within seconds. */
export const DEFAULT_DEFINITION_TTL_MS = 2_000;

/**
 * What a destination's ARN leads to on this node: a target and its publisher; `gone` when it can never
 * be delivered (not a target ARN of this region, the target removed, replaced by one of another type,
 * or its definition unreadable); `unknown` when this node has no record of the target (yet: target
 * records reach every node, but are acknowledged by a majority).
 */
export type TargetLookup = { state: 'ready'; name: string; publisher: Publisher } | { state: 'gone'; name: string } | { state: 'unknown'; name: string };

/** Construction parameters of EventPublishers. */
export interface EventPublishersOptions {
  /** This cluster's region: an ARN naming another is not one of its targets. */
  region: string;
  /** This node's record named `name` (`target:NAME` for a target), if it holds one. */
  readRecord: (name: string) => Promise<UserRecord | undefined>;
  logger: Logger;
  /** Limits of each publisher (events' defaults when absent). */
  publisherLimits?: PublisherLimits;
  definitionTtlMs?: number;
  clock?: () => number;
}

/** A target's definition as last read, and its publisher once one was needed. */
interface TargetEntry {
  readAtMs: number;
  /** The definition's JSON as stored; null when the record is missing, undefined when it is removed or unusable. */
  text: string | null | undefined;
  definition: TargetDefinition | undefined;
  publisher: Publisher | undefined;
}

/** Label under which destinations are counted whose ARN names no target. */
export const NOT_A_TARGET = '(not a target)';

/**
 * The publishers a node delivers through: one per target, created on the first message to it, replaced
 * when its definition changes, closed when the node closes. Definitions come from the node's own
 * target records (`target:NAME`), read at most once per `definitionTtlMs` each.
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
    const parsed = parseTargetArn(arn, this.options.region);
    if (parsed === undefined) return { state: 'gone', name: NOT_A_TARGET };
    const { name } = parsed;
    const entry = await this.entry(name);
    if (entry.text === null) return { state: 'unknown', name };
    if (entry.definition === undefined || entry.definition.type !== parsed.type) return { state: 'gone', name };
    if (this.closed) throw new Error('event publishers are closed');
    entry.publisher ??= createPublisher(entry.definition, this.options.publisherLimits);
    return { state: 'ready', name, publisher: entry.publisher };
  }

  /** Closes every publisher; lookups throw from now on. */
  async close(): Promise<void> {
    this.closed = true;
    const publishers = [...this.targets.values()].flatMap((entry) => (entry.publisher === undefined ? [] : [entry.publisher]));
    this.targets.clear();
    await Promise.allSettled(publishers.map((publisher) => publisher.close()));
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
    // A new or changed definition: the old publisher (its connection, its token) goes.
    if (held?.publisher !== undefined) void held.publisher.close().catch((err: unknown) => this.options.logger.warn({ err, target: name }, 'event publisher did not close cleanly'));
    const entry: TargetEntry = { readAtMs: now, text, definition: text === null || text === undefined ? undefined : this.definitionOf(name, text), publisher: undefined };
    if (!this.closed) this.targets.set(name, entry);
    return entry;
  }

  private definitionOf(name: string, text: string): TargetDefinition | undefined {
    try {
      const value: unknown = JSON.parse(text);
      // A replication target (type s3) is no event target: a destination naming it is simply gone.
      if (typeof value === 'object' && value !== null && (value as Record<string, unknown>)['type'] === 's3') return undefined;
      return checkTargetDefinition(value);
    } catch (err) {
      this.options.logger.warn({ err, target: name }, 'event target definition is unusable; its destinations are skipped');
      return undefined;
    }
  }
}
