package partition

import "sort"

// RetentionStart returns where retention would move the log start, now, for retention.ms
// retentionMs and retention.bytes retentionBytes (-1: no limit; the caller applies it with
// DeleteBefore). As Kafka deletes whole log segments, it deletes whole extents of the
// index (a segment's chunks, or flush objects' extents, a few MiB or one flush interval
// each, finer than Kafka's segments): from the oldest, an extent goes while its largest
// timestamp is older than now - retention.ms, or while the partition, without it, still
// holds at least retention.bytes. As Kafka never deletes the active segment, the newest
// extent is always kept. The result is never below the current log start.
func (l *Log) RetentionStart(nowMs, retentionMs, retentionBytes int64) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	start := l.logStart
	// The index is in offset order: live are the extents holding offsets at or above the
	// log start.
	first := sort.Search(len(l.extents), func(i int) bool { return l.extents[i].LastOffset >= l.logStart })
	live := l.extents[first:]
	var size int64
	for _, e := range live {
		size += e.Len
	}
	for i := 0; i+1 < len(live); i++ { // never the newest
		e := live[i]
		expired := retentionMs >= 0 && e.MaxTimestamp < nowMs-retentionMs
		oversize := retentionBytes >= 0 && size-e.Len >= retentionBytes
		if !expired && !oversize {
			break
		}
		size -= e.Len
		start = live[i+1].BaseOffset
	}
	return max(start, l.logStart)
}
