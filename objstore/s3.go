//go:build !kafscale_nos3

package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/kafscale/kafscale/internal/histbuckets"
)

var (
	// The seed's names, in milliseconds; Prometheus histograms, so that they are exported
	// at zero from the start (a VictoriaMetrics histogram is absent until observed).
	s3UploadDuration   = metrics.NewPrometheusHistogramExt("kafscale_s3_upload_duration_ms", histbuckets.Milliseconds)
	s3DownloadDuration = metrics.NewPrometheusHistogramExt("kafscale_s3_download_duration_ms", histbuckets.Milliseconds)
	s3PutErrors        = metrics.NewCounter(`kafscale_s3_errors_total{op="put"}`)
	s3GetErrors        = metrics.NewCounter(`kafscale_s3_errors_total{op="get"}`)
	s3ListErrors       = metrics.NewCounter(`kafscale_s3_errors_total{op="list"}`)
	s3DeleteErrors     = metrics.NewCounter(`kafscale_s3_errors_total{op="delete"}`)
	s3PutExists        = metrics.NewCounter(`kafscale_s3_put_exists_total`)
)

// S3 is a Store in an S3 bucket (AWS or compatible: MinIO, versitygw). Safe for concurrent use.
type S3 struct {
	cli *s3.Client
	//lint:ignore SA1019 feature/s3/transfermanager is not in go.mod; manager.Uploader is what the design names.
	uploader *manager.Uploader
	cfg      S3Config
	prefix   string // cfg.Prefix, ending in "/" unless empty
	log      *slog.Logger
}

func openS3(ctx context.Context, cfg S3Config, log *slog.Logger) (Store, error) {
	return NewS3(ctx, cfg, log)
}

// NewS3 builds an S3 store. It sends no request, so an unreachable endpoint or a missing
// bucket shows on first use, not here. A nil log discards.
func NewS3(ctx context.Context, cfg S3Config, log *slog.Logger) (*S3, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cannot open s3 object store: %w", err)
	}
	opts := []func(*config.LoadOptions) error{
		// Each attempt gets RequestTimeout (body included) so one stuck connection costs
		// a retry, not the whole caller's deadline.
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(cfg.RequestTimeout)),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = cfg.MaxRetries + 1
				o.MaxBackoff = cfg.MaxBackoff
				// The client-side retry quota would turn an S3 brown-out into hard
				// failures; the flusher holds data and needs the retries.
				o.RateLimiter = ratelimit.None
			})
		}),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		creds := aws.Credentials{AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey, Source: "kafscale S3Config"}
		opts = append(opts, config.WithCredentialsProvider(aws.CredentialsProviderFunc(
			func(context.Context) (aws.Credentials, error) { return creds, nil })))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot load aws config for bucket %s: %w", cfg.Bucket, err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	cli := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		// Ranged GETs carry no full-object checksum; the SDK would log that on every read.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	//lint:ignore SA1019 feature/s3/transfermanager is not in go.mod; manager.Uploader is what the design names.
	up := manager.NewUploader(cli, func(u *manager.Uploader) {
		u.PartSize = cfg.PartSize
		u.Concurrency = cfg.UploadConcurrency
		u.LeavePartsOnError = false
	})
	prefix := cfg.Prefix
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &S3{cli: cli, uploader: up, cfg: cfg, prefix: prefix, log: log}, nil
}

// Put implements Store: one conditional PutObject below MultipartThreshold, a multipart
// upload whose completion carries the same If-None-Match above it.
func (s *S3) Put(ctx context.Context, key string, parts [][]byte, size int64) error {
	if err := checkPut(key, parts, size); err != nil {
		return err
	}
	start := time.Now()
	in := &s3.PutObjectInput{
		Bucket:        aws.String(s.cfg.Bucket),
		Key:           aws.String(s.prefix + key),
		Body:          newPartsReader(parts, size),
		ContentLength: aws.Int64(size),
		IfNoneMatch:   aws.String("*"),
	}
	var err error
	if size < s.cfg.MultipartThreshold {
		_, err = s.cli.PutObject(ctx, in)
	} else {
		// The uploader copies IfNoneMatch into CompleteMultipartUpload.
		//lint:ignore SA1019 see the uploader field.
		_, err = s.uploader.Upload(ctx, in)
	}
	if err != nil {
		if isPreconditionFailed(err) {
			s3PutExists.Inc()
			return fmt.Errorf("cannot put object %s: %w", key, ErrExists)
		}
		s3PutErrors.Inc()
		return fmt.Errorf("cannot put object %s of %d bytes to bucket %s: %w", key, size, s.cfg.Bucket, err)
	}
	s3UploadDuration.Update(msSince(start))
	return nil
}

