// Package layout holds rules about the repository's shape that no single
// module can check.
package layout

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// No program shipped to production carries development code: the local
// cluster, the dev token issuer and the test environment live under
// pkg/dev, and only deploy/local and tests import them.
func TestProgramsCarryNoDevelopmentCode(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	programs, err := filepath.Glob(filepath.Join(root, "services", "*", "cmd", "*"))
	if err != nil || len(programs) < 4 {
		t.Fatalf("have programs %v (%v); want every service's", programs, err)
	}
	for _, p := range programs {
		rel, _ := filepath.Rel(root, p)
		cmd := exec.Command("go", "list", "-deps", "./"+rel)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", rel, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, "github.com/rapportcrm/rapport/pkg/dev/") {
				t.Errorf("%s imports %s, development code", rel, dep)
			}
		}
	}
}
