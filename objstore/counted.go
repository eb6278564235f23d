package objstore

import (
	"context"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Requests and bytes of every store the broker runs on, counted by Counted. A GET counts
// GetRange and GetSuffix alike (both are one ranged GET on S3); a DeleteMany is one delete
// request whatever its number of keys (one DeleteObjects on S3), and
// kafscale_object_delete_keys_total counts the keys every delete request named; a request counts once
// whatever its outcome, as S3 bills it, and bytes count what was sent or received. Outcomes
// and durations are in outcome.go.
var (
	objPuts       = metrics.NewCounter(`kafscale_object_requests_total{op="put"}`)
	objGets       = metrics.NewCounter(`kafscale_object_requests_total{op="get"}`)
	objLists      = metrics.NewCounter(`kafscale_object_requests_total{op="list"}`)
	objDeletes    = metrics.NewCounter(`kafscale_object_requests_total{op="delete"}`)
	objPutBytes   = metrics.NewCounter(`kafscale_object_bytes_total{op="put"}`)
	objGetBytes   = metrics.NewCounter(`kafscale_object_bytes_total{op="get"}`)
	objListedKeys = metrics.NewCounter(`kafscale_object_listed_keys_total`)
	objDeleteKeys = metrics.NewCounter(`kafscale_object_delete_keys_total`)
)

// countedStore counts the requests it passes to st.
type countedStore struct {
	st Store
}

// Counted returns a Store that counts each request to st, and the bytes it moves, in the
// kafscale_object_* metrics: the object-store cost of a broker whatever the store (S3,
// MinIO, local, simulated). A List counts as one request although S3 pages it every 1,000
// keys; kafscale_object_listed_keys_total gives the keys listed, to derive pages from.
func Counted(st Store) Store {
	return &countedStore{st: st}
}

func (c *countedStore) Put(ctx context.Context, key string, parts [][]byte, size int64) error {
	objPuts.Inc()
	objPutBytes.Add(int(size))
	start := time.Now()
	err := c.st.Put(ctx, key, parts, size)
	observe(opPut, start, err)
	return err
}

func (c *countedStore) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	objGets.Inc()
	start := time.Now()
	b, err := c.st.GetRange(ctx, key, off, n)
	observe(opGet, start, err)
	objGetBytes.Add(len(b))
	return b, err
}

func (c *countedStore) GetSuffix(ctx context.Context, key string, n int64) ([]byte, int64, error) {
	objGets.Inc()
	start := time.Now()
	b, size, err := c.st.GetSuffix(ctx, key, n)
	observe(opGet, start, err)
	objGetBytes.Add(len(b))
	return b, size, err
}

func (c *countedStore) Delete(ctx context.Context, key string) error {
	objDeletes.Inc()
	objDeleteKeys.Inc()
	start := time.Now()
	err := c.st.Delete(ctx, key)
	observe(opDelete, start, err)
	return err
}

func (c *countedStore) DeleteMany(ctx context.Context, keys []string) error {
	objDeletes.Inc()
	objDeleteKeys.Add(len(keys))
	start := time.Now()
	err := c.st.DeleteMany(ctx, keys)
	observe(opDelete, start, err)
	return err
}

func (c *countedStore) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	objLists.Inc()
	start := time.Now()
	infos, err := c.st.List(ctx, prefix)
	observe(opList, start, err)
	objListedKeys.Add(len(infos))
	return infos, err
}

// Location names the wrapped store's location.
func (c *countedStore) Location() string { return Location(c.st) }
