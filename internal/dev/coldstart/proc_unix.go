//go:build unix

package coldstart

import (
	"os/exec"
	"syscall"
	"time"
)

// ownGroup starts the emulator in a process group of its own, so that
// stop reaches the bootstrap it runs too.
func ownGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// stop ends the emulator's process group: politely, then for good.
func stop(cmd *exec.Cmd, exited <-chan struct{}) {
	pgid := -cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-exited
	}
	_ = syscall.Kill(pgid, syscall.SIGKILL) // the bootstrap, if it outlived the emulator
}
