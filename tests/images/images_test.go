// Package images proves `make images`: tools/images turns every program
// under services/*/cmd into an OCI image layout, without Docker, that the
// Helm chart can pull by its default name, runs as nonroot, carries its
// SBOM and is the same, digest for digest, when built twice.
package images

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	// registry is charts/rapport's image.registry.
	registry = "ghcr.io/rapportcrm"
	// nonroot is the user and group every image runs as.
	nonroot = "65532"
	// caBundle is this machine's CA certificates, which the base layer copies.
	caBundle = "/etc/ssl/certs/ca-certificates.crt"
)

// labels every image's config must carry.
var labels = []string{
	"org.opencontainers.image.title",
	"org.opencontainers.image.description",
	"org.opencontainers.image.version",
	"org.opencontainers.image.revision",
	"org.opencontainers.image.source",
	"org.opencontainers.image.licenses",
	"org.opencontainers.image.created",
}

// One build of every image serves every check; only the reproducibility
// check builds one program again.
func TestImages(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	programs := findPrograms(t, root)
	appVersion := chartAppVersion(t, root)

	out := t.TempDir()
	start := time.Now()
	buildImages(t, root, out)
	t.Logf("built %d images in %s", len(programs), time.Since(start).Round(time.Second))

	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var layouts []string
	for _, e := range entries {
		if e.IsDir() {
			layouts = append(layouts, e.Name())
		}
	}
	if !slices.Equal(layouts, programs) {
		t.Fatalf("layouts %v; want one per program %v", layouts, programs)
	}

	bases := map[v1.Hash][]string{} // base layer digest: programs
	for _, name := range programs {
		t.Run(name, func(t *testing.T) {
			h := checkImage(t, out, name, registry+"/rapport-"+name+":"+appVersion)
			bases[h] = append(bases[h], name)
		})
	}
	t.Run("the base layer is shared", func(t *testing.T) {
		if len(bases) != 1 {
			t.Errorf("base layers %v; want one, the same files making the same layer", bases)
		}
	})

	// The second build is told what git said to the first (version,
	// revision, commit time), as a build from a source archive would be:
	// a commit landing in between must not fail the check.
	t.Run("reproducible", func(t *testing.T) {
		name := "contacts"
		first := filepath.Join(out, name)
		l := imageLabels(t, first)
		created, err := time.Parse(time.RFC3339, l["org.opencontainers.image.created"])
		if err != nil {
			t.Fatal(err)
		}
		again := t.TempDir()
		t.Setenv("SOURCE_DATE_EPOCH", strconv.FormatInt(created.Unix(), 10))
		buildImages(t, root, again, "-programs", name,
			"-version", l["org.opencontainers.image.version"], "-revision", l["org.opencontainers.image.revision"])
		if a, b := manifestDigest(t, first), manifestDigest(t, filepath.Join(again, name)); a != b {
			t.Errorf("two builds of %s from one commit: manifests %s and %s", name, a, b)
		}
	})
}

