//go:build !kafscale_nos3

package objstore

import "strings"

// Location returns s3://bucket/prefix (s3://bucket without a prefix).
func (s *S3) Location() string {
	return strings.TrimSuffix("s3://"+s.cfg.Bucket+"/"+s.prefix, "/")
}
