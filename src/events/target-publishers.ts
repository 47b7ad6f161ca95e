import type { ChannelModel, ConfirmChannel } from 'amqplib';
import type { Redis } from 'ioredis';
import type { MqttClient } from 'mqtt';
import type { NatsConnection } from 'nats';
import { Agent, request } from 'undici';
import type { TargetDefinition } from './event-target.js';
import { DEFAULT_PUBLISHER_LIMITS, PublishGate, type Outgoing, type Publisher, type PublisherLimits } from './publisher.js';

/** Largest webhook answer body read (and thrown away): an endpoint cannot make the publisher hold more. */
const MAX_WEBHOOK_ANSWER_BYTES = 64 * 1024;
/** Pause between reconnection attempts of the clients that reconnect on their own. */
const RECONNECT_MS = 250;

// The broker clients load on a publisher's first connection: together they take about half a second
// to load, which every process start (the admin CLI included) would otherwise pay.

/** A publisher for a target's definition, each with its protocol's maintained client library. */
export function createPublisher(definition: TargetDefinition, limits: PublisherLimits = DEFAULT_PUBLISHER_LIMITS): Publisher {
  switch (definition.type) {
    case 'webhook':
      return new WebhookPublisher(definition, limits);
    case 'amqp':
      return new AmqpPublisher(definition, limits);
    case 'nats':
      return new NatsPublisher(definition, limits);
    case 'redis':
      return new RedisPublisher(definition, limits);
    case 'mqtt':
      return new MqttPublisher(definition, limits);
  }
}

/** POSTs each message; accepted on a 2xx answer. */
class WebhookPublisher implements Publisher {
  private readonly gate: PublishGate;
  private readonly agent: Agent;
  private readonly definition: Extract<TargetDefinition, { type: 'webhook' }>;

  constructor(definition: Extract<TargetDefinition, { type: 'webhook' }>, limits: PublisherLimits) {
    this.definition = definition;
    this.gate = new PublishGate(limits);
    this.agent = new Agent({ connections: limits.maxInFlight, ...(definition.caPem === undefined ? {} : { connect: { ca: definition.caPem } }) });
  }

  publish(message: Outgoing, options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.gate.run('webhook', async (signal) => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (this.definition.bearerToken !== undefined) headers['authorization'] = `Bearer ${this.definition.bearerToken}`;
      const answer = await request(this.definition.url, { method: 'POST', headers, body: message.body, dispatcher: this.agent, signal });
      let read = 0;
      for await (const chunk of answer.body) {
        read += (chunk as Buffer).length;
        if (read > MAX_WEBHOOK_ANSWER_BYTES) {
          answer.body.destroy();
          break;
        }
      }
      if (answer.statusCode < 200 || answer.statusCode > 299) throw new Error(`HTTP ${answer.statusCode}`);
    }, options.signal);
  }

  async close(): Promise<void> {
    this.gate.close();
    await this.agent.close();
  }
}

/**
 * Publishes to an exchange on a confirm channel: accepted when the broker confirms. The connection is
 * opened on first use and again after it closes (a broker restart), one attempt shared by every publish.
 */
class AmqpPublisher implements Publisher {
  private readonly gate: PublishGate;
  private readonly definition: Extract<TargetDefinition, { type: 'amqp' }>;
  private opening: Promise<{ connection: ChannelModel; channel: ConfirmChannel }> | undefined;

  constructor(definition: Extract<TargetDefinition, { type: 'amqp' }>, limits: PublisherLimits) {
    this.definition = definition;
    this.gate = new PublishGate(limits);
  }

  private channel(): Promise<{ connection: ChannelModel; channel: ConfirmChannel }> {
    this.opening ??= (async () => {
      const { connect } = await import('amqplib');
      const connection = await connect(this.definition.url);
      const forget = (): void => {
        this.opening = undefined;
      };
      // Without an error listener a broker going away would throw in the process.
      connection.on('error', forget);
      connection.on('close', forget);
      try {
        const channel = await connection.createConfirmChannel();
        channel.on('error', forget);
        channel.on('close', () => {
          forget();
          void connection.close().catch(() => undefined);
        });
        return { connection, channel };
      } catch (err) {
        await connection.close().catch(() => undefined);
        throw err;
      }
    })().catch((err: unknown) => {
      this.opening = undefined;
      throw err;
    });
    return this.opening;
  }

  publish(message: Outgoing, options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.gate.run('amqp', async () => {
      const { channel } = await this.channel();
      await new Promise<void>((resolve, reject) => {
        channel.publish(this.definition.exchange, this.definition.routingKey, Buffer.from(message.body), { persistent: true, contentType: 'application/json' }, (err) =>
          err === null || err === undefined ? resolve() : reject(err instanceof Error ? err : new Error('the broker did not confirm the message')),
        );
      });
    }, options.signal);
  }

