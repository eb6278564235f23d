package partition

// StoredBytes returns the size of the partition's committed data in the object store: the
// sum of the byte lengths its index records for each extent (the chunks of merged segments,
// then flush extents not merged yet). It is what DescribeLogDirs reports as the partition's
// size, as Kafka reports the sum of its segment files' sizes.
func (l *Log) StoredBytes() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int64
	for _, e := range l.extents {
		n += e.Len
	}
	return n
}
