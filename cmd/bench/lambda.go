package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/payjs-close/payjs-close/cmd/internal/devstack"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

// bench holds the running stack: moto and the simulator (from devstack),
// and one emulator per function.
type bench struct {
	o      options
	log    io.Writer // progress, to stderr
	root   string
	tmp    string
	stack  *devstack.Stack
	funcs  []*function
	sizes  map[string]map[string]int64 // function name -> GOARCH -> bytes
	nextID int
}

// function is a bootstrap under its own emulator, with its output.
type function struct {
	name string // "payjs-close" or "baseline"
	emu  *devstack.Emulator
	out  *lines
	// ok reports whether an invoke's answer is a successful close.
	ok func(answer []byte) bool
}

// The two functions under the emulator.
const (
	ours     = "payjs-close"
	baseline = "baseline"
)

func newBench(ctx context.Context, o options, log io.Writer) (_ *bench, err error) {
	b := &bench{o: o, log: log, sizes: map[string]map[string]int64{}}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	if b.root, err = devstack.Root(); err != nil {
		return nil, err
	}
	rie, err := devstack.FindRIE(b.root, os.Getenv)
	if err != nil {
		return nil, err
	}
	if b.tmp, err = os.MkdirTemp("", "payjs-close-bench-"); err != nil {
		return nil, err
	}

	b.progress("building the bootstraps (linux/arm64, linux/amd64 and this machine's) ...")
	pkgs := map[string]string{ours: "./cmd/closeorder", baseline: "./cmd/bench/baseline"}
	runBin := map[string]string{}
	for name, pkg := range pkgs {
		runBin[name] = filepath.Join(b.tmp, name, "bootstrap")
		if err := devstack.Build(ctx, b.root, pkg, runBin[name]); err != nil {
			return nil, err
		}
		b.sizes[name] = map[string]int64{}
		for _, arch := range []string{"arm64", "amd64"} {
			out := filepath.Join(b.tmp, name, "linux-"+arch)
			if err := crossBuild(ctx, b.root, pkg, arch, out); err != nil {
				return nil, err
			}
			fi, err := os.Stat(out)
			if err != nil {
				return nil, err
			}
			b.sizes[name][arch] = fi.Size()
		}
	}

	b.progress("starting moto, the PAYJS simulator and the emulators ...")
	verbose := io.Discard
	if o.verbose {
		verbose = log
	}
	oursOut := &lines{copy: verbose}
	if b.stack, err = devstack.Start(ctx, devstack.Options{Root: b.root, Bootstrap: runBin[ours], RIE: rie, Output: oursOut}); err != nil {
		return nil, err
	}
	b.funcs = append(b.funcs, &function{name: ours, emu: b.stack.Emulator, out: oursOut, ok: oursClosed})
	baseOut := &lines{copy: verbose}
	emu, err := devstack.StartEmulator(ctx, devstack.EmulatorOptions{RIE: rie, Bootstrap: runBin[baseline], Env: b.stack.Env(), Output: baseOut})
	if err != nil {
		return nil, err
	}
	b.funcs = append(b.funcs, &function{name: baseline, emu: emu, out: baseOut, ok: baselineClosed})
	return b, nil
}

func (b *bench) close() {
	for _, f := range b.funcs {
		if f.name != ours { // the stack closes its own
			f.emu.Close()
		}
	}
	if b.stack != nil {
		b.stack.Close()
	}
	if b.tmp != "" {
		_ = os.RemoveAll(b.tmp) // a temporary directory
	}
}

func (b *bench) progress(format string, args ...any) {
	_, _ = fmt.Fprintf(b.log, "bench: "+format+"\n", args...) // progress only
}

// crossBuild builds pkg for linux/arch as the Makefile builds the Lambda
// bootstrap.
func crossBuild(ctx context.Context, root, pkg, arch, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg) //nolint:gosec // G204: the go command with our own packages and a temporary output path
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s for linux/%s: %w\n%s", pkg, arch, err, bytes.TrimSpace(b))
	}
	return nil
}

