package devstack

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes a server exit with the process that started it.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// detach starts a server in its own session, so that it outlives the
// command that started it (`jobwatch local up`).
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
}

// processAlive reports whether a process exists.
func processAlive(pid int) bool { return syscall.Kill(pid, 0) == nil }
