import type { Logger } from '../../common/index.js';
import { eventMessages, parseReplicationArn, type EventMessage } from '../../events/index.js';
import type { RingNode } from '../../placement/index.js';
import { MAX_DONE_IDS, type LoggedChange, type ReplicationOutcome as ReplicationOutcomeStatus } from '../../rpc/index.js';
import type { ChangeRows } from '../metadata/change-rows.js';
import type { RingStore } from '../ring-store.js';
import type { DeliveryFigures } from './delivery-figures.js';
import type { EventPublishers } from './event-publishers.js';
import type { PeerClients } from './peer-clients.js';
import type { ReplicationOutcome } from './replicators.js';
import { SetLeaders } from './set-leaders.js';
import type { StepResult, Worker, WorkerStatus } from './worker.js';

/** The part of the node's change log delivery reads and writes. */
export type DeliveryLog = Pick<ChangeRows, 'page' | 'markDelivered' | 'done' | 'dropMarkersBefore'>;

/** Changes one step reads (and most one offer carries: MAX_OFFERED_CHANGES). */
const PAGE_ROWS = 256;
/** Age after which a member offers its copy of a change to the leader, unless told otherwise. */
export const DEFAULT_OFFER_AFTER_MS = 2 * 60 * 1000;
/** Undelivered changes kept per target, unless told otherwise. */
export const DEFAULT_MAX_BACKLOG = 100_000;
/** First pause after a failed publish; it doubles with each failure in a row, up to the maximum. */
export const DEFAULT_RETRY_BASE_MS = 1_000;
/** Longest pause between publishes to a target that keeps failing. */
export const DEFAULT_RETRY_MAX_MS = 60_000;
/**
 * How long a change waits for the record of a target this node has never seen: target records reach
 * every node, but are acknowledged by a majority, so one may arrive a little after a change naming it.
 */
export const DEFAULT_MISSING_TARGET_GRACE_MS = 60_000;
/** Delivered markers are kept this long: an offer of a change delivered within a day is answered `delivered`. */
const MARKER_AGE_MS = 24 * 60 * 60 * 1000;
/** Pause between collections of old delivered markers. */
const MARKER_SWEEP_MS = 60 * 60 * 1000;
/** Time a member has to answer an offer or a done call. */
const PEER_TIMEOUT_MS = 10_000;
/**
 * Longest a pass that found nothing to do (every change waiting on a target's backoff, or too young to
 * offer) is followed by quiet: the log is not read again before then unless it grew. A leader's loss
 * is noticed within it.
 */
const MAX_QUIET_MS = 5_000;
/** Offers remembered (to repeat each only every offerAfterMs): past this the oldest memories go. */
const MAX_OFFER_MEMORY = 100_000;

/** Construction parameters of a change delivery. */
export interface ChangeDeliveryOptions {
  nodeId: string;
  changes: DeliveryLog;
  rings: Pick<RingStore, 'locator'>;
  peers: PeerClients;
  publishers: EventPublishers;
  /** Writes how replicating each change ended to the version it is about, where this node holds it. */
  settleReplication: (outcomes: Readonly<Record<string, ReplicationOutcomeStatus>>) => Promise<void>;
  figures: DeliveryFigures;
  /** This cluster's region, in every event record. */
  region: string;
  logger: Logger;
  offerAfterMs?: number;
  maxBacklog?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  missingTargetGraceMs?: number;
  probeCacheMs?: number;
  clock?: () => number;
}

/** A change this node leads, in this step: what of it is settled and whether any destination still waits. */
interface Led {
  change: LoggedChange;
  set: readonly RingNode[];
  /** Delivery keys (deliveryKey) of the destinations delivered (or dropped, or skipped as undeliverable) in this step. */
  settled: string[];
  waiting: boolean;
  /** What replicating it came to, when a replication destination settled in this step: FAILED when any failed. */
  replication?: ReplicationOutcomeStatus;
}

/** A change on its way to one destination: an event message to publish, or a change to replicate. */
interface Outbound {
  led: Led;
  /** The destination's delivery key. */
  key: string;
  send: (signal: AbortSignal) => Promise<ReplicationOutcome | undefined>;
}

/** One destination of a change: where it goes, and how it is sent once the target is known. */
interface Destination {
  arn: string;
  /** Its delivery key. */
  key: string;
  /** An event message's JSON, or undefined for a replication destination. */
  body: string | undefined;
}

