package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// report is everything one run measured.
type report struct {
	when      time.Time
	machine   string
	command   string
	took      time.Duration
	cold      int
	warmEach  int
	sandboxes map[string][]*sandbox
	sizes     map[string]map[string]int64
	peers     []peerResult
}

// measure runs the cold starts, alternating between the functions (and
// which goes first) so that whatever else the machine does weighs on both
// alike, then the peers.
func (b *bench) measure(ctx context.Context) (*report, error) {
	rep := &report{
		when:      time.Now().UTC(),
		machine:   machine(ctx),
		cold:      b.o.cold,
		warmEach:  (b.o.warm + b.o.cold - 1) / b.o.cold,
		sandboxes: map[string][]*sandbox{},
		sizes:     b.sizes,
	}
	for i := range b.o.cold {
		order := b.funcs
		if i%2 == 1 { // neither function always goes first
			order = []*function{b.funcs[1], b.funcs[0]}
		}
		for _, f := range order {
			b.progress("%s: cold start %d/%d and %d warm invokes", f.name, i+1, b.o.cold, rep.warmEach)
			s, err := b.coldStart(ctx, f, rep.warmEach)
			if err != nil {
				return nil, err
			}
			rep.sandboxes[f.name] = append(rep.sandboxes[f.name], s)
		}
	}
	if b.o.peers {
		var err error
		if rep.peers, err = b.runPeers(ctx); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// machine describes this machine: cores, CPU model, OS and Go.
func machine(ctx context.Context) string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		_ = f.Close() // read only
	}
	kernel := ""
	if out, err := exec.CommandContext(ctx, "uname", "-r").Output(); err == nil {
		kernel = ", Linux " + strings.TrimSpace(string(out))
	}
	gover := runtime.Version()
	if out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output(); err == nil {
		gover = strings.TrimSpace(string(out))
	}
	return fmt.Sprintf("%d cores (nproc), %s, %s/%s%s, %s", runtime.NumCPU(), model, runtime.GOOS, runtime.GOARCH, kernel, gover)
}

// The statistics of a report: medians over sandboxes or runs, and
// percentiles over every warm invoke.

func median[T int | int64 | float64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// percentile is the nearest-rank p-th percentile.
func percentile[T int64 | float64 | time.Duration](xs []T, p int) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := (p*len(s)+99)/100 - 1
	return s[max(0, min(i, len(s)-1))]
}