// GetRange implements Store.
func (s *S3) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	if err := checkRange(key, off, n); err != nil {
		return nil, err
	}
	if n == 0 {
		return []byte{}, nil // HTTP ranges cannot be empty
	}
	start := time.Now()
	out, err := s.cli.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.cfg.Bucket),
		Key:    aws.String(s.prefix + key),
		Range:  aws.String("bytes=" + strconv.FormatInt(off, 10) + "-" + strconv.FormatInt(off+n-1, 10)),
	})
	if err != nil {
		return nil, s.getError(key, "range", err)
	}
	defer out.Body.Close()
	if cl := aws.ToInt64(out.ContentLength); cl != n {
		// S3 shortens a range that runs past the end instead of failing it.
		s3GetErrors.Inc()
		return nil, fmt.Errorf("cannot get object %s range [%d, %d): got %d bytes: %w", key, off, off+n, cl, ErrOutOfRange)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(out.Body, buf); err != nil {
		s3GetErrors.Inc()
		return nil, fmt.Errorf("cannot read object %s range [%d, %d): %w", key, off, off+n, err)
	}
	s3DownloadDuration.Update(msSince(start))
	return buf, nil
}

// GetSuffix implements Store.
func (s *S3) GetSuffix(ctx context.Context, key string, n int64) ([]byte, int64, error) {
	if err := checkSuffix(key, n); err != nil {
		return nil, 0, err
	}
	start := time.Now()
	out, err := s.cli.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.cfg.Bucket),
		Key:    aws.String(s.prefix + key),
		Range:  aws.String("bytes=-" + strconv.FormatInt(n, 10)),
	})
	if err != nil {
		if isInvalidRange(err) {
			// S3 answers a suffix range of an empty object with 416.
			return s.emptySuffix(ctx, key)
		}
		return nil, 0, s.getError(key, "suffix", err)
	}
	defer out.Body.Close()
	cl := aws.ToInt64(out.ContentLength)
	size := cl // a 200 (no Content-Range) carries the whole object
	if cr := aws.ToString(out.ContentRange); cl == 0 && strings.HasSuffix(cr, "/0") {
		// MinIO answers a suffix range of an empty object with 206 "bytes 0--1/0".
		return []byte{}, 0, nil
	} else if cr != "" {
		first, last, total, err := parseContentRange(cr)
		if err != nil || last-first+1 != cl {
			s3GetErrors.Inc()
			return nil, 0, fmt.Errorf("cannot get object %s suffix: bad Content-Range %q for %d bytes", key, cr, cl)
		}
		size = total
	}
	if cl > n || cl < 0 || cl > size {
		s3GetErrors.Inc()
		return nil, 0, fmt.Errorf("cannot get object %s suffix of %d bytes: server sent %d of %d", key, n, cl, size)
	}
	buf := make([]byte, cl)
	if _, err := io.ReadFull(out.Body, buf); err != nil {
		s3GetErrors.Inc()
		return nil, 0, fmt.Errorf("cannot read object %s suffix of %d bytes: %w", key, n, err)
	}
	s3DownloadDuration.Update(msSince(start))
	return buf, size, nil
}

// emptySuffix confirms with a HEAD that key is empty after a suffix GET got 416.
func (s *S3) emptySuffix(ctx context.Context, key string) ([]byte, int64, error) {
	out, err := s.cli.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(s.cfg.Bucket),
		Key:    aws.String(s.prefix + key),
	})
	if err != nil {
		return nil, 0, s.getError(key, "suffix", err)
	}
	if size := aws.ToInt64(out.ContentLength); size != 0 {
		s3GetErrors.Inc()
		return nil, 0, fmt.Errorf("cannot get object %s suffix: 416 for an object of %d bytes", key, size)
	}
	return []byte{}, 0, nil
}

// getError maps a GetObject/HeadObject error, counting it unless the object is simply absent.
func (s *S3) getError(key, what string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("cannot get object %s %s: %w", key, what, ErrNotFound)
	}
	if isInvalidRange(err) {
		return fmt.Errorf("cannot get object %s %s: %w", key, what, ErrOutOfRange)
	}
	s3GetErrors.Inc()
	return fmt.Errorf("cannot get object %s %s from bucket %s: %w", key, what, s.cfg.Bucket, err)
}

// Delete implements Store. S3's DeleteObject already succeeds for an absent key.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return fmt.Errorf("cannot delete object: %w", err)
	}
	_, err := s.cli.DeleteObject(ctx, &s3.DeleteObjectInput{
		Bucket: aws.String(s.cfg.Bucket),
		Key:    aws.String(s.prefix + key),
	})
	if err != nil && !isNotFound(err) {
		s3DeleteErrors.Inc()
		return fmt.Errorf("cannot delete object %s from bucket %s: %w", key, s.cfg.Bucket, err)
	}
	return nil
}

