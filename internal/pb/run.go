package pb

import (
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/pocketbase/pocketbase/cmd"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/plugins/migratecmd"
	"github.com/spf13/cobra"
)

// Start registers the commands (PocketBase's serve, superuser and migrate,
// with Pocketbus's flags on serve, and `nats`) and runs the one named on
// the command line. Unlike PocketBase's Start, which ignores the command's
// error and so exits 0 whatever happens, it returns every error, after
// printing it to stderr once: main exits non-zero with it.
func (a *App) Start() error {
	root := a.RootCmd
	root.Version = Version
	root.SetVersionTemplate("{{.Version}}\n")
	root.SilenceErrors = true // printed once, below

	serve := cmd.NewServeCommand(a.PocketBase, true)
	serve.Flags().AddFlagSet(a.cfg.serveFlags())
	// Before PocketBase's serve runs migrations or opens a port: flag
	// values, the store lock, the metrics port.
	serve.PreRunE = func(c *cobra.Command, args []string) error { return a.ops.preflight(a.PocketBase) }
	annotate(serve, lockDataDir)
	root.AddCommand(cmd.NewSuperuserCommand(a.PocketBase), serve)
	// `migrate` changes the schema under the database: not while serve
	// runs on the same data dir (it holds the lock).
	migratecmd.MustRegister(a.PocketBase, root, migratecmd.Config{})
	if m, _, err := root.Find([]string{"migrate"}); err == nil && m.Name() == "migrate" {
		annotate(m, lockDataDir)
	}

	if err := a.execute(); err != nil {
		msg := err.Error()
		if !strings.HasPrefix(msg, "Error") {
			msg = "Error: " + msg
		}
		fmt.Fprintln(os.Stderr, msg)
		return err
	}
	return nil
}

// execute is PocketBase's Execute with the command's error returned: the
// app is bootstrapped (unless the command does not need the database),
// the command runs until it ends or SIGINT/SIGTERM arrives, and the
// terminate hooks run (NATS is shut down before the database closes).
func (a *App) execute() error {
	if !a.skipBootstrap() {
		// The --dir lock comes before Bootstrap, which already writes to the
		// data dir (system migrations, the operator on a first start) and
		// deletes PocketBase's temp dir: a second serve would otherwise
		// remove the running one's backup or restore in progress before it
		// finds the lock. Held until the process exits.
		if a.locksDataDir() {
			if _, err := lockDir(a.DataDir(), "--dir"); err != nil {
				return err
			}
		}
		if err := a.Bootstrap(); err != nil {
			if env := a.EncryptionEnv(); env != "" && strings.Contains(err.Error(), "message authentication failed") {
				// PocketBase's settings (and the operator's seeds) are
				// encrypted with another key than the one in $env.
				return fmt.Errorf("wrong encryption key in $%s (--encryptionEnv): the stored settings do not decrypt with it: %w", env, err)
			}
			return err
		}
	}
	done := make(chan error, 2)
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		done <- nil
	}()
	go func() { done <- a.RootCmd.Execute() }()
	cmdErr := <-done

	event := new(core.TerminateEvent)
	event.App = a.PocketBase
	termErr := a.OnTerminate().Trigger(event, func(e *core.TerminateEvent) error {
		return e.App.ResetBootstrapState()
	})
	if cmdErr != nil {
		return cmdErr
	}
	return termErr
}

// lockDataDir marks the commands that hold the --dir lock while they run
// (serve, migrate): taken in execute, before the app is bootstrapped.
const lockDataDir = "pocketbus/lock-data-dir"

func annotate(c *cobra.Command, key string) {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[key] = "true"
}

// locksDataDir reports whether the command on the command line is marked
// lockDataDir.
func (a *App) locksDataDir() bool {
	c, _, err := a.RootCmd.Find(os.Args[1:])
	return err == nil && c.Annotations[lockDataDir] == "true"
}

// skipBootstrap is PocketBase's rule (already bootstrapped, an unknown
// command, --help or --version) plus commands marked skipBootstrap.
func (a *App) skipBootstrap() bool {
	if a.IsBootstrapped() {
		return true
	}
	c, _, err := a.RootCmd.Find(os.Args[1:])
	if err != nil {
		return true
	}
	for p := c; p != nil; p = p.Parent() {
		if p.Annotations[skipBootstrap] == "true" {
			return true
		}
	}
	for _, arg := range os.Args {
		if !slices.Contains([]string{"-h", "--help", "-v", "--version"}, arg) {
			continue
		}
		trimmed := strings.TrimLeft(arg, "-")
		if len(trimmed) > 1 && c.Flags().Lookup(trimmed) == nil {
			return true
		}
		if len(trimmed) == 1 && c.Flags().ShorthandLookup(trimmed) == nil {
			return true
		}
	}
	return false
}
