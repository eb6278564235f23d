// Package compact holds the record-level part of log compaction (cleanup.policy=compact):
// a bounded map from record key to the offset of its latest record, built over the dirty
// part of a partition's log, and the filter that rewrites a segment's batches keeping only
// what compaction keeps. It knows nothing of etcd or the object store; the broker decides
// which segments to compact and commits the result (docs/compaction.md).
package compact
