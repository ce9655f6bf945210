package cpustat

import (
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

// TestProcessAndMachine: spinning for a while shows in this process's CPU
// time and in the machine's busy time, and a process that does not exist
// counts nothing.
func TestProcessAndMachine(t *testing.T) {
	before, m := Process(os.Getpid()), ReadMachine()
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
	}
	spent, d := Process(os.Getpid())-before, m.Since()
	if spent < 100*time.Millisecond {
		t.Errorf("this process spent %s spinning 300 ms", spent)
	}
	if d.Busy < 100*time.Millisecond || d.Total < d.Busy || d.BusyShare() <= 0 || d.BusyShare() > 1 {
		t.Errorf("machine %+v, busy share %.2f", d, d.BusyShare())
	}
	if got := Process(-1, 0); got != 0 {
		t.Errorf("no process: %s", got)
	}
}

// TestWithChildren finds a child process this one started.
func TestWithChildren(t *testing.T) {
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	got := WithChildren(os.Getpid())
	if len(got) < 2 || got[0] != os.Getpid() || !slices.Contains(got, cmd.Process.Pid) {
		t.Errorf("this process and its children: %v, want %d and %d among them", got, os.Getpid(), cmd.Process.Pid)
	}
}