/**
 * Delivers the changes this node logged, at least once, in log order per target: as bucket event
 * notifications (docs/events.md) and as copies sent to replication targets (docs/replication.md).
 *
 * Each change is delivered by its key's leader: the first member of the key's set (under the node's
 * current ring) that answers. The leader reads its own log in sequence order, publishes each change to
 * every destination it names, removes the row and tells the other members, which remove their copies.
 * A member keeps its copy; one older than `offerAfterMs` is offered to the leader, which logs it if it
 * lacks it and answers `delivered` once it delivered it. When no member before it answers, a member
 * stands in and delivers its own copies once they are that old.
 *
 * Per target, a failed publish stops every later change to that target until it went through, retried
 * with exponential backoff (1 s to 60 s, with jitter); other targets go on. A change with several
 * destinations records each one delivered, so a retry resends only what is missing. A pass reads the
 * whole log; a target with more than `maxBacklog` changes waiting at the end of a pass has its oldest
 * dropped in the next, counted. Progress lives in the log itself (rows removed, destinations marked),
 * so the worker keeps no cursor: a restart reads the log from its start.
 */
export class ChangeDelivery implements Worker {
  readonly name = 'event-delivery';
  private readonly options: ChangeDeliveryOptions;
  private readonly clock: () => number;
  private readonly leaders: SetLeaders;
  /** Where the pass under way is; undefined at its start. */
  private after: string | undefined;
  /** Targets a change waited for in this pass (a failed publish, a backoff, a record this node lacks): no later change goes to them before the next pass. */
  private blocked = new Set<string>();
  /** Targets waiting out a backoff: when the next publish may run, and how many failed in a row. */
  private readonly retries = new Map<string, { atMs: number; failures: number }>();
  /** Changes each target must drop in this pass, the oldest first. */
  private dropQuota = new Map<string, number>();
  /** When each change was last offered to its leader. */
  private readonly offeredMs = new Map<string, number>();
  private lastMarkerSweepMs = Number.NEGATIVE_INFINITY;
  /** Whether the pass under way published, settled, removed or offered anything. */
  private passActive = false;
  /** The earliest time a change the pass under way left alone is due (its offer, or a stand-in's delivery). */
  private passNextDueMs = Number.POSITIVE_INFINITY;
  /** The last sequence number the previous pass read (undefined: the log was empty). */
  private lastSeenSeq: string | undefined;
  /** After a pass that did nothing, no pass starts before this unless the log grew. */
  private quietUntilMs = Number.NEGATIVE_INFINITY;
  private readonly counters = { passes: 0, quietPasses: 0, delivered: 0, offered: 0, handedOver: 0, standIn: 0, markersDropped: 0 };

  constructor(options: ChangeDeliveryOptions) {
    this.options = options;
    this.clock = options.clock ?? Date.now;
    this.leaders = new SetLeaders({ nodeId: options.nodeId, peers: options.peers, ...(options.probeCacheMs === undefined ? {} : { probeCacheMs: options.probeCacheMs }), clock: this.clock });
  }

  status(): WorkerStatus {
    const now = this.clock();
    return { ...this.counters, targetsBackingOff: [...this.retries.values()].filter((retry) => retry.atMs > now).length };
  }

