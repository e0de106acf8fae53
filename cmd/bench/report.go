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
	when     time.Time
	machine  string
	command  string
	took     time.Duration
	o        options
	loopback map[string][]*sandbox // by function
	wan      map[string][]*sandbox
	arm64    map[string]int64
	one      []time.Duration // single closes against the slow PAYJS
	batch    []time.Duration // SQS batches of 10 against it
	// SQS batches of 10 against it, by a sandbox without an outcome bus
	// and by one publishing each batch's 10 events, in turn.
	unpublished, published []time.Duration
}

// measure runs the cold starts of both profiles, alternating between the
// functions (and which goes first) so that whatever else the machine
// does weighs on both alike, then the SQS batches.
func (b *bench) measure(ctx context.Context) (*report, error) {
	rep := &report{
		when:     time.Now().UTC(),
		machine:  machine(ctx),
		o:        b.o,
		loopback: map[string][]*sandbox{},
		wan:      map[string][]*sandbox{},
		arm64:    b.arm64,
	}
	for _, run := range []struct {
		p          *profile
		cold, warm int
		into       map[string][]*sandbox
	}{
		{&b.loopback, b.o.cold, b.o.warm, rep.loopback},
		{&b.wan, b.o.wanCold, b.o.wanWarm, rep.wan},
	} {
		for i := range run.cold {
			order := run.p.funcs
			if i%2 == 1 { // neither function always goes first
				order[0], order[1] = order[1], order[0]
			}
			for _, f := range order {
				b.progress("%s, %s: cold start %d/%d and %d warm invokes", run.p.name, f.name, i+1, run.cold, run.warm)
				s, err := b.coldStart(ctx, run.p, f, run.warm)
				if err != nil {
					return nil, err
				}
				run.into[f.name] = append(run.into[f.name], s)
			}
		}
	}
	b.progress("loopback, %s: %d single closes and %d SQS batches of 10, PAYJS answering in %s", ours, b.o.batches, b.o.batches, sqsLatency)
	var err error
	if rep.one, rep.batch, err = b.sqsBatches(ctx, b.o.batches); err != nil {
		return nil, err
	}
	b.progress("loopback, %s: %d SQS batches of 10 with outcome events to moto's EventBridge, and %d without", ours, b.o.batches, b.o.batches)
	if rep.unpublished, rep.published, err = b.publishBatches(ctx, b.o.batches); err != nil {
		return nil, err
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
	gover := runtime.Version()
	if out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output(); err == nil {
		gover = strings.TrimSpace(string(out))
	}
	return fmt.Sprintf("%d cores, %s, %s/%s, %s", runtime.NumCPU(), model, runtime.GOOS, runtime.GOARCH, gover)
}

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

func fmtMiB(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

// spread formats the median of xs with their range.
func spread(xs []float64, f func(float64) string) string {
	if len(xs) == 0 {
		return "–"
	}
	if len(xs) == 1 {
		return f(xs[0])
	}
	lo := f(slices.Min(xs))
	if i := strings.LastIndexByte(lo, ' '); i > 0 {
		lo = lo[:i] // the unit once, after the maximum
	}
	return fmt.Sprintf("%s (%s–%s)", f(median(xs)), lo, f(slices.Max(xs)))
}

// durations are xs in milliseconds.
func durations(xs []time.Duration) []float64 {
	out := make([]float64, len(xs))
	for i, d := range xs {
		out[i] = ms(d)
	}
	return out
}

// warm pools the warm invokes of every sandbox.
func warm(ss []*sandbox) []time.Duration {
	var all []time.Duration
	for _, s := range ss {
		all = append(all, s.warm...)
	}
	return all
}

// goal is a target: the ratio ours / baseline must stay at or below
// limit, or below it when strict; at or above it when floor.
type goal struct {
	text   string
	limit  float64
	strict bool
	floor  bool
}

func atMost(x float64) *goal { return &goal{fmt.Sprintf("≤ %.2f×", x), x, false, false} }
func below(x float64) *goal  { return &goal{fmt.Sprintf("< %.2f×", x), x, true, false} }
func atLeast(x float64) *goal {
	return &goal{text: fmt.Sprintf("≥ %.2f×", x), limit: x, floor: true}
}

// row is one line of the table: a measure of ours against the baseline
// (or, for the SQS batch, against one close of ours).
type row struct {
	profile, measure string
	goal             *goal // nil: a figure shown without a target
	ours, peer       string
	a, b             float64 // the ratio is a/b
}

func (r row) ratio() float64 {
	if r.b == 0 {
		return 0
	}
	return r.a / r.b
}

// result is PASS or FAIL against the target, or "–" without one.
func (r row) result() string {
	x := r.ratio()
	switch {
	case r.goal == nil || r.b == 0:
		return "–"
	case r.goal.floor && x >= r.goal.limit:
		return "PASS"
	case r.goal.floor:
		return "**FAIL**"
	case x < r.goal.limit, x == r.goal.limit && !r.goal.strict:
		return "PASS"
	}
	return "**FAIL**"
}

// rows are the table's lines, each with its target.
func (r *report) rows() []row {
	lo, lb := r.loopback[ours], r.loopback[baseline]
	wo, wb := r.wan[ours], r.wan[baseline]
	start := func(s *sandbox) float64 { return ms(s.start) }
	rss := func(s *sandbox) float64 { return float64(s.peakRSS) }
	cpu := func(ss []*sandbox) []float64 { // known only where /proc/PID/task/*/schedstat was read
		var xs []float64
		for _, s := range ss {
			if s.cpu > 0 {
				xs = append(xs, ms(s.cpu))
			}
		}
		return xs
	}
	initMS := func(s *sandbox) float64 { return s.initMS }
	p50 := func(xs []time.Duration) float64 { return ms(percentile(xs, 50)) }
	pct := func(xs []time.Duration) string {
		return fmt.Sprintf("%s (p90 %s)", fmtMS(p50(xs)), fmtMS(ms(percentile(xs, 90))))
	}
	conns := func(ss []*sandbox) string {
		return counts(of(ss, func(s *sandbox) int { return s.conns })) + " / " + counts(of(ss, func(s *sandbox) int { return s.secrets }))
	}
	armO, armB := float64(r.arm64[ours]), float64(r.arm64[baseline])
	one, batch := durations(r.one), durations(r.batch)
	// The bound of the SQS path on one sandbox: PAYJS_SQS_CONCURRENCY closes
	// at PAYJS at once, each taking sqsLatency.
	bound := float64(sqsConcurrency) / sqsLatency.Seconds()
	rate := 0.0
	if m := median(batch); m > 0 {
		rate = 10 / (m / 1000) // a batch is 10 closes; m is in ms
	}
	return []row{
		{profile: "loopback", measure: "cold start: start → first close answered", goal: atMost(1.05),
			ours: spread(of(lo, start), fmtMS), peer: spread(of(lb, start), fmtMS),
			a: median(of(lo, start)), b: median(of(lb, start))},
		{profile: "loopback", measure: "CPU time, start → first close (all threads; for reading the row above)",
			ours: spread(cpu(lo), fmtMS), peer: spread(cpu(lb), fmtMS),
			a: median(cpu(lo)), b: median(cpu(lb))},
		{profile: "loopback", measure: "warm invoke, p50", goal: atMost(1.1),
			ours: pct(warm(lo)), peer: pct(warm(lb)), a: p50(warm(lo)), b: p50(warm(lb))},
		{profile: "loopback", measure: "peak RSS (VmHWM)", goal: atMost(1.2),
			ours: spread(of(lo, rss), fmtMiB), peer: spread(of(lb, rss), fmtMiB),
			a: median(of(lo, rss)), b: median(of(lb, rss))},
		{profile: "loopback", measure: "bootstrap size, linux/arm64", goal: atMost(1.25),
			ours: fmtMiB(armO), peer: fmtMiB(armB), a: armO, b: armB},
		{profile: "loopback", measure: fmt.Sprintf("SQS batch of 10 with PAYJS answering in %s, against one close of ours", sqsLatency), goal: below(1.5),
			ours: "batch " + spread(batch, fmtMS), peer: "one close " + spread(one, fmtMS),
			a: median(batch), b: median(one)},
		{profile: "loopback", measure: fmt.Sprintf("SQS path, one sandbox: closes per second against the bound PAYJS_SQS_CONCURRENCY (%d) / PAYJS latency (%s)", sqsConcurrency, sqsLatency), goal: atLeast(0.9),
			ours: fmt.Sprintf("%.0f closes/s", rate), peer: fmt.Sprintf("bound %.0f closes/s", bound),
			a: rate, b: bound},
		{profile: "loopback", measure: "the same batch publishing its 10 outcome events (one PutEvents to moto), against it without a bus",
			ours: "with " + spread(durations(r.published), fmtMS), peer: "without " + spread(durations(r.unpublished), fmtMS),
			a: median(durations(r.published)), b: median(durations(r.unpublished))},
		{profile: "WAN", measure: "start → first close answered", goal: atMost(0.85),
			ours: spread(of(wo, start), fmtMS), peer: spread(of(wb, start), fmtMS),
			a: median(of(wo, start)), b: median(of(wb, start))},
		{profile: "WAN", measure: "init (the bootstrap's init_ms, main → ready)",
			ours: spread(of(wo, initMS), fmtMS), peer: spread(of(wb, initMS), fmtMS),
			a: median(of(wo, initMS)), b: median(of(wb, initMS))},
		{profile: "WAN", measure: "warm close, p50", goal: atMost(1.05),
			ours: pct(warm(wo)), peer: pct(warm(wb)), a: p50(warm(wo)), b: p50(warm(wb))},
		{profile: "WAN", measure: "per sandbox: TCP connections to PAYJS / GetSecretValue calls",
			ours: conns(wo), peer: conns(wb)},
	}
}

// counts writes per-sandbox counts compactly: "1" when all are 1, else
// each.
func counts(xs []int) string {
	if len(xs) == 0 {
		return "–"
	}
	if slices.Min(xs) == slices.Max(xs) {
		return fmt.Sprint(xs[0])
	}
	return strings.Trim(strings.ReplaceAll(fmt.Sprint(xs), " ", ","), "[]")
}

func (r *report) markdown() string {
	var w bytes.Buffer
	pr := func(format string, args ...any) { fmt.Fprintf(&w, format+"\n", args...) }
	o := r.o
	pr("### payjs-close against a minimal Go Lambda, %s", r.when.Format("2006-01-02 15:04 MST"))
	pr("")
	pr("Command: `%s` (took %s), on %s.", r.command, r.took.Round(time.Second), r.machine)
	pr("Both bootstraps under aws-lambda-rie, all traffic on 127.0.0.1. **loopback**: moto as Secrets Manager, the PAYJS simulator over HTTP; "+
		"%d cold starts of each function, %d warm invokes after each. **WAN**: moto at %s and the simulator over TLS at %s round trip, "+
		"through cmd/bench's delaying proxy; %d cold starts of each, %d warm invokes after each.",
		o.cold, o.warm, o.secretsRTT, o.payjsRTT, o.wanCold, o.wanWarm)
	pr("")
	pr("| profile | measure | target | %s | %s | ratio | result |", ours, baseline)
	pr("| --- | --- | --- | ---: | ---: | ---: | --- |")
	for _, x := range r.rows() {
		ratio, t := "–", "–"
		if x.b != 0 {
			ratio = fmt.Sprintf("%.2f×", x.ratio())
		}
		if x.goal != nil {
			t = x.goal.text
		}
		pr("| %s | %s | %s | %s | %s | %s | %s |", x.profile, x.measure, t, x.ours, x.peer, ratio, x.result())
	}
	pr("")
	floor := max(2*o.secretsRTT, 2*o.payjsRTT) + o.payjsRTT
	pr("Medians over the cold starts, range in parentheses; warm figures over every warm invoke. Start is the invoke sent to a fresh emulator, "+
		"which starts the bootstrap. The WAN floor for start → first close is max(secret fetch %s, PAYJS TCP + TLS %s) + one PAYJS round trip = %s, "+
		"plus the process's own start and CPU.", 2*o.secretsRTT, 2*o.payjsRTT, floor)
	pr("")
	pr("FAIL marks a target this run missed. Bench numbers are noisy: other work on the machine moves a run's medians by more than some targets' " +
		"margins (cmd/bench/README.md keeps the ranges of repeated runs), so the command exits 0 either way; read a FAIL against repeated runs.")
	return w.String()
}

// commandLine is the command as typed, for the report.
func commandLine(args []string) string {
	return strings.Join(append([]string{"go run ./cmd/bench"}, args[1:]...), " ")
}
