//go:build !linux

package devstack

import (
	"os"
	"os/exec"
)

func dieWithParent(*exec.Cmd) {}

func detach(*exec.Cmd) {}

func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	return err == nil && p != nil
}
