//go:build kafscale_nos3

package objstore

import (
	"context"
	"fmt"
	"log/slog"
)

// openS3 reports that this binary was built with the kafscale_nos3 tag.
func openS3(context.Context, S3Config, *slog.Logger) (Store, error) {
	return nil, fmt.Errorf("cannot open s3 object store: %w", ErrSchemeNotBuiltIn)
}