// DeleteMany implements Store with one DeleteObjects request in quiet mode, so the answer
// lists only the keys S3 could not delete. S3 bills it as one request (DELETEs are free,
// but they count against the prefix's request rate), where DeleteObject would cost one per key.
func (s *S3) DeleteMany(ctx context.Context, keys []string) error {
	if err := checkDeleteMany(keys); err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	ids := make([]types.ObjectIdentifier, len(keys))
	for i, k := range keys {
		ids[i] = types.ObjectIdentifier{Key: aws.String(s.prefix + k)}
	}
	out, err := s.cli.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: aws.String(s.cfg.Bucket),
		Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
	})
	if err != nil {
		s3DeleteErrors.Inc()
		return fmt.Errorf("cannot delete %d objects from bucket %s: %w", len(keys), s.cfg.Bucket, err)
	}
	failed := make(map[string]error)
	for _, e := range out.Errors {
		if aws.ToString(e.Code) == "NoSuchKey" {
			continue // absent is deleted, as for Delete
		}
		key := strings.TrimPrefix(aws.ToString(e.Key), s.prefix)
		failed[key] = fmt.Errorf("%s: %s", aws.ToString(e.Code), aws.ToString(e.Message))
	}
	if len(failed) == 0 {
		return nil
	}
	s3DeleteErrors.Inc()
	return fmt.Errorf("from bucket %s: %w", s.cfg.Bucket, &DeleteError{Failed: failed})
}

// List implements Store, following ListObjectsV2 continuation tokens. S3 returns keys in
// UTF-8 binary order, which is Go's string order.
func (s *S3) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 && CheckKey(prefix[:i]) != nil {
		// No valid key has this prefix, and servers may refuse it (MinIO: ".." parts are
		// XMinioInvalidResourceName).
		return nil, nil
	}
	var out []ObjectInfo
	p := s3.NewListObjectsV2Paginator(s.cli, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.cfg.Bucket),
		Prefix: aws.String(s.prefix + prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			s3ListErrors.Inc()
			return nil, fmt.Errorf("cannot list objects %q in bucket %s: %w", prefix, s.cfg.Bucket, err)
		}
		for _, o := range page.Contents {
			out = append(out, ObjectInfo{
				Key:      strings.TrimPrefix(aws.ToString(o.Key), s.prefix),
				Size:     aws.ToInt64(o.Size),
				Modified: aws.ToTime(o.LastModified),
			})
		}
	}
	return out, nil
}

// apiError is what smithy's API errors implement; matching on it avoids importing smithy-go.
type apiError interface {
	error
	ErrorCode() string
}

// errorCode returns the S3 error code and HTTP status of err, if it carries them.
func errorCode(err error) (code string, status int) {
	var ae apiError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return code, status
}

func isPreconditionFailed(err error) bool {
	code, status := errorCode(err)
	return code == "PreconditionFailed" || status == http.StatusPreconditionFailed
}

// isNotFound matches an absent key, not an absent bucket (NoSuchBucket is a real failure).
func isNotFound(err error) bool {
	code, status := errorCode(err)
	return code == "NoSuchKey" || code == "NotFound" || (code == "" && status == http.StatusNotFound)
}

func isInvalidRange(err error) bool {
	code, status := errorCode(err)
	return code == "InvalidRange" || status == http.StatusRequestedRangeNotSatisfiable
}

// parseContentRange parses "bytes first-last/total".
func parseContentRange(s string) (first, last, total int64, err error) {
	rest, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return 0, 0, 0, fmt.Errorf("cannot parse content range %q: want bytes unit", s)
	}
	rng, tot, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, 0, fmt.Errorf("cannot parse content range %q: no total", s)
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, 0, fmt.Errorf("cannot parse content range %q: no range", s)
	}
	if first, err = strconv.ParseInt(a, 10, 64); err != nil {
		return 0, 0, 0, fmt.Errorf("cannot parse content range %q: %w", s, err)
	}
	if last, err = strconv.ParseInt(b, 10, 64); err != nil {
		return 0, 0, 0, fmt.Errorf("cannot parse content range %q: %w", s, err)
	}
	if total, err = strconv.ParseInt(tot, 10, 64); err != nil {
		return 0, 0, 0, fmt.Errorf("cannot parse content range %q: %w", s, err)
	}
	if first < 0 || last < first || total <= last {
		return 0, 0, 0, fmt.Errorf("cannot parse content range %q: inconsistent", s)
	}
	return first, last, total, nil
}

// msSince is the time since t in milliseconds, the unit of the seed's duration histograms
// (UpdateDuration would record seconds).
func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }
