// Command images builds an OCI image for every Rapport program without
// Docker or any container runtime: each services/<service>/cmd/<program>
// becomes an OCI image layout under <out>/<program>, named as the Helm
// chart expects (<registry>/rapport-<program>:<tag>), with an SPDX SBOM
// inside and next to it (<out>/<program>.spdx.json).
//
// Nothing is pulled: the base layer (users, groups, /tmp and the CA bundle
// of this machine) is made here, and the program's layer holds its static
// binary and SBOM. Two builds of one commit give the same digests: every
// timestamp is the commit's time (or SOURCE_DATE_EPOCH) and every file is
// written the same way each time.
//
//	cd tools/images && GOWORK=off go run . -out ../../build/images
//
// The module is kept out of go.work (like tools/envtest) so that
// go-containerregistry does not join the services' dependency graph.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// options are the command line.
type options struct {
	root     string // the repository; found from the working directory by default
	out      string // where the layouts go
	tag      string // overrides the chart's appVersion
	registry string // overrides the chart's image.registry
	version  string // overrides git describe
	revision string // overrides git rev-parse HEAD
	licenses string // the SPDX license expression of the images' label
	programs string // comma-separated subset of the programs; all by default
	caBundle string // the CA certificates copied into the base layer
}

func main() {
	var o options
	flag.StringVar(&o.root, "root", "", "the repository's root (default: the directory holding go.work, found upwards from here)")
	flag.StringVar(&o.out, "out", "", "directory the image layouts and SBOMs are written to (required)")
	flag.StringVar(&o.tag, "tag", "", "image tag (default: appVersion of charts/rapport/Chart.yaml)")
	flag.StringVar(&o.registry, "registry", "", "registry and path of the images (default: image.registry of charts/rapport/values.yaml)")
	flag.StringVar(&o.version, "version", "", `version linked into the programs and labelled (default: git describe --tags --always --dirty, else "dev")`)
	flag.StringVar(&o.revision, "revision", "", "commit labelled as the images' revision (default: git rev-parse HEAD)")
	flag.StringVar(&o.licenses, "licenses", "NOASSERTION", "SPDX license expression for the org.opencontainers.image.licenses label")
	flag.StringVar(&o.programs, "programs", "", "comma-separated programs to build (default: every services/*/cmd/*)")
	flag.StringVar(&o.caBundle, "ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "CA certificate bundle copied into the images (Debian's ca-certificates package)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "images: %v\n", err)
		os.Exit(1)
	}
}

// run builds the images o asks for.
func run(o options) error {
	if o.out == "" {
		return errors.New("-out is required")
	}
	out, err := filepath.Abs(o.out)
	if err != nil {
		return err
	}
	root := o.root
	if root == "" {
		if root, err = findRoot(); err != nil {
			return err
		}
	}
	if root, err = filepath.Abs(root); err != nil {
		return err
	}

	chart, err := readChart(root)
	if err != nil {
		return err
	}
	if o.tag != "" {
		chart.AppVersion = o.tag
	}
	if o.registry != "" {
		chart.Registry = strings.TrimSuffix(o.registry, "/")
	}
	programs, err := findPrograms(root, o.programs)
	if err != nil {
		return err
	}
	src, err := describeSource(root, chart.Home, o.version, o.revision)
	if err != nil {
		return err
	}
	base, err := baseLayer(o.caBundle, src.Created)
	if err != nil {
		return err
	}

	bins, err := os.MkdirTemp("", "rapport-images-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bins)
	names := make([]string, len(programs))
	for i, p := range programs {
		names[i] = p.Name
	}
	fmt.Fprintf(os.Stderr, "images: building %s at version %s\n", strings.Join(names, ", "), src.Version)
	if err := buildPrograms(root, bins, programs, src.Version); err != nil {
		return err
	}

	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, p := range programs {
		ref := fmt.Sprintf("%s/rapport-%s:%s", chart.Registry, p.Name, chart.AppVersion)
		res, err := writeImage(imageSpec{
			Program:  p,
			Binary:   filepath.Join(bins, p.Name),
			Ref:      ref,
			Source:   src,
			Licenses: o.licenses,
			Base:     base,
			Out:      out,
		})
		if err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		fmt.Printf("%-48s %s  %s  %.1f MB\n", ref, res.Digest, res.Dir, float64(res.Size)/1e6)
	}
	return nil
}

// findRoot is the nearest directory upwards from the working directory
// that holds go.work: the repository's root.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work above the working directory: pass -root")
		}
		dir = parent
	}
}
