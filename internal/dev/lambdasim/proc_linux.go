package lambdasim

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes an emulator exit with the process that started it.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
