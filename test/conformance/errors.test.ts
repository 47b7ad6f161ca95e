import { t } from 'tap';
import { runConformanceArea } from './run-area.js';

// Errors, by boto3 against a running Tessera: see conformance_errors.py for the cases.
await runConformanceArea(t, 'errors');
