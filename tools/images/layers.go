package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The user the programs run as: distroless's nonroot, 65532, so that a
// Kubernetes runAsNonRoot check passes on the numeric ID alone.
const (
	nonrootUID = 65532
	nonrootGID = 65532
)

// entry is one file or directory of a layer.
type entry struct {
	Path     string // without the leading slash: etc/passwd
	Dir      bool
	Mode     int64 // permission bits, plus 0o1000 for sticky
	UID, GID int
	Data     []byte
}

// file and dir are entries owned by root.
func file(path string, mode int64, data []byte) entry {
	return entry{Path: path, Mode: mode, Data: data}
}

func dir(path string, mode int64) entry { return entry{Path: path, Dir: true, Mode: mode} }

// layer is a gzipped OCI layer of entries, in order. Every header carries
// mtime and nothing else that varies (no user or group names, no access
// times), so the same entries always give the same digest.
func layer(entries []entry, mtime time.Time) (v1.Layer, error) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, e := range entries {
		h := &tar.Header{
			Name:    e.Path,
			Mode:    e.Mode,
			Uid:     e.UID,
			Gid:     e.GID,
			ModTime: mtime,
			Format:  tar.FormatPAX,
		}
		if e.Dir {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.Data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	// Compressed once here rather than each time the layer is read; Go's
	// gzip writes no name or time in its header, so the bytes are stable.
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return newLayer(gz.Bytes())
}

// newLayer wraps gzipped tar bytes as an OCI layer.
func newLayer(compressed []byte) (v1.Layer, error) {
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(compressed)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// The base layer's account files: root, nobody and nonroot, none with a
// shell (there is none).
const (
	passwd = `root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
`
	group = `root:x:0:
nobody:x:65534:
nonroot:x:65532:
`
	// Go's resolver reads this: /etc/hosts (Kubernetes' hostAliases) before DNS.
	nsswitch = "hosts: files dns\n"
)

// baseLayer is what every image holds under its program, made here rather
// than pulled: /etc/passwd and /etc/group naming nonroot (65532), an empty
// /tmp anyone may write to, nonroot's home, and the CA certificates of this
// machine at the path Go looks first, so TLS to Kafka, PostgreSQL and the
// OIDC provider verifies without SSL_CERT_FILE.
func baseLayer(caBundle string, mtime time.Time) (v1.Layer, error) {
	certs, err := os.ReadFile(caBundle)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no CA certificates at %s: install Debian's ca-certificates package (apt-get install ca-certificates) or pass -ca-bundle", caBundle)
	}
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(certs, []byte("-----BEGIN CERTIFICATE-----")) {
		return nil, fmt.Errorf("%s holds no PEM certificate: reinstall Debian's ca-certificates package (apt-get install --reinstall ca-certificates)", caBundle)
	}
	return layer([]entry{
		dir("etc", 0o755),
		file("etc/group", 0o644, []byte(group)),
		file("etc/nsswitch.conf", 0o644, []byte(nsswitch)),
		file("etc/passwd", 0o644, []byte(passwd)),
		dir("etc/ssl", 0o755),
		dir("etc/ssl/certs", 0o755),
		file("etc/ssl/certs/ca-certificates.crt", 0o644, certs),
		dir("home", 0o755),
		{Path: "home/nonroot", Dir: true, Mode: 0o700, UID: nonrootUID, GID: nonrootGID},
		dir("root", 0o700),
		// Sticky and world-writable, like any /tmp: 65532 can write to it.
		dir("tmp", 0o1777),
	}, mtime)
}

// programLayer holds the program's binary at /usr/local/bin/<binary> and its
// SBOM at /usr/share/doc/<binary>/sbom.spdx.json.
func programLayer(binary string, exe, sbom []byte, mtime time.Time) (v1.Layer, error) {
	return layer([]entry{
		dir("usr", 0o755),
		dir("usr/local", 0o755),
		dir("usr/local/bin", 0o755),
		file("usr/local/bin/"+binary, 0o755, exe),
		dir("usr/share", 0o755),
		dir("usr/share/doc", 0o755),
		dir("usr/share/doc/"+binary, 0o755),
		file(sbomPath(binary), 0o644, sbom),
	}, mtime)
}

// sbomPath is where an image keeps its SBOM, without the leading slash.
func sbomPath(binary string) string {
	return "usr/share/doc/" + binary + "/sbom.spdx.json"
}
