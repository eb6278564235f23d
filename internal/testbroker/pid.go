package testbroker

// Pid returns the process id of the running broker, 0 if it never started. bench/ reads
// its CPU time and RSS from /proc.
func (p *Process) Pid() int {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}
