//go:build !kafscale_nos3

package objstore

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeS3 is a minimal path-style S3 server for unit tests of the S3 client code: PUT with
// If-None-Match, ranged and suffix GET, HEAD, DELETE, ListObjectsV2 with small pages, and
// multipart uploads. Real S3 semantics are checked against MinIO in integration tests.
type fakeS3 struct {
	bucket   string
	pageSize int

	mu      sync.Mutex // guards the fields below
	objects map[string]fakeObject
	uploads map[string]map[int][]byte // upload id -> part number -> data
	nextID  int
	reqs    map[string]int // "METHOD kind" -> count
}

type fakeObject struct {
	data     []byte
	modified time.Time
}

func newFakeS3(t *testing.T, bucket string) (*fakeS3, string) {
	f := &fakeS3{bucket: bucket, pageSize: 3, objects: map[string]fakeObject{},
		uploads: map[string]map[int][]byte{}, reqs: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *fakeS3) count(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs[kind]
}

func s3Error(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<Error><Code>%s</Code><Message>%s</Message></Error>", code, code)
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if bucket != f.bucket {
		s3Error(w, http.StatusNotFound, "NoSuchBucket")
		return
	}
	q := r.URL.Query()
	kind := "object"
	switch {
	case q.Has("uploads"):
		kind = "create-multipart"
	case q.Has("partNumber"):
		kind = "part"
	case q.Has("uploadId"):
		kind = "complete-multipart"
	case q.Has("delete"):
		kind = "delete-many"
	case key == "":
		kind = "list"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs[r.Method+" "+kind]++
	switch {
	case r.Method == http.MethodPut && kind == "object":
		body, err := readBody(r)
		if err != nil {
			s3Error(w, http.StatusBadRequest, "IncompleteBody")
			return
		}
		if _, ok := f.objects[key]; ok && r.Header.Get("If-None-Match") == "*" {
			s3Error(w, http.StatusPreconditionFailed, "PreconditionFailed")
			return
		}
		f.objects[key] = fakeObject{data: body, modified: time.Now()}
		w.Header().Set("ETag", `"etag"`)
	case r.Method == http.MethodPost && kind == "create-multipart":
		f.nextID++
		id := strconv.Itoa(f.nextID)
		f.uploads[id] = map[int][]byte{}
		fmt.Fprintf(w, "<InitiateMultipartUploadResult><Bucket>%s</Bucket><Key>%s</Key><UploadId>%s</UploadId></InitiateMultipartUploadResult>", bucket, key, id)
	case r.Method == http.MethodPut && kind == "part":
		parts, ok := f.uploads[q.Get("uploadId")]
		n, err := strconv.Atoi(q.Get("partNumber"))
		body, berr := readBody(r)
		if !ok || err != nil || berr != nil {
			s3Error(w, http.StatusNotFound, "NoSuchUpload")
			return
		}
		parts[n] = body
		w.Header().Set("ETag", fmt.Sprintf(`"part%d"`, n))
	case r.Method == http.MethodPost && kind == "complete-multipart":
		parts, ok := f.uploads[q.Get("uploadId")]
		var req struct {
			Parts []struct{ PartNumber int } `xml:"Part"`
		}
		body, _ := io.ReadAll(r.Body)
		if !ok || xml.Unmarshal(body, &req) != nil {
			s3Error(w, http.StatusNotFound, "NoSuchUpload")
			return
		}
		if _, exists := f.objects[key]; exists && r.Header.Get("If-None-Match") == "*" {
			s3Error(w, http.StatusPreconditionFailed, "PreconditionFailed")
			return
		}
		var data []byte
		for _, p := range req.Parts {
			data = append(data, parts[p.PartNumber]...)
		}
		delete(f.uploads, q.Get("uploadId"))
		f.objects[key] = fakeObject{data: data, modified: time.Now()}
		fmt.Fprintf(w, "<CompleteMultipartUploadResult><Bucket>%s</Bucket><Key>%s</Key><ETag>\"etag\"</ETag></CompleteMultipartUploadResult>", bucket, key)
	case r.Method == http.MethodDelete && kind == "complete-multipart":
		delete(f.uploads, q.Get("uploadId"))
		w.WriteHeader(http.StatusNoContent)
	case (r.Method == http.MethodGet || r.Method == http.MethodHead) && kind == "object":
		obj, ok := f.objects[key]
		if !ok {
			if r.Method == http.MethodHead {
				w.WriteHeader(http.StatusNotFound)
			} else {
				s3Error(w, http.StatusNotFound, "NoSuchKey")
			}
			return
		}
		f.serveObject(w, r, obj)
	case r.Method == http.MethodDelete && kind == "object":
		delete(f.objects, key)
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost && kind == "delete-many":
		var req struct {
			Objects []struct{ Key string } `xml:"Object"`
		}
		body, _ := io.ReadAll(r.Body)
		if xml.Unmarshal(body, &req) != nil {
			s3Error(w, http.StatusBadRequest, "MalformedXML")
			return
		}
		for _, o := range req.Objects {
			delete(f.objects, o.Key)
		}
		fmt.Fprint(w, "<DeleteResult></DeleteResult>") // quiet: errors only
	case r.Method == http.MethodGet && kind == "list":
		f.serveList(w, q.Get("prefix"), q.Get("continuation-token"))
	default:
		s3Error(w, http.StatusNotImplemented, "NotImplemented")
	}
}

// serveObject answers GET/HEAD with S3's range rules: a satisfiable range gets 206 with
// Content-Range (clipped to the object), an unsatisfiable one 416.
func (f *fakeS3) serveObject(w http.ResponseWriter, r *http.Request, obj fakeObject) {
	size := int64(len(obj.data))
	rng := r.Header.Get("Range")
	if rng == "" || r.Method == http.MethodHead {
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			w.Write(obj.data)
		}
		return
	}
	spec, _ := strings.CutPrefix(rng, "bytes=")
	a, b, _ := strings.Cut(spec, "-")
	var first, last int64
	if a == "" {
		n, _ := strconv.ParseInt(b, 10, 64)
		first, last = max(size-n, 0), size-1
	} else {
		first, _ = strconv.ParseInt(a, 10, 64)
		last, _ = strconv.ParseInt(b, 10, 64)
		last = min(last, size-1)
	}
	if size == 0 || first >= size {
		s3Error(w, http.StatusRequestedRangeNotSatisfiable, "InvalidRange")
		return
	}
	w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, size))
	w.Header().Set("Content-Length", strconv.FormatInt(last-first+1, 10))
	w.WriteHeader(http.StatusPartialContent)
	w.Write(obj.data[first : last+1])
}