// checkImage checks the layout out/<name> against everything an image
// promises and returns the digest of its base layer.
func checkImage(t *testing.T, out, name, ref string) v1.Hash {
	binary := "rapport-" + name
	lp, desc := onlyImage(t, filepath.Join(out, name))
	if got := desc.Annotations["org.opencontainers.image.ref.name"]; got != ref {
		t.Errorf("index.json's ref.name is %q; want the chart's default image %q", got, ref)
	}
	if p := desc.Platform; p == nil || p.OS != "linux" || p.Architecture != "amd64" {
		t.Errorf("index.json's platform is %v; want linux/amd64", p)
	}
	if desc.MediaType != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s; want %s", desc.MediaType, types.OCIManifestSchema1)
	}
	img, err := lp.Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}

	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OS != "linux" || cfg.Architecture != "amd64" {
		t.Errorf("config platform %s/%s; want linux/amd64", cfg.OS, cfg.Architecture)
	}
	c := cfg.Config
	if c.User != nonroot+":"+nonroot {
		t.Errorf("config user %q; want %s:%s (nonroot)", c.User, nonroot, nonroot)
	}
	if want := []string{"/usr/local/bin/" + binary}; !slices.Equal(c.Entrypoint, want) {
		t.Errorf("entrypoint %q; want %q", c.Entrypoint, want)
	}
	if c.WorkingDir != "/" {
		t.Errorf("working directory %q; want /", c.WorkingDir)
	}
	for _, e := range c.Env {
		if !strings.HasPrefix(e, "SSL_CERT_FILE=") {
			t.Errorf("config sets %s; want no environment but SSL_CERT_FILE", e)
		}
	}
	for _, l := range labels {
		if c.Labels[l] == "" {
			t.Errorf("no label %s", l)
		}
	}
	if got := c.Labels["org.opencontainers.image.title"]; got != binary {
		t.Errorf("title %q; want %q", got, binary)
	}
	created, err := time.Parse(time.RFC3339, c.Labels["org.opencontainers.image.created"])
	if err != nil || !created.Equal(cfg.Created.Time) {
		t.Errorf("created label %q (%v); want the config's time %s", c.Labels["org.opencontainers.image.created"], err, cfg.Created.Time)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.MediaType != types.OCIConfigJSON || len(m.Layers) != 2 {
		t.Fatalf("manifest: config %s, %d layers; want an OCI config and two layers (base, program)", m.Config.MediaType, len(m.Layers))
	}

	files := extract(t, img, created)
	for _, dir := range []string{"etc", "tmp", "usr/local/bin"} {
		if files[dir] == nil {
			t.Errorf("no /%s", dir)
		}
	}
	if !regexp.MustCompile(`(?m)^nonroot:x:65532:65532:`).Match(files["etc/passwd"].data) {
		t.Errorf("/etc/passwd does not name nonroot with uid and gid 65532:\n%s", files["etc/passwd"].data)
	}
	if !regexp.MustCompile(`(?m)^nonroot:x:65532:`).Match(files["etc/group"].data) {
		t.Errorf("/etc/group does not name group nonroot 65532:\n%s", files["etc/group"].data)
	}
	if tmp := files["tmp"]; tmp != nil && (tmp.hdr.Typeflag != tar.TypeDir || tmp.hdr.Mode&0o002 == 0 && tmp.hdr.Uid != 65532) {
		t.Errorf("/tmp: type %c mode %o owner %d; want a directory 65532 can write to", tmp.hdr.Typeflag, tmp.hdr.Mode, tmp.hdr.Uid)
	}
	for p := range files {
		if strings.HasPrefix(p, "tmp/") {
			t.Errorf("/tmp holds %s; want it empty", p)
		}
	}
	if want, err := os.ReadFile(caBundle); err != nil {
		t.Errorf("%s: %v (Debian's ca-certificates package)", caBundle, err)
	} else if ca := files["etc/ssl/certs/ca-certificates.crt"]; ca == nil || !bytes.Equal(ca.data, want) {
		t.Errorf("/etc/ssl/certs/ca-certificates.crt is not this machine's CA bundle")
	}

	exe := files["usr/local/bin/"+binary]
	if exe == nil {
		t.Fatalf("no /usr/local/bin/%s", binary)
	}
	if exe.hdr.Mode&0o111 == 0 {
		t.Errorf("/usr/local/bin/%s has mode %o; want executable", binary, exe.hdr.Mode)
	}
	if v := c.Labels["org.opencontainers.image.version"]; !bytes.Contains(exe.data, []byte(v)) {
		t.Errorf("the binary does not hold its version %q: was it linked with -X ...telemetry.version?", v)
	}
	path := filepath.Join(t.TempDir(), binary)
	if err := os.WriteFile(path, exe.data, 0o755); err != nil {
		t.Fatal(err)
	}
	checkStatic(t, path)
	checkSBOM(t, files, out, name, path)
	checkProbe(t, path)

	return m.Layers[0].Digest
}

