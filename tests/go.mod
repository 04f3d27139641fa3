module github.com/rapportcrm/rapport/tests

go 1.26.0

require github.com/rapportcrm/rapport/pkg v0.0.0

require (
	go.opentelemetry.io/proto/otlp v1.11.1 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace github.com/rapportcrm/rapport/pkg => ../pkg

replace google.golang.org/genproto => google.golang.org/genproto v0.0.0-20250922171735-9219d122eba9
