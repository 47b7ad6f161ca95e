import { t } from 'tap';
import { runConformanceArea } from './run-area.js';

// Multipart, by boto3 against a running Tessera: see conformance_multipart.py for the cases.
await runConformanceArea(t, 'multipart');
