// Package pgcluster runs a private PostgreSQL cluster from the installed
// server binaries: the test harness starts one per test binary in a temporary
// folder, and deploy/local keeps one under .local/ for `make run`.
package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options describe a cluster. Dir holds the data files; Port 0 picks a free port.
type Options struct {
	Dir string
	// Port to listen on 127.0.0.1; 0 picks a free one.
	Port int
	// Durable keeps fsync on. Tests turn it off for speed.
	Durable bool
	// Log receives the server's output; nil discards it.
	Log *os.File
	// Settings are extra `-c name=value` server settings.
	Settings map[string]string
}

// Cluster is a running PostgreSQL server owned by this process.
type Cluster struct {
	opts Options
	port int
	cmd  *exec.Cmd
	done chan error
	mu   sync.Mutex
}

// ErrNotInstalled means no PostgreSQL server binaries were found.
var ErrNotInstalled = errors.New("pgcluster: PostgreSQL server binaries (initdb, postgres) not found; install the postgresql package")

// BinDir finds the directory holding initdb and postgres: $PG_BINDIR, then the
// newest /usr/lib/postgresql/*/bin, then $PATH.
func BinDir() (string, error) {
	if d := os.Getenv("PG_BINDIR"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", ErrNotInstalled
}

func versionOf(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

// Start initialises the data folder when it is empty and starts the server,
// returning once it accepts connections.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, err
	}
	cred, err := serverCredential(opts.Dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(opts.Dir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", opts.Dir, "-U", "postgres",
			"--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("pgcluster: initdb %s: %w: %s", opts.Dir, err, out)
		}
	}
	port := opts.Port
	if port == 0 {
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	args := []string{"-D", opts.Dir, "-p", strconv.Itoa(port), "-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + opts.Dir, "-c", "max_connections=300", "-c", "shared_buffers=128MB"}
	if !opts.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	keys := make([]string, 0, len(opts.Settings))
	for k := range opts.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-c", k+"="+opts.Settings[k])
	}
	// A stale pid file from a killed server would stop this one from starting.
	if pid, err := os.ReadFile(filepath.Join(opts.Dir, "postmaster.pid")); err == nil {
		if n, _ := strconv.Atoi(strings.SplitN(string(pid), "\n", 2)[0]); n > 0 && syscall.Kill(n, 0) != nil {
			_ = os.Remove(filepath.Join(opts.Dir, "postmaster.pid"))
		}
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGTERM, Setpgid: true}
	if opts.Log != nil {
		cmd.Stdout, cmd.Stderr = opts.Log, opts.Log
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("pgcluster: start postgres: %w", err)
	}
	c := &Cluster{opts: opts, port: port, cmd: cmd, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	if err := c.waitReady(ctx); err != nil {
		_ = c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, c.URL("postgres", "postgres"))
		if err == nil {
			return conn.Close(ctx)
		}
		select {
		case err := <-c.done:
			c.done <- err
			return fmt.Errorf("pgcluster: postgres exited while starting (see its log in %s): %v", c.opts.Dir, err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgcluster: postgres not ready after 60s: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Port is the TCP port the server listens on at 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// URL is a connection string for user to database (trust authentication).
func (c *Cluster) URL(userName, database string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", userName, c.port, database)
}

// Stop shuts the server down (fast mode) and waits for it to exit.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return nil
	}
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	c.cmd = nil
	return nil
}

// Database names a database with an owner role that owns its tables and an
// app role that may only read and write rows, as services connect.
type Database struct {
	Name     string
	OwnerURL string
	AppURL   string
	AppRole  string
}

// EnsureDatabase creates (if missing) the database name, its owner role
// name_owner and its app role name_app, and returns their URLs.
func (c *Cluster) EnsureDatabase(ctx context.Context, name string) (Database, error) {
	conn, err := pgx.Connect(ctx, c.URL("postgres", "postgres"))
	if err != nil {
		return Database{}, err
	}
	defer conn.Close(ctx)
	owner, app := name+"_owner", name+"_app"
	for _, role := range []string{owner, app} {
		var exists bool
		if err := conn.QueryRow(ctx, `select exists(select 1 from pg_roles where rolname=$1)`, role).Scan(&exists); err != nil {
			return Database{}, err
		}
		if !exists {
			if _, err := conn.Exec(ctx, "create role "+pgx.Identifier{role}.Sanitize()+" login"); err != nil {
				return Database{}, err
			}
		}
	}
	var exists bool
	if err := conn.QueryRow(ctx, `select exists(select 1 from pg_database where datname=$1)`, name).Scan(&exists); err != nil {
		return Database{}, err
	}
	if !exists {
		if _, err := conn.Exec(ctx, "create database "+pgx.Identifier{name}.Sanitize()+" owner "+pgx.Identifier{owner}.Sanitize()); err != nil {
			return Database{}, err
		}
	}
	db, err := pgx.Connect(ctx, c.URL("postgres", name))
	if err != nil {
		return Database{}, err
	}
	defer db.Close(ctx)
	if _, err := db.Exec(ctx, Bootstrap); err != nil {
		return Database{}, fmt.Errorf("pgcluster: bootstrap %s: %w", name, err)
	}
	return Database{Name: name, OwnerURL: c.URL(owner, name), AppURL: c.URL(app, name), AppRole: app}, nil
}

// Bootstrap is what a superuser runs once in every service database (a
// deployment's database administrator runs the same). Row-level security
// lets the planner use an index for a condition only when the condition's
// function is LEAKPROOF; LIKE (the trigram search index), array
// containment (the tags index), overlap (the shares index), jsonb
// containment (the custom fields index) and the inequalities that select
// those partial indexes are not marked so, although their errors
// depend on the pattern alone, never on a row. Without this every search
// reads the tenant's whole table: correct, but 400 ms instead of 1–10 ms
// over a million contacts. Only a superuser may mark a function LEAKPROOF.
const Bootstrap = `
alter function pg_catalog.textlike(text, text) leakproof;
alter function pg_catalog.arraycontains(anyarray, anyarray) leakproof;
alter function pg_catalog.arrayoverlap(anyarray, anyarray) leakproof;
alter function pg_catalog.jsonb_contains(jsonb, jsonb) leakproof;
alter function pg_catalog.array_ne(anyarray, anyarray) leakproof;
alter function pg_catalog.jsonb_ne(jsonb, jsonb) leakproof;
`

// serverCredential returns the identity the server runs as: PostgreSQL
// refuses to run as root, so a root caller hands the folder to "postgres".
func serverCredential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		u, err = user.Lookup("nobody")
		if err != nil {
			return nil, fmt.Errorf("pgcluster: running as root needs a postgres or nobody user: %w", err)
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// The server must reach its folder: open every parent for traversal.
	for d := filepath.Dir(dir); d != "/" && d != "."; d = filepath.Dir(d) {
		if st, err := os.Stat(d); err == nil && st.Mode().Perm()&0o001 == 0 {
			_ = os.Chmod(d, st.Mode().Perm()|0o011)
		}
	}
	if err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	}); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
