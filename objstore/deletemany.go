package objstore

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// MaxDeleteBatch is the most keys DeleteMany takes in one call: S3's DeleteObjects limit.
const MaxDeleteBatch = 1000

// DeleteError is DeleteMany's answer when the store answered for each key and some were
// not deleted: the keys missing from Failed were deleted.
type DeleteError struct {
	// Failed holds each key not deleted with the store's reason.
	Failed map[string]error
}

func (e *DeleteError) Error() string {
	keys := slices.Sorted(maps.Keys(e.Failed))
	var b strings.Builder
	fmt.Fprintf(&b, "cannot delete %d objects:", len(keys))
	for i, k := range keys {
		if i == 3 {
			fmt.Fprintf(&b, " and %d more", len(keys)-i)
			break
		}
		fmt.Fprintf(&b, " %s (%v)", k, e.Failed[k])
	}
	return b.String()
}

// NotDeleted returns the keys of a DeleteMany call that may still exist after it returned
// err: none if err is nil, the failed ones of a *DeleteError, all of them otherwise (the
// request as a whole failed, and may or may not have taken effect).
func NotDeleted(keys []string, err error) []string {
	if err == nil {
		return nil
	}
	var de *DeleteError
	if errors.As(err, &de) {
		return slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return de.Failed[k] == nil })
	}
	return keys
}

// checkDeleteMany validates DeleteMany's arguments, common to all stores.
func checkDeleteMany(keys []string) error {
	if len(keys) > MaxDeleteBatch {
		return fmt.Errorf("cannot delete %d objects in one request: at most %d", len(keys), MaxDeleteBatch)
	}
	for _, k := range keys {
		if err := CheckKey(k); err != nil {
			return fmt.Errorf("cannot delete objects: %w", err)
		}
	}
	return nil
}