// orderID adds a new unpaid order of the demo merchant to the simulator
// and returns its id.
func (b *bench) orderID() string {
	b.nextID++
	id := fmt.Sprintf("2026112590%018d", b.nextID)
	b.stack.Sim.AddOrder(payjstest.Order{ID: id, MchID: payjstest.DemoMchID})
	return id
}

// sandbox is what one cold start and its warm invokes showed.
type sandbox struct {
	coldTotal   time.Duration // emulator start to first response
	coldInvoke  time.Duration // the first invoke, as the caller saw it
	coldSent    time.Time     // when it was sent
	coldDone    time.Time     // when its answer arrived
	initSeen    time.Duration // from coldSent to the bootstrap's init line
	afterInit   time.Duration // from the init line to the first answer
	rieFirst    float64       // the emulator's Duration of the first invoke, ms
	selfInit    float64       // the bootstrap's own init_ms
	keyMS       float64       // ours: key_ms of the init line
	warmMS      float64       // ours: warm_ms of the init line
	firstClose  float64       // latency_ms of the first close line
	warm        []time.Duration
	warmCloses  []float64 // latency_ms of the warm close lines
	peakRSS     int64
	connsCold   int // TCP connections to PAYJS opened by init and the first invoke
	connsWarm   int // ... by the warm invokes
	secretsCold int // GetSecretValue calls by init and the first invoke
	secretsWarm int // ... by the warm invokes
}

// coldStart restarts f's emulator, invokes it once (the cold start) and
// warm more times.
func (b *bench) coldStart(ctx context.Context, f *function, warm int) (*sandbox, error) {
	if err := f.emu.Restart(ctx); err != nil {
		return nil, err
	}
	mark := f.out.mark()
	sim, moto := b.stack.Sim, b.stack.Moto
	conns0, secrets0 := sim.Connections(), moto.Calls("GetSecretValue")
	var s sandbox

	invoke := func() (time.Duration, error) {
		payload := []byte(`{"payjs_order_id":"` + b.orderID() + `","mchid":"` + payjstest.DemoMchID + `"}`)
		ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		t := time.Now()
		out, err := f.emu.Invoke(ictx, payload)
		done := time.Now()
		d := done.Sub(t)
		if s.coldSent.IsZero() {
			s.coldSent, s.coldDone = t, done
		}
		if err != nil {
			return 0, fmt.Errorf("%s: invoke: %w", f.name, err)
		}
		if !f.ok(out) {
			return 0, fmt.Errorf("%s: the close failed: %s", f.name, out)
		}
		return d, nil
	}
	var err error
	if s.coldInvoke, err = invoke(); err != nil {
		return nil, err
	}
	s.coldTotal, _ = f.emu.FirstResponse()
	conns1, secrets1 := sim.Connections(), moto.Calls("GetSecretValue")
	s.connsCold, s.secretsCold = conns1-conns0, secrets1-secrets0
	for range warm {
		d, err := invoke()
		if err != nil {
			return nil, err
		}
		s.warm = append(s.warm, d)
	}
	s.connsWarm, s.secretsWarm = sim.Connections()-conns1, moto.Calls("GetSecretValue")-secrets1
	if s.peakRSS, err = f.emu.PeakRSS(); err != nil {
		return nil, fmt.Errorf("%s: peak RSS: %w", f.name, err)
	}
	if err := f.out.waitFor(ctx, mark, "REPORT RequestId", warm+1); err != nil {
		return nil, fmt.Errorf("%s: %w", f.name, err)
	}
	if err := s.parse(f.out.since(mark)); err != nil {
		return nil, fmt.Errorf("%s: %w", f.name, err)
	}
	return &s, nil
}

// reDuration finds the invoke's Duration in the emulator's REPORT line.
// (Its Init Duration says nothing here: the emulator starts the
// bootstrap within the first invoke.)
var reDuration = regexp.MustCompile(`\tDuration: ([0-9.]+) ms`)

