// Package objstore is the one object-store interface of KafScale, with two implementations:
// S3 (aws-sdk-go-v2) for production and a local directory for `kafscale dev` and tests.
//
// Every implementation gives the same semantics, checked by one conformance test body:
// keys are immutable once written (Put fails with ErrExists instead of overwriting), reads
// are by byte range, and List returns keys in byte order.
package objstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrNotFound means the object does not exist.
var ErrNotFound = errors.New("object not found")

// ErrExists means Put found the key already present; the stored object was left untouched.
var ErrExists = errors.New("object already exists")

// ErrOutOfRange means a ranged read asked for bytes beyond the end of the object.
var ErrOutOfRange = errors.New("range beyond end of object")

// ErrInvalidKey means the key cannot name an object (empty, absolute, "." or ".." parts...).
var ErrInvalidKey = errors.New("invalid object key")

// ErrUnknownScheme means Open was given a URL scheme that no implementation knows.
var ErrUnknownScheme = errors.New("unknown object store scheme")

// ErrSchemeNotBuiltIn means Open knows the URL scheme but this binary was built without it.
var ErrSchemeNotBuiltIn = errors.New("object store scheme not built into this binary")

// MaxKeyLen is the longest key accepted, S3's limit.
const MaxKeyLen = 1024

// Store is the one object-store interface. Implementations are safe for concurrent use.
type Store interface {
	// Put writes key with the concatenation of parts; fails with ErrExists if key exists
	// (If-None-Match: *). size is the total length of parts. The parts are only read and
	// may be reused once Put returns. A Put that retried internally may report ErrExists
	// for an object its own earlier attempt wrote.
	Put(ctx context.Context, key string, parts [][]byte, size int64) error
	// GetRange returns bytes [off, off+n) of key. ErrNotFound if absent, ErrOutOfRange if
	// the object is shorter than off+n. n == 0 returns an empty slice.
	GetRange(ctx context.Context, key string, off, n int64) ([]byte, error)
	// GetSuffix returns the last n bytes of key (all of it if shorter) and the object size.
	// n must be positive.
	GetSuffix(ctx context.Context, key string, n int64) (data []byte, size int64, err error)
	// Delete removes key; an absent key is not an error.
	Delete(ctx context.Context, key string) error
	// DeleteMany removes keys (at most MaxDeleteBatch) in one request where the store has
	// a batch API (S3's DeleteObjects); absent keys are not errors. When the store answers
	// for each key, the keys it could not delete come back in a *DeleteError and the others
	// are deleted; any other error means none is known deleted (see NotDeleted).
	DeleteMany(ctx context.Context, keys []string) error
	// List returns the objects whose key starts with prefix, sorted by key.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
}

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key      string
	Size     int64
	Modified time.Time
}

// S3Config holds the settings of the S3 store. Zero fields take DefaultS3Config's values.
type S3Config struct {
	// Bucket to store objects in; the host part of an s3:// URL fills it.
	Bucket string
	// Prefix prepended to every key (a "/" is added if missing); the path of an s3:// URL fills it.
	Prefix string
	// Endpoint overrides the S3 endpoint URL (e.g. MinIO's http://127.0.0.1:9000).
	Endpoint string
	// Region used for signing; "us-east-1" if empty and the SDK's config has none.
	Region string
	// PathStyle addresses buckets as endpoint/bucket instead of bucket.endpoint (MinIO).
	PathStyle bool
	// AccessKeyID and SecretAccessKey set static credentials; empty uses the SDK's default chain.
	AccessKeyID     string
	SecretAccessKey string
	// MultipartThreshold is the object size from which Put uploads in parts.
	MultipartThreshold int64
	// PartSize is the size of each multipart part (at least 5 MiB, at most MultipartThreshold).
	PartSize int64
	// UploadConcurrency is how many parts of one object upload at the same time.
	UploadConcurrency int
	// RequestTimeout bounds each HTTP attempt, response body included.
	RequestTimeout time.Duration
	// MaxRetries is how many times a failed request is retried, with jittered backoff.
	MaxRetries int
	// MaxBackoff caps the delay between retries.
	MaxBackoff time.Duration
}

// Defaults of S3Config.
const (
	DefaultMultipartThreshold = 16 << 20
	DefaultPartSize           = 8 << 20
	DefaultUploadConcurrency  = 4
	DefaultRequestTimeout     = 10 * time.Second
	DefaultMaxRetries         = 4
	DefaultMaxBackoff         = 2 * time.Second
	minPartSize               = 5 << 20 // S3's minimum for all parts but the last
)

// DefaultS3Config returns the S3 settings used when nothing is configured.
func DefaultS3Config() S3Config {
	return S3Config{
		MultipartThreshold: DefaultMultipartThreshold,
		PartSize:           DefaultPartSize,
		UploadConcurrency:  DefaultUploadConcurrency,
		RequestTimeout:     DefaultRequestTimeout,
		MaxRetries:         DefaultMaxRetries,
		MaxBackoff:         DefaultMaxBackoff,
	}
}

// withDefaults fills zero fields from DefaultS3Config.
func (c S3Config) withDefaults() S3Config {
	d := DefaultS3Config()
	if c.MultipartThreshold == 0 {
		c.MultipartThreshold = d.MultipartThreshold
	}
	if c.PartSize == 0 {
		c.PartSize = min(d.PartSize, c.MultipartThreshold)
	}
	if c.UploadConcurrency == 0 {
		c.UploadConcurrency = d.UploadConcurrency
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = d.RequestTimeout
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = d.MaxRetries
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = d.MaxBackoff
	}
	return c
}

