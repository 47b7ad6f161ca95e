// Bucket event notifications and replication: target definitions and their ARNs, S3's event message,
// and one publisher per kind of event target. Used by the gateway (targets, configurations) and by the
// storage nodes, which deliver the changes they log.
export {
  checkDefinedTarget,
  checkS3TargetDefinition,
  checkTargetDefinition,
  definedTargetArn,
  DEFINED_TARGET_TYPES,
  parseDefinedTarget,
  parseReplicationArn,
  parseTargetArn,
  parseTargetDefinition,
  publicTargetFields,
  redactUrl,
  replicationTargetArn,
  targetArn,
  TargetDefinitionError,
  TARGET_NAME,
  TARGET_TYPES,
  type DefinedTarget,
  type S3TargetDefinition,
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
