// Server access logging (docs/access-logs.md): S3's log line, the log objects' keys, group commit of
// records into log objects written through the data path, and the hold on a logged response's end.
export { AccessLogDelivery, DEFAULT_LOG_DELIVERY_LIMITS, LogDeliveryError, type LogDeliveryFigures, type LogDeliveryLimits, type LogObjectWriter } from './log-delivery.js';
export { logDestination, logObjectKey, type LogDestination } from './log-keys.js';
export { formatLogLine, LOG_FIELD_COUNT, logKey, logOperationName, logTime, redactedTarget, splitLogLine, type AccessLogFields } from './log-line.js';
export { logObjectWriter } from './log-object-writer.js';
export { holdResponseEnd, type HoldVerdict, type ResponseOutcome } from './response-hold.js';
