// Command etcd is etcd's server (v3.6), built from the Go module proxy for
// envtest by make envtest-assets.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
