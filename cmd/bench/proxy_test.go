package main

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"
)

// slack is how much later than its delay a byte may arrive on a busy
// 2-core machine before the test calls the proxy wrong. The lower bound
// is exact: the proxy must never deliver early.
const slack = 250 * time.Millisecond

func startProxy(t *testing.T, target string, up, down time.Duration) *delayProxy {
	t.Helper()
	p, err := startDelayProxy(t.Context(), proxyConfig{Target: target, Up: up, Down: down})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	var d net.Dialer
	c, err := d.DialContext(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func within(t *testing.T, what string, got, want time.Duration) {
	t.Helper()
	if got < want || got > want+slack {
		t.Errorf("%s took %v, want %v (up to %v more on a busy machine)", what, got, want, slack)
	} else {
		t.Logf("%s took %v for %v", what, got, want)
	}
}

// TestProxyDelaysEachDirectionByItsOwnDelay times single bytes each way
// between a client and a server in this process, so that both ends are
// read on one clock: the first byte up also waits for the round trip of
// the emulated TCP handshake; the next ones only for the way they go.
func TestProxyDelaysEachDirectionByItsOwnDelay(t *testing.T) {
	const up, down = 60 * time.Millisecond, 20 * time.Millisecond
	ln := listen(t)
	p := startProxy(t, ln.Addr().String(), up, down)

	type stamp struct {
		at  time.Time
		err error
	}
	arrived := make(chan stamp)
	reply := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			arrived <- stamp{err: err}
			return
		}
		defer func() { _ = c.Close() }()
		buf := make([]byte, 1)
		for range 2 {
			_, err := io.ReadFull(c, buf)
			arrived <- stamp{time.Now(), err}
			if err != nil {
				return
			}
			<-reply
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}()

	connected := time.Now()
	c := dial(t, p.Addr)
	buf := make([]byte, 1)
	for i, want := range []time.Duration{up + down + up, up} {
		sent := time.Now()
		if i == 0 {
			sent = connected
		}
		if _, err := c.Write([]byte{byte('a' + i)}); err != nil {
			t.Fatal(err)
		}
		s := <-arrived
		if s.err != nil {
			t.Fatal(s.err)
		}
		what := "a byte up"
		if i == 0 {
			what = "the first byte up, after connect"
		}
		within(t, what, s.at.Sub(sent), want)

		answered := time.Now()
		reply <- struct{}{}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		within(t, "a byte down", time.Since(answered), down)
		if buf[0] != byte('a'+i) {
			t.Errorf("echoed %q, want %q", buf[0], byte('a'+i))
		}
	}
}

// TestProxyCarriesEveryByteInOrder sends 4 MiB in writes of random sizes
// through the proxy to an echo server and back, half-closes, and wants
// the same bytes back, then the end of the stream.
func TestProxyCarriesEveryByteInOrder(t *testing.T) {
	ln := listen(t)
	serveOne(ln, func(c net.Conn) { _, _ = io.Copy(c, c) }) // echo until the client half-closes
	p := startProxy(t, ln.Addr().String(), 2*time.Millisecond, 3*time.Millisecond)
	c := dial(t, p.Addr)

	rng := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // write sizes, not a secret
	data := make([]byte, 4<<20)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(data) // never fails
	sent := make(chan error, 1)
	go func() {
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(3*chunkSize))
			if _, err := c.Write(rest[:n]); err != nil {
				sent <- err
				return
			}
			rest = rest[n:]
		}
		tc, ok := c.(*net.TCPConn)
		if !ok {
			sent <- errors.New("not a TCP connection")
			return
		}
		sent <- tc.CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		i := 0
		for i < min(len(got), len(data)) && got[i] == data[i] {
			i++
		}
		t.Fatalf("got %d bytes back for %d sent, first difference at byte %d", len(got), len(data), i)
	}
}

// TestProxyStopsByItself: past its lifetime the proxy closes its
// listener and the connections it carries, though nobody closed it.
func TestProxyStopsByItself(t *testing.T) {
	ln := listen(t)
	serveOne(ln, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	p, err := startDelayProxy(t.Context(), proxyConfig{Target: ln.Addr().String(), Lifetime: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, p.Addr)
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the proxy still runs 10 s after its lifetime of 300 ms")
	}
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("read on a connection of the stopped proxy: %v, want the connection closed", err)
	}
	var d net.Dialer
	if c, err := d.DialContext(t.Context(), "tcp", p.Addr); err == nil {
		_ = c.Close()
		t.Error("the stopped proxy still accepts connections")
	}
	p.Close() // a second stop does nothing
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestProxyForwardsToLoopbackOnly(t *testing.T) {
	for _, target := range []string{"192.0.2.1:443", "example.com:443", "0.0.0.0:80", "127.0.0.1"} {
		if p, err := startDelayProxy(t.Context(), proxyConfig{Target: target}); err == nil {
			p.Close()
			t.Errorf("target %q: want an error", target)
		}
	}
}

// serveOne accepts one connection on ln, in the background, serves it
// with serve and closes it.
func serveOne(ln net.Listener, serve func(net.Conn)) {
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer func() { _ = c.Close() }()
		serve(c)
	}()
}
