package migrations_test

import (
	"testing"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/services/tasks/migrations"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestDatabasePrivileges(t *testing.T) {
	testenv.CheckPrivileges(t, migrations.River(), migrations.Set())
}
