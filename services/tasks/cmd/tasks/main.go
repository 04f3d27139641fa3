// Command tasks serves the manager's next steps: tasks planned on deals,
// contacts and companies.
package main

import (
	"github.com/rapportcrm/rapport/pkg/daemon"
	"github.com/rapportcrm/rapport/pkg/servicekit"
	"github.com/rapportcrm/rapport/services/tasks/internal/app"
)

func main() { daemon.Main(app.Name, servicekit.Program(app.ConfigFromEnv, app.New)) }
