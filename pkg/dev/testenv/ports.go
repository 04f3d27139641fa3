package testenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"testing"

	"github.com/rapportcrm/rapport/pkg/ops"
)

// Ports below Linux's ephemeral range (32768–60999): a port picked there
// cannot be taken meanwhile by some process's outgoing connection, which
// made ":0"-then-close picks flaky when a program binds them a moment later.
// A program also binds its operations port ops.PortOffset above its API
// port unless told otherwise, so that one must stay below the range too.
const (
	portLow  = 20000
	portHigh = 32000 - ops.PortOffset
)

// FreePorts returns the first of n consecutive ports on 127.0.0.1 that are
// free now, for programs under test that bind ports themselves; the n ports
// ops.PortOffset above them are free too, for their operations listeners.
// A port is handed out once per test binary, so that two picked before
// either is bound differ.
func FreePorts(t testing.TB, n int) int {
	t.Helper()
	handedMu.Lock()
	defer handedMu.Unlock()
	for range 200 {
		base := portLow + rand.IntN(portHigh-portLow-n)
		if !handed(base, n) && free(base, n) && free(base+ops.PortOffset, n) {
			for p := base; p < base+n; p++ {
				handedOut[p] = true
			}
			return base
		}
	}
	t.Fatalf("testenv: no %d consecutive free ports in %d-%d", n, portLow, portHigh)
	return 0
}

var (
	handedMu  sync.Mutex
	handedOut = map[int]bool{}
)

func handed(base, n int) bool {
	for p := base; p < base+n; p++ {
		if handedOut[p] || handedOut[p+ops.PortOffset] || handedOut[p-ops.PortOffset] {
			return true
		}
	}
	return false
}

func free(base, n int) bool {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for p := base; p < base+n; p++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			return false
		}
		ls = append(ls, l)
	}
	return true
}
