// The fan-out and quorum helpers live in rpc, shared with the storage node. This re-export only serves
// object-writer.ts and write-version.ts until they import them from rpc; delete it then.
export { decideQuorum, fanOut, fanOutUntil, type NodeOutcome } from '../rpc/index.js';
