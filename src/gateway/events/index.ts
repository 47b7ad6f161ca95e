// Bucket event notifications: target definitions and their ARNs, S3's event message, which
// configurations an event matches, and one publisher per kind of target.
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
  matchingConfigurations,
  sequencerOf,
  type EventMessage,
  type EventRecord,
  type ObjectChange,
  type ObjectEventName,
} from './event-message.js';
export { DEFAULT_PUBLISHER_LIMITS, PublishError, PublishGate, type Outgoing, type Publisher, type PublisherLimits, type PublishErrorCode } from './publisher.js';
export { createPublisher } from './target-publishers.js';
