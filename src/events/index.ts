// Bucket event notifications: target definitions and their ARNs, S3's event message, and one
// publisher per kind of target. Used by the gateway (targets, configurations) and by the storage
// nodes, which deliver the changes they log.
export {
  checkTargetDefinition,
  parseTargetArn,
  parseTargetDefinition,
  publicTargetFields,
  redactUrl,
  targetArn,
  TargetDefinitionError,
  TARGET_NAME,
  TARGET_TYPES,
  type TargetDefinition,
  type TargetType,
} from './event-target.js';
export {
  eventKey,
  eventMessages,
  eventRecord,
  sequencerOf,
  type EventMessage,
  type EventRecord,
  type ObjectChange,
} from './event-message.js';
export { DEFAULT_PUBLISHER_LIMITS, PublishError, PublishGate, type Outgoing, type Publisher, type PublisherLimits, type PublishErrorCode } from './publisher.js';
export { createPublisher } from './target-publishers.js';