  async close(): Promise<void> {
    this.gate.close();
    const opened = await this.opening?.catch(() => undefined);
    this.opening = undefined;
    await opened?.connection.close().catch(() => undefined);
  }
}

/** Publishes on a subject; accepted once a flush (PING/PONG) after it returns, so the server has it. */
class NatsPublisher implements Publisher {
  private readonly gate: PublishGate;
  private readonly definition: Extract<TargetDefinition, { type: 'nats' }>;
  private opening: Promise<NatsConnection> | undefined;

  constructor(definition: Extract<TargetDefinition, { type: 'nats' }>, limits: PublisherLimits) {
    this.definition = definition;
    this.gate = new PublishGate(limits);
  }

  private connection(): Promise<NatsConnection> {
    this.opening ??= import('nats')
      .then(({ connect }) => connect({ servers: this.definition.url, reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: RECONNECT_MS, waitOnFirstConnect: false }))
      .then((connection) => {
        // The client reconnects by itself; once it gives up for good, the next publish connects anew.
        void connection.closed().then(() => {
          this.opening = undefined;
        });
        return connection;
      })
      .catch((err: unknown) => {
        this.opening = undefined;
        throw err;
      });
    return this.opening;
  }

  publish(message: Outgoing, options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.gate.run('nats', async (signal) => {
      const connection = await this.connection();
      // A flush that a disconnection cut short says nothing of the message: send it again once the
      // client is back (at least once; the sequencer lets a consumer drop a repeat).
      for (;;) {
        connection.publish(this.definition.subject, Buffer.from(message.body));
        try {
          await connection.flush();
          return;
        } catch (err) {
          if ((err as { code?: unknown }).code !== 'DISCONNECT' || signal.aborted || connection.isClosed()) throw err;
        }
      }
    }, options.signal);
  }

  async close(): Promise<void> {
    this.gate.close();
    const connection = await this.opening?.catch(() => undefined);
    this.opening = undefined;
    await connection?.close().catch(() => undefined);
  }
}

/** RPUSHes to a list or XADDs to a stream; accepted on the server's reply. */
class RedisPublisher implements Publisher {
  private readonly gate: PublishGate;
  private readonly definition: Extract<TargetDefinition, { type: 'redis' }>;
  private client: Promise<Redis> | undefined;
  private closed = false;

  constructor(definition: Extract<TargetDefinition, { type: 'redis' }>, limits: PublisherLimits) {
    this.definition = definition;
    this.gate = new PublishGate(limits);
  }

  private connection(): Promise<Redis> {
    this.client ??= import('ioredis').then(({ Redis }) => {
      // ioredis reconnects by itself and queues commands meanwhile; the gate's timeout bounds the wait.
      const client = new Redis(this.definition.url, { lazyConnect: true, maxRetriesPerRequest: null, retryStrategy: () => RECONNECT_MS, enableOfflineQueue: true });
      client.on('error', () => undefined);
      if (this.closed) client.disconnect();
      return client;
    });
    return this.client;
  }

  publish(message: Outgoing, options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.gate.run('redis', async () => {
      const client = await this.connection();
      if (this.definition.format === 'list') await client.rpush(this.definition.key, message.body);
      else await client.xadd(this.definition.key, '*', 'event', message.body);
    }, options.signal);
  }

  async close(): Promise<void> {
    this.gate.close();
    this.closed = true;
    (await this.client)?.disconnect();
  }
}

/** Publishes on a topic at the configured QoS; at QoS 1 and 2 accepted on the broker's PUBACK (PUBCOMP). */
class MqttPublisher implements Publisher {
  private readonly gate: PublishGate;
  private readonly definition: Extract<TargetDefinition, { type: 'mqtt' }>;
  private readonly connectTimeoutMs: number;
  private client: Promise<MqttClient> | undefined;

  constructor(definition: Extract<TargetDefinition, { type: 'mqtt' }>, limits: PublisherLimits) {
    this.definition = definition;
    this.gate = new PublishGate(limits);
    this.connectTimeoutMs = limits.timeoutMs;
  }

  private connection(): Promise<MqttClient> {
    this.client ??= import('mqtt').then(({ connect }) => {
      // mqtt.js reconnects by itself and sends what waits in its queue once connected.
      const client = connect(this.definition.url, { reconnectPeriod: RECONNECT_MS, connectTimeout: this.connectTimeoutMs, queueQoSZero: false, clean: true });
      client.on('error', () => undefined);
      return client;
    });
    return this.client;
  }

  publish(message: Outgoing, options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.gate.run('mqtt', async () => {
      const client = await this.connection();
      await client.publishAsync(this.definition.topic, message.body, { qos: this.definition.qos });
    }, options.signal);
  }

  async close(): Promise<void> {
    this.gate.close();
    await (await this.client)?.endAsync(true).catch(() => undefined);
  }
}
