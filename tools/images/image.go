package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The annotation naming an image in an OCI layout's index.json. It holds
// the full reference (ghcr.io/rapportcrm/rapport-contacts:0.1.0), which
// its grammar allows, so that the layout says where it is to be pushed.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// platform is the one platform the images are built for.
var platform = v1.Platform{OS: "linux", Architecture: "amd64"}

// imageSpec is one image to write.
type imageSpec struct {
	Program  program
	Binary   string // the built program
	Ref      string // registry/rapport-<program>:<tag>
	Source   source
	Licenses string
	Base     v1.Layer
	Out      string // the layout goes to Out/<program>, the SBOM to Out/<program>.spdx.json
}

// written is what writeImage made.
type written struct {
	Dir    string  // the layout
	Digest v1.Hash // the manifest's
	Size   int64   // manifest, config and layers, as pushed
}

// writeImage assembles s's image — the base layer, then the program's —
// and writes it as an OCI layout holding that one image, replacing any
// layout already there.
func writeImage(s imageSpec) (written, error) {
	name := "rapport-" + s.Program.Name
	created := s.Source.Created
	exe, err := os.ReadFile(s.Binary)
	if err != nil {
		return written{}, err
	}
	doc, err := sbom(s.Binary, name, exe, s.Source)
	if err != nil {
		return written{}, err
	}
	app, err := programLayer(name, exe, doc, created)
	if err != nil {
		return written{}, err
	}

	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: s.Base, MediaType: types.OCILayer, History: v1.History{
			Created: v1.Time{Time: created}, CreatedBy: "rapport tools/images: base (passwd, group, CA certificates, /tmp)",
			Comment: "made locally, nothing pulled",
		}},
		mutate.Addendum{Layer: app, MediaType: types.OCILayer, History: v1.History{
			Created:   v1.Time{Time: created},
			CreatedBy: fmt.Sprintf("rapport tools/images: /usr/local/bin/%s and /%s", name, sbomPath(name)),
		}},
	)
	if err != nil {
		return written{}, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return written{}, err
	}
	cfg = cfg.DeepCopy()
	labels := map[string]string{
		"org.opencontainers.image.title":       name,
		"org.opencontainers.image.description": s.Program.Description,
		"org.opencontainers.image.version":     s.Source.Version,
		"org.opencontainers.image.revision":    s.Source.Revision,
		"org.opencontainers.image.source":      s.Source.URL,
		"org.opencontainers.image.licenses":    s.Licenses,
		"org.opencontainers.image.created":     created.Format(time.RFC3339),
	}
	for k, v := range labels {
		if v == "" {
			delete(labels, k) // no revision outside git
		}
	}
	cfg.OS, cfg.Architecture = platform.OS, platform.Architecture
	cfg.Created = v1.Time{Time: created}
	cfg.Config = v1.Config{
		Entrypoint: []string{"/usr/local/bin/" + name},
		// Numeric, so that Kubernetes' runAsNonRoot can check it.
		User:       fmt.Sprintf("%d:%d", nonrootUID, nonrootGID),
		WorkingDir: "/",
		// No Env: Go finds the CA bundle at /etc/ssl/certs/ca-certificates.crt
		// by itself, and the entrypoint is an absolute path.
		Labels: labels,
	}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return written{}, err
	}
	// The labels again as the manifest's annotations, where registries
	// (ghcr.io links the source repository) look first.
	img = mutate.Annotations(img, labels).(v1.Image)

	dir := filepath.Join(s.Out, s.Program.Name)
	if err := os.RemoveAll(dir); err != nil {
		return written{}, err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return written{}, err
	}
	if err := p.AppendImage(img,
		layout.WithAnnotations(map[string]string{refNameAnnotation: s.Ref}),
		layout.WithPlatform(platform),
	); err != nil {
		return written{}, err
	}
	if err := os.WriteFile(filepath.Join(s.Out, s.Program.Name+".spdx.json"), doc, 0o644); err != nil {
		return written{}, err
	}

	digest, err := img.Digest()
	if err != nil {
		return written{}, err
	}
	return written{Dir: dir, Digest: digest, Size: imageSize(img)}, nil
}

// imageSize is what pushing img moves: its manifest, config and layers.
func imageSize(img v1.Image) int64 {
	m, err := img.Manifest()
	if err != nil {
		return 0
	}
	raw, _ := img.RawManifest()
	size := int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	return size
}
