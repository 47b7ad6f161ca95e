// The linearizability check under real faults (test/consistency/process-faults.slow.ts) as the longer
// run of `npm run test:extended`: 60 s of SIGKILLs and cut links unless LIN_FAULT_SECONDS says otherwise.
process.env['LIN_FAULT_SECONDS'] ??= '60';
await import('../consistency/process-faults.slow.js');
