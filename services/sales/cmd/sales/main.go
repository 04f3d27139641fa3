// Command sales serves the sales funnel: pipelines and their stages, deals
// and their moves, loss reasons and currency rates.
package main

import (
	"github.com/rapportcrm/rapport/pkg/daemon"
	"github.com/rapportcrm/rapport/pkg/servicekit"
	"github.com/rapportcrm/rapport/services/sales/internal/app"
)

func main() { daemon.Main(app.Name, servicekit.Program(app.ConfigFromEnv, app.New)) }
