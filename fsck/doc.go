// Package fsck checks a cluster's etcd metadata against its bucket, and rebuilds the
// metadata from the bucket when etcd is lost (`kafscale fsck`, docs/fsck.md).
//
// A check lists the bucket first and reads etcd after, so an object listed and not
// referenced is garbage or in flight, never one committed after the listing; a reference
// to an object the listing lacks is confirmed with a read of the object before it counts
// as missing. A rebuild reads only the bucket: object footers (the log), topic manifests
// and group-offset snapshots (package bucketmeta), and writes into an empty etcd.
package fsck
