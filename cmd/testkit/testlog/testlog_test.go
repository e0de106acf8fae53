package testlog_test

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/payjs-close/payjs-close/cmd/testkit/testlog"
)

func TestBufferKeepsConcurrentWritesWhole(t *testing.T) {
	t.Parallel()
	var b testlog.Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				_, _ = fmt.Fprintf(&b, "writer %d line %d\n", i, j)
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 800 {
		t.Fatalf("%d lines, want 800", len(lines))
	}
	line := regexp.MustCompile(`^writer \d line \d+$`)
	for _, l := range lines {
		if !line.MatchString(l) {
			t.Fatalf("a write was torn: %q", l)
		}
	}
}

func TestWatchTellsOnceWhenTheTextMatches(t *testing.T) {
	t.Parallel()
	var b testlog.Buffer
	_, _ = b.Write([]byte("starting\n"))
	banner := b.Watch(regexp.MustCompile(`listening on (\S+)\n`))
	already := b.Watch(regexp.MustCompile(`start(ing)`))
	select {
	case m := <-already:
		if m[1] != "ing" {
			t.Errorf("submatches %q", m)
		}
	default:
		t.Error("a watch of text written before Watch did not fire at once")
	}
	select {
	case m := <-banner:
		t.Fatalf("fired before the banner: %q", m)
	default:
	}
	_, _ = b.Write([]byte("listening on 127.0.0.1:8080"))
	select {
	case m := <-banner:
		t.Fatalf("fired on a partial line: %q", m)
	default:
	}
	_, _ = b.Write([]byte("\nlistening on 127.0.0.1:9090\n"))
	if m := <-banner; m[1] != "127.0.0.1:8080" {
		t.Errorf("submatches %q, want the first address", m)
	}
	select {
	case m := <-banner:
		t.Errorf("fired twice: %q", m)
	default:
	}
}

func TestLimitKeepsTheTail(t *testing.T) {
	t.Parallel()
	b := testlog.Buffer{Limit: 10}
	_, _ = b.Write([]byte("0123456789"))
	if got := b.String(); got != "0123456789" {
		t.Errorf("at the limit: %q", got)
	}
	n, err := b.Write([]byte("abcd"))
	if n != 4 || err != nil {
		t.Errorf("Write = %d, %v; want all of it taken", n, err)
	}
	if got := b.String(); got != "456789abcd" {
		t.Errorf("over the limit: %q, want the last 10 bytes", got)
	}
	_, _ = b.Write([]byte(strings.Repeat("x", 25) + "end"))
	if got := b.String(); got != "xxxxxxxend" {
		t.Errorf("one write over the limit: %q", got)
	}
	tail := b.Watch(regexp.MustCompile(`x+end`))
	select {
	case <-tail:
	default:
		t.Error("a watch of the kept text did not fire")
	}
	if gone := b.Watch(regexp.MustCompile(`abcd`)); len(gone) != 0 {
		t.Error("a watch matched text dropped by the limit")
	}

	var unlimited testlog.Buffer
	_, _ = unlimited.Write([]byte(strings.Repeat("y", 1<<16)))
	if n := len(unlimited.String()); n != 1<<16 {
		t.Errorf("the zero value kept %d bytes, want all %d", n, 1<<16)
	}
}
