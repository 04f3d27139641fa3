package main

import (
	"testing"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
