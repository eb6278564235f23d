// Package deps pins modules the project builds on but does not import yet (kfake is the
// side-by-side reference broker of the bench suite, the s3 manager and ristretto are used by
// objstore and segment), so `go mod tidy` keeps them at the versions TESTING.md names. Remove an
// import here once real code imports the module.
package deps

import (
	_ "github.com/twmb/franz-go/pkg/kfake"
)
