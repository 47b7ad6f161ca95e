import { t } from 'tap';
import { runConformanceArea } from './run-area.js';

// ACLs (bucket and object, canned and granted), by boto3 against a running Tessera: see conformance_acl.py for the cases.
await runConformanceArea(t, 'acl');
