package main

import (
	"errors"
	"fmt"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// chart is what the images take from the Helm chart, so that their names
// are the ones it pulls by default: <Registry>/rapport-<program>:<AppVersion>.
type chart struct {
	AppVersion string // charts/rapport/Chart.yaml appVersion: the default tag
	Home       string // charts/rapport/Chart.yaml home: the images' source label
	Registry   string // charts/rapport/values.yaml image.registry
}

// readChart reads charts/rapport's Chart.yaml and values.yaml.
func readChart(root string) (chart, error) {
	var meta struct {
		AppVersion string `yaml:"appVersion"`
		Home       string `yaml:"home"`
	}
	var values struct {
		Image struct {
			Registry string `yaml:"registry"`
		} `yaml:"image"`
	}
	dir := filepath.Join(root, "charts", "rapport")
	if err := readYAML(filepath.Join(dir, "Chart.yaml"), &meta); err != nil {
		return chart{}, err
	}
	if err := readYAML(filepath.Join(dir, "values.yaml"), &values); err != nil {
		return chart{}, err
	}
	c := chart{AppVersion: meta.AppVersion, Home: meta.Home, Registry: strings.TrimSuffix(values.Image.Registry, "/")}
	if c.AppVersion == "" || c.Home == "" || c.Registry == "" {
		return chart{}, fmt.Errorf("%s: want appVersion and home in Chart.yaml, image.registry in values.yaml", dir)
	}
	return c, nil
}

func readYAML(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// program is one main package under services/*/cmd.
type program struct {
	Name        string // the directory's name: contacts
	Package     string // relative to the root: ./services/contacts/cmd/contacts
	Description string // the first sentence of its package comment
}

// findPrograms globs services/*/cmd/*/main.go, narrowed to only (a
// comma-separated list) when it is not empty.
func findPrograms(root, only string) ([]program, error) {
	mains, err := filepath.Glob(filepath.Join(root, "services", "*", "cmd", "*", "main.go"))
	if err != nil {
		return nil, err
	}
	var want []string
	if only != "" {
		want = strings.Split(only, ",")
	}
	var programs []program
	seen := map[string]string{}
	for _, main := range mains {
		dir := filepath.Dir(main)
		name := filepath.Base(dir)
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			return nil, err
		}
		if other, ok := seen[name]; ok {
			// One image name per program: two cmd/<name> would collide.
			return nil, fmt.Errorf("two programs are called %s: %s and %s", name, other, rel)
		}
		seen[name] = rel
		if want != nil && !slices.Contains(want, name) {
			continue
		}
		programs = append(programs, program{
			Name:        name,
			Package:     "./" + filepath.ToSlash(rel),
			Description: synopsis(main, name),
		})
	}
	for _, w := range want {
		if _, ok := seen[w]; !ok {
			return nil, fmt.Errorf("no program %q under services/*/cmd", w)
		}
	}
	if len(programs) == 0 {
		return nil, errors.New("no program under services/*/cmd/*/main.go")
	}
	return programs, nil
}

// synopsis is the first sentence of main.go's package comment, the image's
// description ("Command contacts serves the client base: …").
func synopsis(main, name string) string {
	f, err := parser.ParseFile(token.NewFileSet(), main, nil, parser.PackageClauseOnly|parser.ParseComments)
	if err == nil && f.Doc != nil {
		if s := new(doc.Package).Synopsis(f.Doc.Text()); s != "" {
			return s
		}
	}
	return "Rapport's " + name + " program."
}

// source is what the images record about the source they were built from.
type source struct {
	Version  string    // git describe --tags --always --dirty, else "dev"
	Revision string    // the commit; empty outside a git checkout
	Created  time.Time // SOURCE_DATE_EPOCH, else the commit's time, else the Unix epoch
	URL      string    // the project's home
}

// describeSource asks git about root; version and revision, when set,
// override git describe and git rev-parse (a build from a source archive
// has no .git). The time is the commit's rather than now so that building
// one commit twice gives the same images; SOURCE_DATE_EPOCH (the convention
// of reproducible builds) overrides it.
func describeSource(root, url, version, revision string) (source, error) {
	s := source{URL: url, Version: version, Revision: revision, Created: time.Unix(0, 0).UTC()}
	if s.Version == "" {
		s.Version = git(root, "describe", "--tags", "--always", "--dirty")
	}
	if s.Version == "" {
		s.Version = "dev"
	}
	if s.Revision == "" {
		s.Revision = git(root, "rev-parse", "HEAD")
	}
	if epoch := os.Getenv("SOURCE_DATE_EPOCH"); epoch != "" {
		sec, err := strconv.ParseInt(epoch, 10, 64)
		if err != nil {
			return source{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since the epoch", epoch)
		}
		s.Created = time.Unix(sec, 0).UTC()
	} else if ct := git(root, "log", "-1", "--format=%ct"); ct != "" {
		if sec, err := strconv.ParseInt(ct, 10, 64); err == nil {
			s.Created = time.Unix(sec, 0).UTC()
		}
	}
	return s, nil
}

// git runs git in dir and returns its trimmed output, or "" when it fails
// (no git, no repository, no commit). It takes no optional locks: another
// git command running in the same checkout must not trip over this one.
func git(dir string, args ...string) string {
	cmd := exec.Command("git", append([]string{"--no-optional-locks"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// versionVar is the variable the programs report as their version
// (telemetry's service.version, the startup log line).
const versionVar = "github.com/rapportcrm/rapport/pkg/telemetry.version"

// buildPrograms builds every program, static and stripped, for linux/amd64
// into dir/<name>, in one go build so that their shared packages compile
// once. The workspace (go.work) decides the modules' versions, as it does
// for every test; the environment is pinned so that the caller's GOFLAGS,
// GOAMD64 or GOWORK=off cannot change the binaries.
func buildPrograms(root, dir string, programs []program, version string) error {
	args := []string{"build", "-buildvcs=false", "-trimpath",
		"-ldflags", "-s -w -X " + versionVar + "=" + version,
		"-o", dir + string(filepath.Separator)}
	for _, p := range programs {
		args = append(args, p.Package)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"GOWORK="+filepath.Join(root, "go.work"),
		"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOAMD64=v1",
		"GOFLAGS=", "GOEXPERIMENT=")
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	return nil
}
