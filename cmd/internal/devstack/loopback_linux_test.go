package devstack

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestEmulatorListensOnLoopbackOnly checks every socket the emulator
// listens on (the invoke endpoint and the Runtime API): aws-lambda-rie's
// default is 0.0.0.0:8080.
func TestEmulatorListensOnLoopbackOnly(t *testing.T) {
	t.Parallel()
	rie := RequireRIE(t)
	// The emulator listens before it starts the bootstrap, so any
	// executable stands in for one.
	bootstrap := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(bootstrap, []byte("#!/bin/sh\nexit 1\n"), 0o700); err != nil { //nolint:gosec // G306: a stand-in bootstrap must be executable
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := StartEmulator(ctx, EmulatorOptions{RIE: rie, Bootstrap: bootstrap})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	p, err := e.current()
	if err != nil {
		t.Fatal(err)
	}
	listening := listeningAddrs(t, p.Pid())
	if len(listening) != 2 {
		t.Errorf("the emulator listens on %q, want 2 sockets (invoke endpoint and Runtime API)", listening)
	}
	for _, a := range listening {
		if !strings.HasPrefix(a, "0100007F:") { // 127.0.0.1, little-endian hex
			t.Errorf("the emulator listens on %s (hex, /proc/net/tcp*), not 127.0.0.1", a)
		}
	}
}

// listeningAddrs returns the local addresses, as /proc/net/tcp{,6} spell
// them, of the listening TCP sockets that pid holds.
func listeningAddrs(t *testing.T, pid int) []string {
	t.Helper()
	fds, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + fd.Name())
		if inode, ok := strings.CutPrefix(link, "socket:["); err == nil && ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	var out []string
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			// sl local_address rem_address st ... inode is field 9.
			if len(f) > 9 && f[3] == "0A" && inodes[f[9]] {
				out = append(out, f[1])
			}
		}
	}
	return out
}
