import { t } from 'tap';
import { runConformanceArea } from './run-area.js';

// Objects, by boto3 against a running Tessera: see conformance_objects.py for the cases.
await runConformanceArea(t, 'objects');
