package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/rapportcrm/rapport/pkg/dev/pgcluster"
)

// postgres is the private cluster in the data folder.
type postgres struct {
	cluster *pgcluster.Cluster
	log     *os.File
}

// startPostgres installs the server binaries when they are missing, then
// starts (initialising on first use) the durable cluster on port.
func startPostgres(ctx context.Context, l layout, port int, say *lineWriter) (*postgres, error) {
	if err := ensurePostgresInstalled(ctx, say); err != nil {
		return nil, err
	}
	log, err := openLog(l.logs(), "postgres")
	if err != nil {
		return nil, err
	}
	say.Printf("starting PostgreSQL on 127.0.0.1:%d (data %s, log %s)", port, l.postgres(), log.Name())
	c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: l.postgres(), Port: port, Durable: true, Log: log})
	if err != nil {
		_ = log.Close()
		return nil, fmt.Errorf("start PostgreSQL: %w\nlast lines of %s:\n%s", err, log.Name(), indent(fileTail(log.Name(), 20)))
	}
	return &postgres{cluster: c, log: log}, nil
}

// databases creates (when missing) one database per service.
func (p *postgres) databases(ctx context.Context, names []string) (map[string]pgcluster.Database, error) {
	dbs := make(map[string]pgcluster.Database, len(names))
	for _, n := range names {
		db, err := p.cluster.EnsureDatabase(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("create database %s: %w", n, err)
		}
		dbs[n] = db
	}
	return dbs, nil
}

func (p *postgres) stop() error {
	err := p.cluster.Stop()
	_ = p.log.Close()
	return err
}

// ensurePostgresInstalled installs Debian's postgresql package with apt when
// no server binaries are found, and says so.
func ensurePostgresInstalled(ctx context.Context, say *lineWriter) error {
	if _, err := pgcluster.BinDir(); !errors.Is(err, pgcluster.ErrNotInstalled) {
		return err
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return errors.New("PostgreSQL is not installed and there is no apt-get to install it: install the PostgreSQL server (initdb, postgres) or set PG_BINDIR to the folder holding them")
	}
	if os.Geteuid() != 0 {
		return errors.New("PostgreSQL is not installed and installing it needs root: run `sudo apt-get update && sudo apt-get install -y postgresql` (or set PG_BINDIR to a folder holding initdb and postgres), then run again")
	}
	say.Printf("PostgreSQL is not installed: running apt-get update && apt-get install -y postgresql")
	for _, args := range [][]string{{"update"}, {"install", "-y", "postgresql"}} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = say, say
		err := cmd.Run()
		say.Flush()
		if err != nil {
			return fmt.Errorf("apt-get %s failed (%v): install PostgreSQL yourself or set PG_BINDIR", args[0], err)
		}
	}
	dir, err := pgcluster.BinDir()
	if err != nil {
		return fmt.Errorf("apt-get installed postgresql but %w", err)
	}
	say.Printf("PostgreSQL installed in %s", filepath.Dir(dir))
	return nil
}