  async step(signal: AbortSignal): Promise<StepResult> {
    const now = this.clock();
    if (now - this.lastMarkerSweepMs >= MARKER_SWEEP_MS) {
      this.lastMarkerSweepMs = now;
      this.counters.markersDropped += await this.options.changes.dropMarkersBefore(now - MARKER_AGE_MS);
    }
    const locator = this.options.rings.locator;
    // Without a ring this node cannot tell who leads: its changes wait (each is on the other members too).
    if (locator === undefined) return { items: 0, bytes: 0, cursor: null, idle: true };
    if (this.after === undefined) {
      // A backlog behind a target that is down is not read again and again while nothing can move.
      if (now < this.quietUntilMs && (await this.options.changes.page(this.lastSeenSeq, 1)).length === 0) {
        this.counters.quietPasses += 1;
        return { items: 0, bytes: 0, cursor: null, idle: true };
      }
      this.passActive = false;
      this.passNextDueMs = Number.POSITIVE_INFINITY;
    }
    const changes = await this.options.changes.page(this.after, PAGE_ROWS);
    const offerAfterMs = this.options.offerAfterMs ?? DEFAULT_OFFER_AFTER_MS;
    const led: Led[] = [];
    const offers = new Map<string, { member: RingNode; changes: LoggedChange[] }>();
    for (const change of changes) {
      signal.throwIfAborted();
      const set = locator.locate(change.bucket, change.key).nodes;
      const leader = await this.leaders.leaderOf(set, signal);
      const old = now - change.loggedMs >= offerAfterMs;
      if (leader === null) {
        // A member leading only because those before it are silent waits as an offer would: a leader
        // that merely restarted delivers its own changes, and nothing goes out twice.
        const first = set[0]?.id === this.options.nodeId;
        if (first || old) led.push({ change, set, settled: [], waiting: false });
        else this.dueAt(change.loggedMs + offerAfterMs);
        continue;
      }
      const offeredMs = this.offeredMs.get(change.note.id) ?? Number.NEGATIVE_INFINITY;
      if (!old || now - offeredMs < offerAfterMs) {
        this.dueAt(Math.max(change.loggedMs, offeredMs) + offerAfterMs);
        continue;
      }
      let offer = offers.get(leader.id);
      if (offer === undefined) {
        offer = { member: leader, changes: [] };
        offers.set(leader.id, offer);
      }
      offer.changes.push(change);
    }
    await this.deliver(led, now, signal);
    await this.offer([...offers.values()], now, signal);
    const last = changes.at(-1);
    if (last !== undefined) this.lastSeenSeq = last.seq;
    if (changes.length < PAGE_ROWS || last === undefined) {
      this.endPass(now);
      return { items: changes.length, bytes: 0, cursor: null, idle: true };
    }
    this.after = last.seq;
    return { items: changes.length, bytes: 0, cursor: null, idle: false };
  }

  /** Sends the changes this node leads, each target's in log order and the targets side by side; removes what is done. */
  private async deliver(led: readonly Led[], now: number, signal: AbortSignal): Promise<void> {
    const { publishers, figures } = this.options;
    const queues = new Map<string, Outbound[]>();
    for (const entry of led) {
      const destinations = this.destinationsOf(entry);
      for (const destination of destinations) {
        const target = await publishers.lookup(destination.arn);
        const graceMs = this.options.missingTargetGraceMs ?? DEFAULT_MISSING_TARGET_GRACE_MS;
        if (target.state === 'gone' || (target.state === 'unknown' && now - entry.change.loggedMs >= graceMs)) {
          figures.undeliverable(target.name);
          entry.settled.push(destination.key);
          continue;
        }
        if (target.state === 'unknown') {
          // Its record may still be on its way: later changes to it wait behind this one.
          this.wait(entry, target.name);
          continue;
        }
        const quota = this.dropQuota.get(target.name) ?? 0;
        if (quota > 0) {
          this.dropQuota.set(target.name, quota - 1);
          figures.dropped(target.name);
          entry.settled.push(destination.key);
          if (target.replicator !== undefined) entry.replication = 'FAILED';
          continue;
        }
        if (this.isBlocked(target.name, now)) {
          this.wait(entry, target.name);
          continue;
        }
        const { change } = entry;
        const { body } = destination;
        const send: Outbound['send'] =
          target.replicator !== undefined
            ? (sendSignal) => target.replicator.replicate({ bucket: change.bucket, key: change.key, note: change.note }, sendSignal)
            : async (sendSignal) => {
                await target.publisher.publish({ body: body ?? '', key: change.key }, { signal: sendSignal });
                return undefined;
              };
        let queue = queues.get(target.name);
        if (queue === undefined) {
          queue = [];
          queues.set(target.name, queue);
        }
        queue.push({ led: entry, key: destination.key, send });
      }
    }
    if (queues.size > 0 || led.some((entry) => entry.settled.length > 0)) this.passActive = true;
    await Promise.all([...queues].map(([name, outbound]) => this.sendInOrder(name, outbound, now, signal)));
    signal.throwIfAborted();
    const done: Led[] = [];
    for (const entry of led) {
      if (!entry.waiting) {
        done.push(entry);
        continue;
      }
      for (const key of entry.settled) await this.options.changes.markDelivered(entry.change.seq, key);
    }
    if (done.length === 0) return;
    this.passActive = true;
    // Before the rows go: the log names the version each change is about.
    const outcomes = outcomesOf(done);
    if (outcomes !== undefined) await this.options.settleReplication(outcomes);
    await this.options.changes.done(
      done.map((entry) => entry.change.note.id),
      new Map(done.map((entry) => [entry.change.note.id, entry.change.seq])),
    );
    this.counters.delivered += done.length;
    this.counters.standIn += done.filter((entry) => entry.set[0]?.id !== this.options.nodeId).length;
    await this.tellMembers(done, signal);
  }

