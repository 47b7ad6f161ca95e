import { t } from 'tap';
import { runConformanceArea } from './run-area.js';

// Conditionals, by boto3 against a running Tessera: see conformance_conditionals.py for the cases.
await runConformanceArea(t, 'conditionals');
