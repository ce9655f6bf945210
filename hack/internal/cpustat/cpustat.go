// Package cpustat reads CPU time from /proc for the benchmarks: a
// process's, and the whole machine's. On a machine whose every core is
// busy, a rate is the cores divided by the machine's CPU time per unit of
// work (load generator, target and proxy together), so the benchmarks
// print both figures beside their rates.
package cpustat

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// tick is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const tick = 10 * time.Millisecond

// Process returns the user and system CPU time of processes (all their
// threads); a process gone counts 0.
func Process(pids ...int) time.Duration {
	var total time.Duration
	for _, pid := range pids {
		// utime and stime are the 12th and 13th fields after the name.
		f := statFields(pid)
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(ut+st) * tick
	}
	return total
}

// WithChildren returns a process and its children (nginx's master and
// workers).
func WithChildren(pid int) []int {
	out := []int{pid}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		// The parent's PID is the 2nd field after the name.
		if f := statFields(child); len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// statFields returns the fields of /proc/PID/stat after the command name
// (in parentheses, which may hold spaces); nil for no such process.
func statFields(pid int) []string {
	if pid <= 0 {
		return nil
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

// Machine is the CPU time of every core of the machine, from /proc/stat.
type Machine struct {
	// Busy is the time not idle nor waiting for I/O; Total adds those.
	Busy, Total time.Duration
}

// ReadMachine reads the machine's CPU times; zero when /proc/stat cannot
// be read.
func ReadMachine() Machine {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return Machine{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return Machine{}
	}
	var m Machine
	// user nice system idle iowait irq softirq: the time the cores were
	// this machine's (steal is the hypervisor's; guest times are already
	// in user and nice).
	for i, v := range f[1:min(len(f), 8)] {
		n, _ := strconv.ParseInt(v, 10, 64)
		d := time.Duration(n) * tick
		m.Total += d
		if i != 3 && i != 4 {
			m.Busy += d
		}
	}
	return m
}

// Since returns the machine's CPU times from before to now.
func (before Machine) Since() Machine {
	now := ReadMachine()
	return Machine{Busy: now.Busy - before.Busy, Total: now.Total - before.Total}
}

// BusyShare is the share of the cores' time that was busy, 0 to 1.
func (m Machine) BusyShare() float64 {
	if m.Total <= 0 {
		return 0
	}
	return float64(m.Busy) / float64(m.Total)
}
