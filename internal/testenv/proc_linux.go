package testenv

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes a started server exit when the test binary does,
// even if it is killed before cleanup runs.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
