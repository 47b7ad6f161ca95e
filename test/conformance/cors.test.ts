import { t } from 'tap';
import { runConformanceArea } from './run-area.js';

// Bucket CORS and preflight answers, by boto3 and raw HTTP against a running Tessera: see conformance_cors.py for the cases.
await runConformanceArea(t, 'cors');
