package migrations_test

import (
	"testing"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
	"github.com/rapportcrm/rapport/services/sales/migrations"
)

func TestDatabasePrivileges(t *testing.T) { testenv.CheckPrivileges(t, migrations.Set()) }
