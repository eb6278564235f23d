// Package bucketmeta keeps in the object store the metadata that only etcd would otherwise
// hold and that object footers cannot give: topic manifests (name, id, partition count,
// configs), written when a topic is created or changed, and snapshots of committed group
// offsets, written every --bucket-metadata-interval by each group's coordinator.
// `kafscale fsck --rebuild` reads them back (docs/fsck.md). Keys are built in segment
// (TopicManifestKey, GroupOffsetsKey); every object is immutable, so a change writes a new
// object and deletes the older ones, and readers take the newest.
package bucketmeta