// file is one entry of an image's flattened filesystem.
type file struct {
	hdr  *tar.Header
	data []byte
}

// extract reads img's flattened filesystem, keyed by path without the
// leading slash, and checks every entry carries mtime: the commit's time,
// so that a rebuild writes the same layers.
func extract(t *testing.T, img v1.Image, mtime time.Time) map[string]*file {
	rc := mutate.Extract(img)
	defer rc.Close()
	files := map[string]*file{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		p := strings.Trim(strings.TrimPrefix(hdr.Name, "./"), "/")
		files[p] = &file{hdr: hdr, data: data}
		if !hdr.ModTime.Equal(mtime) {
			t.Errorf("/%s is dated %s; want the image's creation time %s", p, hdr.ModTime, mtime)
		}
	}
	return files
}

// checkStatic fails unless path is a static linux/amd64 executable: the
// image has no libc for it to load.
func checkStatic(t *testing.T, path string) {
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		t.Errorf("binary for %s; want x86-64", f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary asks for a dynamic loader; want it static (CGO_ENABLED=0)")
		}
	}
}

// spdx is the part of an SPDX 2.3 document the test reads.
type spdx struct {
	SPDXVersion string `json:"spdxVersion"`
	DataLicense string `json:"dataLicense"`
	SPDXID      string `json:"SPDXID"`
	Namespace   string `json:"documentNamespace"`
	Packages    []struct {
		Name         string `json:"name"`
		Version      string `json:"versionInfo"`
		ExternalRefs []struct {
			Type    string `json:"referenceType"`
			Locator string `json:"referenceLocator"`
		} `json:"externalRefs"`
	} `json:"packages"`
	Relationships []relationship `json:"relationships"`
}

type relationship struct {
	Type string `json:"relationshipType"`
}

// checkSBOM checks the image's SBOM is SPDX JSON, is the one written next
// to the layout, and names every module the binary at exe was built from
// (its embedded build info) with its purl.
func checkSBOM(t *testing.T, files map[string]*file, out, name, exe string) {
	binary := "rapport-" + name
	in := files["usr/share/doc/"+binary+"/sbom.spdx.json"]
	if in == nil {
		t.Errorf("no /usr/share/doc/%s/sbom.spdx.json", binary)
		return
	}
	beside, err := os.ReadFile(filepath.Join(out, name+".spdx.json"))
	if err != nil {
		t.Error(err)
	} else if !bytes.Equal(in.data, beside) {
		t.Errorf("the SBOM in the image differs from %s.spdx.json beside the layout", name)
	}
	var doc spdx
	if err := json.Unmarshal(in.data, &doc); err != nil {
		t.Fatalf("SBOM: %v", err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.DataLicense != "CC0-1.0" || doc.SPDXID != "SPDXRef-DOCUMENT" || doc.Namespace == "" {
		t.Errorf("SBOM: version %q, data license %q, id %q, namespace %q; want an SPDX-2.3 document",
			doc.SPDXVersion, doc.DataLicense, doc.SPDXID, doc.Namespace)
	}
	if !slices.ContainsFunc(doc.Relationships, func(r relationship) bool { return r.Type == "DESCRIBES" }) {
		t.Error("SBOM: no DESCRIBES relationship")
	}
	purls := map[string]string{} // module path: purl
	for _, p := range doc.Packages {
		for _, r := range p.ExternalRefs {
			if r.Type == "purl" {
				purls[p.Name] = r.Locator
			}
		}
	}

	info, err := buildinfo.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	for _, mod := range linkedModules(info) {
		got, ok := purls[mod.Path]
		switch {
		case !ok:
			t.Errorf("SBOM does not name %s, which is in the binary", mod.Path)
		case mod.Version == "(devel)" || mod.Version == "":
			if !strings.HasPrefix(got, "pkg:golang/"+mod.Path+"@") {
				t.Errorf("SBOM: %s has purl %q", mod.Path, got)
			}
		case got != "pkg:golang/"+mod.Path+"@"+strings.ReplaceAll(mod.Version, "+", "%2B"):
			t.Errorf("SBOM: %s has purl %q; want version %s", mod.Path, got, mod.Version)
		}
	}
	if name == "contacts" && !strings.HasPrefix(purls["github.com/jackc/pgx/v5"], "pkg:golang/github.com/jackc/pgx/v5@v5.") {
		t.Errorf("contacts' SBOM does not name github.com/jackc/pgx/v5: %q", purls["github.com/jackc/pgx/v5"])
	}
}

// module is a module linked into a binary.
type module struct{ Path, Version string }

// linkedModules is the main module and every dependency of info, each
// replacement applied: the code that was linked. A module of the source
// tree has version "(devel)".
func linkedModules(info *buildinfo.BuildInfo) []module {
	mods := []module{{info.Main.Path, info.Main.Version}}
	for _, d := range info.Deps {
		switch {
		case d.Replace != nil && d.Replace.Version != "":
			mods = append(mods, module{d.Replace.Path, d.Replace.Version})
		case d.Replace != nil:
			mods = append(mods, module{d.Path, "(devel)"})
		default:
			mods = append(mods, module{d.Path, d.Version})
		}
	}
	return mods
}

// checkProbe runs the binary as the chart's helm test does: probe of an
// address nobody answers must fail with status 1 and say so.
func checkProbe(t *testing.T, exe string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, exe, "probe", "http://127.0.0.1:1/readyz").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("%s probe http://127.0.0.1:1/readyz: %v; want exit status 1\n%s", filepath.Base(exe), err, out)
	}
	if !strings.Contains(string(out), "probe") {
		t.Errorf("probe printed %q; want a line about the probe", out)
	}
}