  /**
   * The destinations of a led change not yet delivered: each replication destination as it is, and one
   * event message per notification destination. A change that cannot make its event messages has them
   * settled as skipped.
   */
  private destinationsOf(entry: Led): Destination[] {
    const { change } = entry;
    const { region } = this.options;
    // A destination is known by its place in the note (which never changes): a notification configuration
    // and a replication rule may share an id. Rows marked by configuration id before count too.
    const outstanding = change.note.destinations.flatMap((destination, index) => {
      const key = deliveryKey(index);
      return change.delivered.includes(key) || change.delivered.includes(destination.configurationId) ? [] : [{ ...destination, key }];
    });
    const replicated = outstanding.filter((destination) => parseReplicationArn(destination.arn, region) !== undefined);
    const notified = outstanding.filter((destination) => !replicated.includes(destination));
    const destinations: Destination[] = replicated.map(({ arn, key }) => ({ arn, key, body: undefined }));
    if (notified.length === 0) return destinations;
    let messages: EventMessage[];
    try {
      messages = eventMessages({ ...change.note, bucket: change.bucket, key: change.key }, notified, region);
    } catch (err) {
      this.options.logger.warn({ err, bucket: change.bucket, key: change.key }, 'a logged change cannot make an event message; it is skipped');
      for (const destination of notified) entry.settled.push(destination.key);
      return destinations;
    }
    // One message per destination, in their order.
    messages.forEach((message, i) => destinations.push({ arn: message.arn, key: notified[i]?.key ?? '', body: JSON.stringify(message.body) }));
    return destinations;
  }

  /** Sends one target's changes one after another; the first failure holds back the rest until its retry. */
  private async sendInOrder(name: string, outbound: readonly Outbound[], now: number, signal: AbortSignal): Promise<void> {
    const { figures, logger } = this.options;
    for (const message of outbound) {
      if (this.blocked.has(name)) {
        this.wait(message.led, name);
        continue;
      }
      let outcome: ReplicationOutcome | undefined;
      try {
        outcome = await message.send(signal);
      } catch (err) {
        if (signal.aborted) return;
        figures.failed(name);
        const failures = (this.retries.get(name)?.failures ?? 0) + 1;
        const delayMs = backoffMs(failures, this.options.retryBaseMs ?? DEFAULT_RETRY_BASE_MS, this.options.retryMaxMs ?? DEFAULT_RETRY_MAX_MS);
        this.retries.set(name, { atMs: now + delayMs, failures });
        this.blocked.add(name);
        this.wait(message.led, name);
        logger.warn({ err, target: name, retryInMs: Math.round(delayMs), failures }, 'target did not take a change; its later changes wait');
        continue;
      }
      this.retries.delete(name);
      message.led.settled.push(message.key);
      if (outcome === 'FAILED') {
        // Refused for good (or unreadable here): settled, counted, and shown as FAILED on the source version.
        figures.failed(name);
        message.led.replication = 'FAILED';
        continue;
      }
      figures.delivered(name);
      if (outcome === 'COMPLETED' && message.led.replication === undefined) message.led.replication = 'COMPLETED';
    }
  }

  /** Tells the other members of each delivered change's set to remove their copies; best effort (an unconfirmed copy is offered later). */
  private async tellMembers(done: readonly Led[], signal: AbortSignal): Promise<void> {
    const byMember = new Map<string, { member: RingNode; done: Led[] }>();
    for (const entry of done) {
      for (const member of entry.set) {
        if (member.id === this.options.nodeId) continue;
        let told = byMember.get(member.id);
        if (told === undefined) {
          told = { member, done: [] };
          byMember.set(member.id, told);
        }
        told.done.push(entry);
      }
    }
    const asked = AbortSignal.any([signal, AbortSignal.timeout(PEER_TIMEOUT_MS)]);
    await Promise.allSettled(
      [...byMember.values()].map(async ({ member, done: memberDone }) => {
        for (let at = 0; at < memberDone.length; at += MAX_DONE_IDS) {
          const batch = memberDone.slice(at, at + MAX_DONE_IDS);
          await this.options.peers.get(member).changesDone(
            batch.map((entry) => entry.change.note.id),
            { signal: asked },
            outcomesOf(batch),
          );
        }
      }),
    );
  }