func (f *fakeS3) serveList(w http.ResponseWriter, prefix, token string) {
	var keys []string
	for k := range f.objects {
		if strings.HasPrefix(k, prefix) && k > token {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	truncated := len(keys) > f.pageSize
	if truncated {
		keys = keys[:f.pageSize]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<ListBucketResult><Name>%s</Name><Prefix>%s</Prefix><KeyCount>%d</KeyCount><MaxKeys>%d</MaxKeys><IsTruncated>%t</IsTruncated>",
		f.bucket, prefix, len(keys), f.pageSize, truncated)
	if truncated {
		fmt.Fprintf(&b, "<NextContinuationToken>%s</NextContinuationToken>", keys[len(keys)-1])
	}
	for _, k := range keys {
		fmt.Fprintf(&b, "<Contents><Key>%s</Key><LastModified>%s</LastModified><ETag>\"e\"</ETag><Size>%d</Size><StorageClass>STANDARD</StorageClass></Contents>",
			k, f.objects[k].modified.UTC().Format("2006-01-02T15:04:05.000Z"), len(f.objects[k].data))
	}
	b.WriteString("</ListBucketResult>")
	w.Header().Set("Content-Type", "application/xml")
	io.WriteString(w, b.String())
}

// readBody reads a request body, decoding the aws-chunked framing the SDK uses when it
// streams a payload with trailing checksums.
func readBody(r *http.Request) ([]byte, error) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	if !strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") {
		return raw, nil
	}
	br := bufio.NewReader(bytes.NewReader(raw))
	var out []byte
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		sizeHex, _, _ := strings.Cut(strings.TrimSpace(line), ";")
		n, err := strconv.ParseInt(sizeHex, 16, 64)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return out, nil // trailers follow; the fake ignores them
		}
		chunk := make([]byte, n+2) // data and CRLF
		if _, err := io.ReadFull(br, chunk); err != nil {
			return nil, err
		}
		out = append(out, chunk[:n]...)
	}
}
