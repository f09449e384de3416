// Package proc runs the child processes of the tests and the benchmark (the
// real pocketbus binary, a stock nats-server) with their output in a log
// file, and stops them the way an operator would: SIGTERM, then SIGKILL.
package proc

import (
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Process is one running child.
type Process struct {
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
}

// Start runs bin with args, appending its stdout and stderr to logPath; env
// is added to this process's environment.
func Start(bin string, args []string, logPath string, env ...string) (*Process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	p := &Process{cmd: exec.Command(bin, args...), logPath: logPath, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.Env = append(os.Environ(), env...)
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() { p.cmd.Wait(); logf.Close(); close(p.done) }()
	return p, nil
}

// Pid is the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the child has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and waits up to grace for the exit, then kills the
// child. It reports whether the child exited by itself within grace (an
// already ended or nil process counts as exited).
func (p *Process) Stop(grace time.Duration) bool {
	if p == nil || p.Exited() {
		return true
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return true
	case <-time.After(grace):
		p.Kill()
		return false
	}
}

// Kill is a crash: SIGKILL, no cleanup; it returns once the child is gone.
func (p *Process) Kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// Output is everything the child has written to its log so far.
func (p *Process) Output() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}
