// The gateway's view of the cluster: the ring in use (and the one it replaced), a client per node, and
// where newer rings come from (a watched file, or the storage nodes themselves).
export { ClusterView, type ClusterViewOptions, type KeySets } from './cluster-view.js';
export { PreviousRingFinder, type PreviousRingFinderOptions, type PreviousRingSearch } from './previous-ring-finder.js';
export { NodeRingFollower, RingFileWatcher, loadRingFile, type NodeRingFollowerOptions } from './ring-source.js';
