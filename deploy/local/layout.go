package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// layout names everything kept in the data folder (.local/ by default), so
// a second run finds the same cluster, broker log and keys.
type layout struct{ dir string }

func (l layout) postgres() string   { return filepath.Join(l.dir, "postgres") }
func (l layout) kafka() string      { return filepath.Join(l.dir, "kafka") }
func (l layout) logs() string       { return filepath.Join(l.dir, "logs") }
func (l layout) bin() string        { return filepath.Join(l.dir, "bin") }
func (l layout) issuerKey() string  { return filepath.Join(l.dir, "auth", "dev-issuer.pem") }
func (l layout) issuerPub() string  { return filepath.Join(l.dir, "auth", "dev-issuer.pub.pem") }
func (l layout) sessionKey() string { return filepath.Join(l.dir, "auth", "web-session.key") }

// dataFolder is the -data flag made absolute, or .local at the repository root.
func dataFolder(flagValue string) (string, error) {
	if flagValue != "" {
		return filepath.Abs(flagValue)
	}
	root, err := findRoot(".")
	if err != nil {
		return "", fmt.Errorf("%w (or pass -data)", err)
	}
	return filepath.Join(root, ".local"), nil
}

// findRoot walks up from dir to the folder holding go.work: the repository
// root, where services are built and .local/ lives.
func findRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			return d, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.work in %s or above: run this from inside the Rapport repository", dir)
		}
	}
}