// parse reads the emulator's REPORT lines and the function's init and
// close lines.
func (s *sandbox) parse(out []line) error {
	reports, closes := 0, 0
	var initAt time.Time
	for _, ln := range out {
		l := ln.text
		if strings.HasPrefix(l, "REPORT RequestId") {
			if reports == 0 {
				d := reDuration.FindStringSubmatch(l)
				if d == nil {
					return fmt.Errorf("the first REPORT line has no Duration: %q", l)
				}
				s.rieFirst, _ = strconv.ParseFloat(d[1], 64)
			}
			reports++
			continue
		}
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var rec struct {
			Msg       string   `json:"msg"`
			Message   string   `json:"message"`
			InitMS    *float64 `json:"init_ms"`
			KeyMS     float64  `json:"key_ms"`
			WarmMS    float64  `json:"warm_ms"`
			LatencyMS *float64 `json:"latency_ms"`
		}
		if json.Unmarshal([]byte(l), &rec) != nil {
			continue
		}
		switch msg := rec.Msg + rec.Message; {
		case msg == "init" && rec.InitMS != nil:
			s.selfInit, s.keyMS, s.warmMS = *rec.InitMS, rec.KeyMS, rec.WarmMS
			initAt = ln.at
		case msg == "close" && rec.LatencyMS != nil:
			if closes == 0 {
				s.firstClose = *rec.LatencyMS
			} else {
				s.warmCloses = append(s.warmCloses, *rec.LatencyMS)
			}
			closes++
		}
	}
	if reports == 0 {
		return errors.New("no REPORT line from the emulator")
	}
	if s.selfInit == 0 {
		return errors.New(`no "init" line with init_ms from the bootstrap`)
	}
	if closes == 0 {
		return errors.New(`no "close" line with latency_ms from the bootstrap`)
	}
	s.initSeen = initAt.Sub(s.coldSent)
	s.afterInit = s.coldDone.Sub(initAt)
	return nil
}

// oursClosed reports whether payjs-close answered a successful close.
func oursClosed(answer []byte) bool {
	var r struct {
		OK     bool   `json:"ok"`
		Status string `json:"status"`
	}
	return json.Unmarshal(answer, &r) == nil && r.OK && r.Status == "closed"
}

// baselineClosed reports whether the baseline returned PAYJS's success.
func baselineClosed(answer []byte) bool {
	var r struct {
		ReturnCode int `json:"return_code"`
	}
	return json.Unmarshal(answer, &r) == nil && r.ReturnCode == 1
}

// lines keeps every line written to it (the emulator's and the function's
// output), and copies the output on.
type lines struct {
	copy    io.Writer
	mu      sync.Mutex
	partial []byte
	all     []line
	changed chan struct{} // closed and replaced on every new line
}

// line is one line of output and when it arrived.
type line struct {
	at   time.Time
	text string
}

func (l *lines) Write(p []byte) (int, error) {
	_, _ = l.copy.Write(p) // progress output only
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	added, now := false, time.Now()
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.all = append(l.all, line{now, strings.TrimRight(string(l.partial[:i]), "\r")})
		l.partial = l.partial[i+1:]
		added = true
	}
	if added && l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
	return len(p), nil
}

// mark returns the number of lines so far.
func (l *lines) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.all)
}

// since returns the lines after mark.
func (l *lines) since(mark int) []line {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]line(nil), l.all[mark:]...)
}

// waitFor waits until n lines after mark start with prefix: the emulator
// prints its REPORT line after it has answered.
func (l *lines) waitFor(ctx context.Context, mark int, prefix string, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		l.mu.Lock()
		count := 0
		for _, s := range l.all[mark:] {
			if strings.HasPrefix(s.text, prefix) {
				count++
			}
		}
		if count >= n {
			l.mu.Unlock()
			return nil
		}
		if l.changed == nil {
			l.changed = make(chan struct{})
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d %q lines: got %d: %w", n, prefix, count, ctx.Err())
		}
	}
}
