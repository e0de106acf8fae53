// Package testlog collects, for tests, what a program under test prints
// from goroutines of its own (an emulator's output copier, a handler's
// logger, a server's banner, a child process's output) while the test
// reads it. Its Buffer is the module's one locked writer for tests: the
// tests of handler/ and cmd/ and the child processes of package testproc
// share it, which is why it lives in cmd/testkit rather than cmd/internal.
//
//	out := &testlog.Buffer{}
//	banner := out.Watch(regexp.MustCompile(`listening on (\S+)`))
//	go run(ctx, out)
//	addr := (<-banner)[1]
//	...
//	if strings.Contains(out.String(), key) { ... }
package testlog

import (
	"bytes"
	"regexp"
	"sync"
)

// Buffer is a bytes.Buffer that is safe for concurrent use: an io.Writer
// for the program, read by the test with String. The zero value is ready.
type Buffer struct {
	// Limit, when above zero, makes the Buffer a tail: it keeps only the
	// last Limit bytes written, as for a long-running process's output.
	// Set it before the first Write.
	Limit int

	mu      sync.Mutex
	b       bytes.Buffer
	watches []watch
}

// watch is a pattern a test waits for.
type watch struct {
	re    *regexp.Regexp
	found chan []string
}

// Write appends p, drops what is over Limit, and tells each watch whose
// pattern the whole text now matches.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.b.Write(p)
	if over := b.b.Len() - b.Limit; b.Limit > 0 && over > 0 {
		b.b.Next(over)
	}
	b.notify()
	return n, err
}

// String returns everything written so far (the last Limit bytes of it,
// with a Limit).
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Watch returns a channel that receives re's submatches (as
// FindStringSubmatch returns them) once the text written so far (what is
// kept of it, with a Limit) matches re, so that a test waits for a line
// rather than for a while. The channel receives at most once and is never
// closed.
func (b *Buffer) Watch(re *regexp.Regexp) <-chan []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	w := watch{re: re, found: make(chan []string, 1)}
	b.watches = append(b.watches, w)
	b.notify()
	return w.found
}

// notify sends the submatches to each watch that matches and drops it.
// b.mu is held.
func (b *Buffer) notify() {
	if len(b.watches) == 0 {
		return
	}
	text := b.b.String()
	kept := b.watches[:0]
	for _, w := range b.watches {
		if m := w.re.FindStringSubmatch(text); m != nil {
			w.found <- m // buffered, and sent to once
			continue
		}
		kept = append(kept, w)
	}
	b.watches = kept
}
