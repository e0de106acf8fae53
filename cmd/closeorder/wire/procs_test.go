package wire

import "testing"

func TestMaxProcsFitsTheCPUTimeTheMemoryBuys(t *testing.T) {
	cases := []struct {
		mem, gomaxprocs string
		current         int
		want            int
		ok              bool
	}{
		{mem: "128", current: 2, want: 1, ok: true}, // the template's size: a fourteenth of a vCPU
		{mem: "1769", current: 2, want: 1, ok: true},
		{mem: "3008", current: 2, want: 1, ok: true}, // 1.7 vCPUs: round down
		{mem: "3538", current: 3, want: 2, ok: true},
		{mem: "10240", current: 6, want: 5, ok: true},
		{mem: "10240", current: 2, want: 2, ok: true}, // never above what the runtime found
		{mem: "128", gomaxprocs: "2", current: 2},     // the user's choice stands
		{mem: "", current: 2},                         // off Lambda
		{mem: "0", current: 2},
		{mem: "-512", current: 2},
		{mem: "lots", current: 2},
	}
	for _, c := range cases {
		env := map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": c.mem, "GOMAXPROCS": c.gomaxprocs}
		n, ok := MaxProcs(func(k string) string { return env[k] }, c.current)
		if n != c.want || ok != c.ok {
			t.Errorf("memory %q, GOMAXPROCS %q, current %d: got %d, %v; want %d, %v", c.mem, c.gomaxprocs, c.current, n, ok, c.want, c.ok)
		}
	}
}
