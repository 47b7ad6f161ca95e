// The linearizability check under real faults (test/consistency/process-faults.slow.ts) as the longer
// run of `npm run test:endurance` (300 s of SIGKILLs and cut links; 60 s when run alone); LIN_FAULT_SECONDS sets it.
process.env['LIN_FAULT_SECONDS'] ??= '60';
await import('../consistency/process-faults.slow.js');
