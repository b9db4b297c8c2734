//go:build !unix

package coldstart

import "os/exec"

func ownGroup(*exec.Cmd) {}

func stop(cmd *exec.Cmd, exited <-chan struct{}) {
	_ = cmd.Process.Kill()
	<-exited
}