// Validate reports the first setting that cannot work, naming it and its value.
func (c S3Config) Validate() error {
	switch {
	case c.Bucket == "":
		return errors.New("s3 bucket must be set")
	case c.PartSize < minPartSize:
		return fmt.Errorf("s3 part size must be >= %d (set to %d)", minPartSize, c.PartSize)
	case c.MultipartThreshold < c.PartSize:
		return fmt.Errorf("s3 multipart threshold must be >= part size %d (set to %d)", c.PartSize, c.MultipartThreshold)
	case c.UploadConcurrency < 1:
		return fmt.Errorf("s3 upload concurrency must be >= 1 (set to %d)", c.UploadConcurrency)
	case c.RequestTimeout <= 0:
		return fmt.Errorf("s3 request timeout must be > 0 (set to %s)", c.RequestTimeout)
	case c.MaxRetries < 0:
		return fmt.Errorf("s3 max retries must be >= 0 (set to %d)", c.MaxRetries)
	case (c.AccessKeyID == "") != (c.SecretAccessKey == ""):
		return errors.New("s3 access key id and secret access key must be set together")
	}
	return nil
}

// notBuiltIn lists schemes that name a store this code base knows of but does not build.
var notBuiltIn = map[string]bool{"gs": true, "gcs": true, "az": true, "azblob": true}

// Open picks the implementation by URL scheme: file:///abs/dir (local directory, created if
// missing), s3://bucket/prefix (S3, with s3cfg; the URL's bucket and prefix fill s3cfg's and
// must agree with them if both are set). An unknown scheme fails with ErrUnknownScheme, a
// known one this binary lacks with ErrSchemeNotBuiltIn. A nil log discards.
func Open(ctx context.Context, rawURL string, s3cfg S3Config, log *slog.Logger) (Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("cannot parse object store url %q: %w", rawURL, err)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" || !strings.HasPrefix(u.Path, "/") {
			return nil, fmt.Errorf("cannot open object store %q: want file:///absolute/dir", rawURL)
		}
		return NewLocal(u.Path, log)
	case "s3":
		bucket, prefix := u.Host, strings.TrimPrefix(u.Path, "/")
		if bucket == "" {
			return nil, fmt.Errorf("cannot open object store %q: want s3://bucket[/prefix]", rawURL)
		}
		if s3cfg.Bucket != "" && s3cfg.Bucket != bucket {
			return nil, fmt.Errorf("cannot open object store %q: url bucket %q differs from configured bucket %q", rawURL, bucket, s3cfg.Bucket)
		}
		if prefix != "" && s3cfg.Prefix != "" && strings.TrimSuffix(s3cfg.Prefix, "/") != strings.TrimSuffix(prefix, "/") {
			return nil, fmt.Errorf("cannot open object store %q: url prefix %q differs from configured prefix %q", rawURL, prefix, s3cfg.Prefix)
		}
		s3cfg.Bucket = bucket
		if prefix != "" {
			s3cfg.Prefix = prefix
		}
		return openS3(ctx, s3cfg.withDefaults(), log)
	case "":
		return nil, fmt.Errorf("cannot open object store %q (want file:///dir or s3://bucket/prefix): %w", rawURL, ErrUnknownScheme)
	}
	if notBuiltIn[u.Scheme] {
		return nil, fmt.Errorf("cannot open object store %q: %w", rawURL, ErrSchemeNotBuiltIn)
	}
	return nil, fmt.Errorf("cannot open object store %q: scheme %q: %w", rawURL, u.Scheme, ErrUnknownScheme)
}

// CheckKey reports whether key can name an object in every Store: non-empty, at most
// MaxKeyLen bytes of UTF-8 without NUL or backslash, relative, and made of non-empty "/"
// separated parts none of which is "." or "..". One rule for all stores keeps keys portable.
func CheckKey(key string) error {
	if key == "" || len(key) > MaxKeyLen || !utf8.ValidString(key) ||
		strings.ContainsAny(key, "\x00\\") || key[0] == '/' {
		return fmt.Errorf("%w %q", ErrInvalidKey, key)
	}
	for part := range strings.SplitSeq(key, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("%w %q", ErrInvalidKey, key)
		}
	}
	return nil
}

// partsLen returns the total length of parts.
func partsLen(parts [][]byte) int64 {
	var n int64
	for _, p := range parts {
		n += int64(len(p))
	}
	return n
}

// checkPut validates Put's arguments, common to all stores.
func checkPut(key string, parts [][]byte, size int64) error {
	if err := CheckKey(key); err != nil {
		return fmt.Errorf("cannot put object: %w", err)
	}
	if n := partsLen(parts); n != size {
		return fmt.Errorf("cannot put object %s: parts hold %d bytes but size is %d", key, n, size)
	}
	return nil
}

// checkRange validates GetRange's arguments, common to all stores.
func checkRange(key string, off, n int64) error {
	if err := CheckKey(key); err != nil {
		return fmt.Errorf("cannot get object range: %w", err)
	}
	if off < 0 || n < 0 {
		return fmt.Errorf("cannot get object %s range: negative offset %d or length %d", key, off, n)
	}
	return nil
}

// checkSuffix validates GetSuffix's arguments, common to all stores.
func checkSuffix(key string, n int64) error {
	if err := CheckKey(key); err != nil {
		return fmt.Errorf("cannot get object suffix: %w", err)
	}
	if n <= 0 {
		return fmt.Errorf("cannot get object %s suffix: length %d must be positive", key, n)
	}
	return nil
}
