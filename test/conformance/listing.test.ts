import { t } from 'tap';
import { runConformanceArea } from './run-area.js';

// Listing, by boto3 against a running Tessera: see conformance_listing.py for the cases.
await runConformanceArea(t, 'listing');
