import { t } from 'tap';
import { runConformanceArea } from './run-area.js';

// Bucket tagging and its validation errors, by boto3 against a running Tessera: see conformance_bucket_tagging.py for the cases.
await runConformanceArea(t, 'bucket_tagging');
