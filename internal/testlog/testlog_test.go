package testlog_test

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/payjs-close/payjs-close/internal/testlog"
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
