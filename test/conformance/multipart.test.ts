import { t } from 'tap';
import { runConformanceArea } from './run-area.js';

// Multipart, by boto3 against a running Tessera: see conformance_multipart.py for the cases.
// The base domain lets a case address buckets virtual-hosted style (bucket.s3.test).
await runConformanceArea(t, 'multipart', { gatewayOverrides: { baseDomain: 's3.test' } });
