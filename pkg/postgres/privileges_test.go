package postgres_test

import (
	"testing"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
)

// The platform's own tables, as every service's app role meets them.
func TestDatabasePrivileges(t *testing.T) { testenv.CheckPrivileges(t) }
