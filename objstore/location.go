package objstore

// Location returns where st keeps its objects as a URL (file:///dir, s3://bucket/prefix),
// or "" if st does not say. DescribeLogDirs names a broker's log directory with it.
func Location(st Store) string {
	if l, ok := st.(interface{ Location() string }); ok {
		return l.Location()
	}
	return ""
}

// Location returns file:// and the store's absolute root directory.
func (l *Local) Location() string { return "file://" + l.root }

// Location returns the location of the store it wraps.
func (s *latencyStore) Location() string { return Location(s.st) }
