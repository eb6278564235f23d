package deploy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// maxImageBytes bounds the image's layers as stored (compressed): "a small static broker
// and operator image" (issue 17, acceptance 5). Both binaries stripped weigh about 70 MB.
const maxImageBytes = 80 << 20

// TestImageBuildsWithoutADaemon guards issue 17's acceptance 5 for the image:
// scripts/build-image.sh (make image) builds the Dockerfile's image with buildah, no
// daemon and no image pulled, and the image holds what the manifests in deploy/ expect:
// /kafscale and /kafscale-operator, static, runnable; the CA bundle; user 65532;
// entrypoint /kafscale.
func TestImageBuildsWithoutADaemon(t *testing.T) {
	buildah, err := exec.LookPath("buildah")
	if err != nil {
		t.Fatal("no buildah on PATH; run scripts/test-deps.sh to install it")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "storage.conf")
	// vfs needs no overlay mounts; graphroot and runroot stay under the test's directory.
	storage := fmt.Sprintf("[storage]\ndriver = \"vfs\"\nrunroot = %q\ngraphroot = %q\n",
		filepath.Join(dir, "run"), filepath.Join(dir, "root"))
	if err := os.WriteFile(conf, []byte(storage), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "CONTAINERS_STORAGE_CONF="+conf, "IMAGE_TOOL=buildah",
		"IMAGE_CONTEXT="+filepath.Join(dir, "context"))
	const image = "kafscale/kafscale:test"
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	run("bash", "../../scripts/build-image.sh", image)
	archive := filepath.Join(dir, "image.tar")
	run(buildah, "push", image, "oci-archive:"+archive)

	img := readOCIArchive(t, archive)
	if img.config.Config.User != "65532:65532" {
		t.Errorf("image user %q, want 65532:65532", img.config.Config.User)
	}
	if !slices.Equal(img.config.Config.Entrypoint, []string{"/kafscale"}) {
		t.Errorf("image entrypoint %q, want [/kafscale]", img.config.Config.Entrypoint)
	}
	if img.layerBytes > maxImageBytes {
		t.Errorf("the image's layers weigh %d bytes, more than %d", img.layerBytes, maxImageBytes)
	}
	t.Logf("image %s: %d layer(s), %.1f MiB stored; files %v", image, img.layers, float64(img.layerBytes)/(1<<20), slices.Sorted(maps.Keys(img.files)))
	for _, f := range []string{"kafscale", "kafscale-operator", "etc/ssl/certs/ca-certificates.crt"} {
		if _, ok := img.files[f]; !ok {
			t.Errorf("the image has no /%s", f)
		}
	}
	// The binaries run on an empty base only if static; and they must be the programs.
	for name, args := range map[string][]string{"kafscale": {"version"}, "kafscale-operator": {"--help"}} {
		data, ok := img.files[name]
		if !ok {
			continue
		}
		if err := checkStatic(data); err != nil {
			t.Errorf("/%s: %v", name, err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(path, args...).CombinedOutput()
		if name == "kafscale" && err != nil {
			t.Errorf("/%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		if name == "kafscale-operator" && !bytes.Contains(out, []byte("-metrics-bind-address")) {
			t.Errorf("/%s --help does not describe the operator's flags: %v\n%s", name, err, out)
		}
	}
}

// ociImage is what the test reads of an OCI image archive.
type ociImage struct {
	config struct {
		Config struct {
			User       string   `json:"User"`
			Entrypoint []string `json:"Entrypoint"`
		} `json:"config"`
	}
	layers     int
	layerBytes int64
	files      map[string][]byte // regular files of every layer, by path without "/"
}

// readOCIArchive reads an oci-archive (a tar of an OCI image layout) holding one image.
func readOCIArchive(t *testing.T, path string) *ociImage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	blobs := map[string][]byte{}
	var index []byte
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(h.Name, "./")
		switch {
		case name == "index.json":
			index = data
		case strings.HasPrefix(name, "blobs/sha256/"):
			blobs["sha256:"+strings.TrimPrefix(name, "blobs/sha256/")] = data
		}
	}
	type descriptor struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int64  `json:"size"`
	}
	var idx struct {
		Manifests []descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(index, &idx); err != nil || len(idx.Manifests) != 1 {
		t.Fatalf("index.json of %s: %v, %d manifests", path, err, len(idx.Manifests))
	}
	var manifest struct {
		Config descriptor   `json:"config"`
		Layers []descriptor `json:"layers"`
	}
	if err := json.Unmarshal(blobs[idx.Manifests[0].Digest], &manifest); err != nil {
		t.Fatalf("the image manifest: %v", err)
	}
	img := &ociImage{files: map[string][]byte{}, layers: len(manifest.Layers)}
	if err := json.Unmarshal(blobs[manifest.Config.Digest], &img.config); err != nil {
		t.Fatalf("the image config: %v", err)
	}
	for _, l := range manifest.Layers {
		data, ok := blobs[l.Digest]
		if !ok {
			t.Fatalf("layer %s is not in the archive", l.Digest)
		}
		img.layerBytes += int64(len(data))
		var r io.Reader = bytes.NewReader(data)
		if strings.HasSuffix(l.MediaType, "+gzip") {
			zr, err := gzip.NewReader(r)
			if err != nil {
				t.Fatalf("layer %s: %v", l.Digest, err)
			}
			r = zr
		}
		lr := tar.NewReader(r)
		for {
			h, err := lr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("layer %s: %v", l.Digest, err)
			}
			if h.Typeflag != tar.TypeReg {
				continue
			}
			data, err := io.ReadAll(lr)
			if err != nil {
				t.Fatal(err)
			}
			img.files[strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/")] = data
		}
	}
	return img
}

// checkStatic reports an error unless data is an ELF executable that needs no dynamic
// loader and no shared library.
func checkStatic(data []byte) error {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not an ELF executable: %w", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("dynamically linked (it names a program interpreter)")
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		return fmt.Errorf("needs shared libraries %v", libs)
	}
	return nil
}