// buildImages runs tools/images into out, outside the workspace as
// `make images` does.
func buildImages(t *testing.T, root, out string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append([]string{"run", ".", "-out", out}, args...)...)
	cmd.Dir = filepath.Join(root, "tools", "images")
	cmd.Env = append(os.Environ(), "GOWORK=off")
	outErr, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tools/images: %v\n%s", err, outErr)
	}
	t.Logf("tools/images %s:\n%s", strings.Join(args, " "), outErr)
}

// imageLabels is the config labels of the one image in the layout at dir.
func imageLabels(t *testing.T, dir string) map[string]string {
	lp, desc := onlyImage(t, dir)
	img, err := lp.Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Config.Labels
}

// manifestDigest is the digest of the one image in the layout at dir.
func manifestDigest(t *testing.T, dir string) v1.Hash {
	_, desc := onlyImage(t, dir)
	return desc.Digest
}

// onlyImage opens the layout at dir and the descriptor of the one image
// its index.json lists.
func onlyImage(t *testing.T, dir string) (layout.Path, v1.Descriptor) {
	t.Helper()
	lp, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	index, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("%s/index.json lists %d manifests; want the one image", dir, len(im.Manifests))
	}
	return lp, im.Manifests[0]
}

// findPrograms names every program: services/*/cmd/<name>/main.go.
func findPrograms(t *testing.T, root string) []string {
	mains, err := filepath.Glob(filepath.Join(root, "services", "*", "cmd", "*", "main.go"))
	if err != nil || len(mains) < 5 {
		t.Fatalf("programs %v (%v); want every service's", mains, err)
	}
	var names []string
	for _, m := range mains {
		names = append(names, filepath.Base(filepath.Dir(m)))
	}
	slices.Sort(names)
	return names
}

// chartAppVersion is charts/rapport's appVersion, the images' default tag.
func chartAppVersion(t *testing.T, root string) string {
	b, err := os.ReadFile(filepath.Join(root, "charts", "rapport", "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^appVersion:\s*"?([^"\s]+)"?\s*$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("charts/rapport/Chart.yaml has no appVersion")
	}
	return string(m[1])
}