// of collects one value from each sandbox.
func of[T any](ss []*sandbox, f func(*sandbox) T) []T {
	out := make([]T, len(ss))
	for i, s := range ss {
		out[i] = f(s)
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func fmtMS(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.2f ms", v)
}

// fmtCloseMS formats the median of per-close figures, to the microsecond,
// with the range of the runs.
func fmtCloseMS(runs []float64) string {
	if len(runs) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.3f ms (%.3f–%.3f)", median(runs), slices.Min(runs), slices.Max(runs))
}

func fmtMiB(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// lambdaFigures are the medians of one function's sandboxes.
type lambdaFigures struct {
	initSeen, afterInit, selfInit, keyMS, warmMS, firstInvoke, firstClose, coldTotal, coldPath float64
	warmP50, warmP90, closeP50                                                                 float64
	rss                                                                                        int64
	connsCold, connsWarm, secretsCold, secretsWarm                                             []int
}

func figures(ss []*sandbox) lambdaFigures {
	var warm []time.Duration
	var closes []float64
	for _, s := range ss {
		warm = append(warm, s.warm...)
		closes = append(closes, s.warmCloses...)
	}
	return lambdaFigures{
		initSeen:    median(of(ss, func(s *sandbox) float64 { return ms(s.initSeen) })),
		afterInit:   median(of(ss, func(s *sandbox) float64 { return ms(s.afterInit) })),
		selfInit:    median(of(ss, func(s *sandbox) float64 { return s.selfInit })),
		keyMS:       median(of(ss, func(s *sandbox) float64 { return s.keyMS })),
		warmMS:      median(of(ss, func(s *sandbox) float64 { return s.warmMS })),
		firstInvoke: median(of(ss, func(s *sandbox) float64 { return s.rieFirst })),
		firstClose:  median(of(ss, func(s *sandbox) float64 { return s.firstClose })),
		coldTotal:   median(of(ss, func(s *sandbox) float64 { return ms(s.coldTotal) })),
		coldPath:    median(of(ss, func(s *sandbox) float64 { return ms(s.coldInvoke) })),
		warmP50:     ms(percentile(warm, 50)),
		warmP90:     ms(percentile(warm, 90)),
		closeP50:    percentile(closes, 50),
		rss:         median(of(ss, func(s *sandbox) int64 { return s.peakRSS })),
		connsCold:   of(ss, func(s *sandbox) int { return s.connsCold }),
		connsWarm:   of(ss, func(s *sandbox) int { return s.connsWarm }),
		secretsCold: of(ss, func(s *sandbox) int { return s.secretsCold }),
		secretsWarm: of(ss, func(s *sandbox) int { return s.secretsWarm }),
	}
}

// counts writes per-sandbox counts compactly: "1" when all are 1, else
// each.
func counts(xs []int) string {
	if len(xs) > 0 && slices.Min(xs) == slices.Max(xs) {
		return fmt.Sprintf("%d (each of %d)", xs[0], len(xs))
	}
	return strings.Trim(strings.ReplaceAll(fmt.Sprint(xs), " ", ", "), "[]")
}

func (r *report) markdown() string {
	var w bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&w, format+"\n", args...) }
	o, base := figures(r.sandboxes[ours]), figures(r.sandboxes[baseline])

	p("### payjs-close benchmark, %s", r.when.Format("2006-01-02 15:04 MST"))
	p("")
	p("Machine: %s.  ", r.machine)
	p("Command: `%s` (took %s). All traffic on 127.0.0.1: moto as Secrets Manager, the PAYJS simulator as PAYJS.", r.command, r.took.Round(time.Second))
	p("")
	p("#### Under the Lambda emulator: %d cold starts of each function, %d warm invokes after each (medians)", r.cold, r.warmEach)
	p("")
	p("| | payjs-close | minimal Go Lambda | ours / baseline |")
	p("| --- | ---: | ---: | ---: |")
	row := func(name string, a, b float64, f func(float64) string) {
		p("| %s | %s | %s | %s |", name, f(a), f(b), ratio(a, b))
	}
	row("**cold start**: emulator start → first successful close", o.coldTotal, base.coldTotal, fmtMS)
	row("cold invoke: request → answer (the function's cold path)", o.coldPath, base.coldPath, fmtMS)
	row("emulator's Duration of the cold invoke", o.firstInvoke, base.firstInvoke, fmtMS)
	row("init: request → the bootstrap's init line (exec, Go runtime, init)", o.initSeen, base.initSeen, fmtMS)
	row("init as the bootstrap logs it (init_ms, from main)", o.selfInit, base.selfInit, fmtMS)
	p("| of which, overlapped: secret fetch (key_ms) / PAYJS warm-up (warm_ms) | %s / %s | – | |", fmtMS(o.keyMS), fmtMS(o.warmMS))
	row("first close: init line → answer", o.afterInit, base.afterInit, fmtMS)
	row("first close inside the function (latency_ms)", o.firstClose, base.firstClose, fmtMS)
	row("warm invoke through the emulator, p50", o.warmP50, base.warmP50, fmtMS)
	row("warm invoke through the emulator, p90", o.warmP90, base.warmP90, fmtMS)
	row("warm close inside the function, p50", o.closeP50, base.closeP50, fmtMS)
	p("| peak RSS of the bootstrap (VmHWM) | %s | %s | %s |", fmtMiB(o.rss), fmtMiB(base.rss), ratio(float64(o.rss), float64(base.rss)))
	for _, arch := range []string{"arm64", "amd64"} {
		a, b := r.sizes[ours][arch], r.sizes[baseline][arch]
		p("| bootstrap size, linux/%s (-s -w -trimpath -tags lambda.norpc) | %s | %s | %s |", arch, fmtMiB(a), fmtMiB(b), ratio(float64(a), float64(b)))
	}
	p("| TCP connections to PAYJS per sandbox: cold / warm | %s / %s | %s / %s | |", counts(o.connsCold), counts(o.connsWarm), counts(base.connsCold), counts(base.connsWarm))
	p("| Secrets Manager GetSecretValue per sandbox: cold / warm | %s / %s | %s / %s | |", counts(o.secretsCold), counts(o.secretsWarm), counts(base.secretsCold), counts(base.secretsWarm))
	p("")

	if len(r.peers) > 0 {
		p("#### What users would write instead: one process loads the key from moto and closes one order (medians of %d one-shot runs each), then, in %d more runs each, %d orders in a loop", len(r.peers[0].wall), len(r.peers[0].perClose), r.peers[0].closes)
		p("")
		p("| | wall, start → exit | peak RSS | per additional close (median of the runs) | TCP connections for %d closes | wall / ours | RSS / ours |", r.peers[0].closes)
		p("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
		var loop *peerResult
		for i := range r.peers {
			if r.peers[i].name == loopPeer {
				loop = &r.peers[i]
			}
		}
		perClose, conns := "–", "–"
		if loop != nil && loop.skip == "" {
			perClose, conns = fmtCloseMS(loop.perClose), fmt.Sprint(loop.closeConns)
		}
		p("| **payjs-close**: cold invoke under the emulator; per close, its handler wired as in the bootstrap, looping like the peers | %s | %s | %s | %s | 1.00× | 1.00× |", fmtMS(o.coldPath), fmtMiB(o.rss), perClose, conns)
		for _, pr := range r.peers {
			if pr.name == loopPeer {
				continue
			}
			if pr.skip != "" {
				p("| %s | not run: %s | | | | | |", pr.name, pr.skip)
				continue
			}
			wall := ms(median(pr.wall))
			rss := median(pr.rss)
			p("| %s | %s | %s | %s | %d | %s | %s |", pr.name, fmtMS(wall), fmtMiB(rss), fmtCloseMS(pr.perClose), pr.closeConns, ratio(wall, o.coldPath), ratio(float64(rss), float64(o.rss)))
		}
		p("")
	}

	p("#### Targets (issue 5)")
	p("")
	check := func(ok bool, format string, args ...any) {
		mark := "met"
		if !ok {
			mark = "**missed**"
		}
		p("- %s: "+format, append([]any{mark}, args...)...)
	}
	check(o.coldTotal <= 1.05*base.coldTotal, "cold start no slower than the minimal Go Lambda within 5%% (%s vs %s, %s)", fmtMS(o.coldTotal), fmtMS(base.coldTotal), ratio(o.coldTotal, base.coldTotal))
	check(float64(o.rss) <= 1.2*float64(base.rss), "peak memory at most 1.2× the minimal Go Lambda's (%s)", ratio(float64(o.rss), float64(base.rss)))
	check(float64(r.sizes[ours]["arm64"]) <= 1.05*float64(r.sizes[baseline]["arm64"]), "linux/arm64 bootstrap at most 1.05× the minimal Go Lambda's (%s)", ratio(float64(r.sizes[ours]["arm64"]), float64(r.sizes[baseline]["arm64"])))
	oneConn := slices.Max(o.connsCold) == 1 && slices.Min(o.connsCold) == 1 && slices.Max(o.connsWarm) == 0
	check(oneConn, "exactly one TCP connection to PAYJS per warm sandbox")
	oneSecret := slices.Max(o.secretsCold) == 1 && slices.Min(o.secretsCold) == 1 && slices.Max(o.secretsWarm) == 0
	check(oneSecret, "exactly one Secrets Manager call per cold start, none on warm invokes")
	for _, pr := range r.peers {
		if pr.skip != "" || len(pr.wall) == 0 || pr.reference {
			continue
		}
		wall := ms(median(pr.wall))
		switch pr.name {
		case loopPeer:
		case goPeer:
			for _, l := range r.peers {
				if l.name == loopPeer && l.skip == "" {
					ours, theirs := median(l.perClose), median(pr.perClose)
					check(ours <= 1.1*theirs, "warm close within 10%% of the straightforward Go program per close, median of %d runs of %d closes in a loop each (%s vs %s, %s)", len(pr.perClose), pr.closes-1, fmt.Sprintf("%.3f ms", ours), fmt.Sprintf("%.3f ms", theirs), ratio(ours, theirs))
				}
			}
		default:
			check(wall >= 10*o.coldPath, "whole-process cold path at least 10× faster than %s (%s)", pr.name, ratio(wall, o.coldPath))
		}
	}
	p("")
	p("Cold start is what a caller waits for, from the emulator's start to the first successful close. The emulator starts the bootstrap when the first invoke arrives, so the cold invoke (request → answer) is the function's whole cold path: exec, Go runtime, init (secret and, for payjs-close, the PAYJS warm-up), first close; it compares with a peer process's start → exit. Warm invokes through the emulator include its HTTP round trip; closes inside the function are the function's own timing of one close (sign, POST, read and, for payjs-close, verify, log and count), which is what the peers' per-close figure measures too.")
	return w.String()
}

// commandLine is the command as typed, for the report.
func commandLine(args []string) string {
	return strings.Join(append([]string{"go run ./cmd/bench"}, args[1:]...), " ")
}
