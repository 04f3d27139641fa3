// Command contacts serves the client base: contacts now, companies, custom
// fields, duplicates, import and export as the service grows.
package main

import (
	"github.com/rapportcrm/rapport/pkg/daemon"
	"github.com/rapportcrm/rapport/pkg/servicekit"
	"github.com/rapportcrm/rapport/services/contacts/internal/app"
)

func main() { daemon.Main(app.Name, servicekit.Program(app.ConfigFromEnv, app.New)) }