  /** Offers this node's old copies to their leaders; removes those a leader delivered. */
  private async offer(offers: readonly { member: RingNode; changes: LoggedChange[] }[], now: number, signal: AbortSignal): Promise<void> {
    if (offers.length === 0) return;
    this.passActive = true;
    this.rememberOffers(now);
    const asked = AbortSignal.any([signal, AbortSignal.timeout(PEER_TIMEOUT_MS)]);
    const delivered: string[] = [];
    const readAt = new Map<string, string>();
    await Promise.all(
      offers.map(async ({ member, changes }) => {
        let answers: ('delivered' | 'pending')[];
        try {
          answers = await this.options.peers.get(member).offerChanges({ changes: changes.map(({ bucket, key, note }) => ({ bucket, key, note })) }, { signal: asked });
        } catch (err) {
          // The leader is gone: ask again who leads before the next offer.
          this.leaders.forget(member);
          this.options.logger.debug({ err, leader: member.id }, 'change offer not answered');
          return;
        }
        this.counters.offered += changes.length;
        changes.forEach((change, i) => {
          this.offeredMs.set(change.note.id, now);
          if (answers[i] === 'delivered') {
            delivered.push(change.note.id);
            readAt.set(change.note.id, change.seq);
          }
        });
      }),
    );
    signal.throwIfAborted();
    if (delivered.length === 0) return;
    await this.options.changes.done(delivered, readAt);
    for (const id of delivered) this.offeredMs.delete(id);
    this.counters.handedOver += delivered.length;
  }

  /** Keeps the offer memory bounded: past its size, offers older than offerAfterMs (due again anyway) are forgotten, then any. */
  private rememberOffers(now: number): void {
    if (this.offeredMs.size < MAX_OFFER_MEMORY) return;
    const offerAfterMs = this.options.offerAfterMs ?? DEFAULT_OFFER_AFTER_MS;
    for (const [id, atMs] of this.offeredMs) if (now - atMs >= offerAfterMs) this.offeredMs.delete(id);
    if (this.offeredMs.size >= MAX_OFFER_MEMORY) this.offeredMs.clear();
  }

  /**
   * A destination of a change waits for its target: the change stays, and counts in the target's
   * backlog. No later change goes to that target in this pass, even if its backoff ends meanwhile.
   */
  private wait(entry: Led, target: string): void {
    this.blocked.add(target);
    entry.waiting = true;
    this.options.figures.waiting(target, entry.change.loggedMs);
  }

  private isBlocked(target: string, now: number): boolean {
    const retry = this.retries.get(target);
    if (retry !== undefined) this.dueAt(retry.atMs);
    return this.blocked.has(target) || (retry?.atMs ?? 0) > now;
  }

  /** Notes when a change left alone in this pass is due. */
  private dueAt(ms: number): void {
    this.passNextDueMs = Math.min(this.passNextDueMs, ms);
  }

  /**
   * The log was read to its end: the backlog is known, and the next pass drops what exceeds the limit.
   * A pass that did nothing is followed by quiet until something it left is due (or the log grows).
   */
  private endPass(now: number): void {
    this.after = undefined;
    this.blocked = new Set();
    this.counters.passes += 1;
    const maxBacklog = this.options.maxBacklog ?? DEFAULT_MAX_BACKLOG;
    const quota = new Map<string, number>();
    for (const [target, backlog] of this.options.figures.passEnded()) if (backlog > maxBacklog) quota.set(target, backlog - maxBacklog);
    this.dropQuota = quota;
    // A pass with drops to make, or one that moved anything, is followed by another at once.
    this.quietUntilMs = this.passActive || quota.size > 0 ? Number.NEGATIVE_INFINITY : Math.min(this.passNextDueMs, now + MAX_QUIET_MS);
  }
}

/** How a change's row records that its destination at `index` of its note was delivered. */
function deliveryKey(index: number): string {
  return `#${index}`;
}

/** The replication outcomes of settled changes, by change id; undefined when none was replicated. */
function outcomesOf(done: readonly Led[]): Record<string, ReplicationOutcomeStatus> | undefined {
  const outcomes: Record<string, ReplicationOutcomeStatus> = {};
  let any = false;
  for (const entry of done) {
    if (entry.replication === undefined) continue;
    outcomes[entry.change.note.id] = entry.replication;
    any = true;
  }
  return any ? outcomes : undefined;
}

/** The pause after `failures` failed publishes in a row: doubling from `baseMs` up to `maxMs`, each between half and all of it. */
export function backoffMs(failures: number, baseMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}
