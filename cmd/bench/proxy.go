package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Limits of a delayProxy. A chunk is what one read returns; holding at
// most maxInFlight of them per direction bounds the memory a connection
// takes (2 MiB each way) and makes a fast sender wait, as a full TCP
// window would.
const (
	chunkSize        = 32 << 10
	maxInFlight      = 64
	maxProxyConns    = 256
	maxProxyLifetime = time.Hour
	proxyDialTimeout = 5 * time.Second
)

// proxyConfig configures startDelayProxy.
type proxyConfig struct {
	// Target is the host:port the proxy forwards to; a loopback address
	// only, so that the proxy can never reach past this machine.
	Target string
	// Up is the one-way delay from the client to the target, Down from
	// the target to the client: their sum is the round trip.
	Up, Down time.Duration
	// Lifetime is how long the proxy runs before it stops by itself,
	// whether or not it is closed: at most maxProxyLifetime, which a
	// zero value means.
	Lifetime time.Duration
}

// delayProxy listens on 127.0.0.1 and forwards each connection to its
// target, delaying the data in each direction so that a service on
// loopback is as far away as one across a network. Each direction of a
// connection has a reader, which timestamps every chunk as it arrives,
// and a writer, which sends the chunks on in order, each once its
// timestamp plus the direction's delay has passed (a half-close too):
// the delay applies to every byte, not only to the connect.
//
// The client's kernel completes the TCP handshake against the proxy at
// once, so the proxy plays its round trip instead: the client's data is
// not released before Up+Down after the connection was accepted, as a
// client cannot send before the server's SYN-ACK has come back. A new
// HTTPS connection therefore costs what it costs across a network: one
// round trip for TCP, one for TLS 1.3, one for the request. Bandwidth,
// loss and TCP's slow start are not modeled: a close is a few hundred
// bytes each way.
type delayProxy struct {
	// Addr is the proxy's host:port on 127.0.0.1, to dial instead of
	// the target.
	Addr string

	cfg     proxyConfig
	ln      net.Listener
	ctx     context.Context // the proxy's lifetime, which its connections share
	cancel  context.CancelFunc
	stopped chan struct{} // closed once the listener and every connection are closed
	wg      sync.WaitGroup

	mu    sync.Mutex
	conns map[*relay]struct{}
}

// startDelayProxy starts a proxy for cfg. It stops when ctx is done,
// when cfg.Lifetime has passed, or on Close, whichever comes first.
func startDelayProxy(ctx context.Context, cfg proxyConfig) (*delayProxy, error) {
	host, _, err := net.SplitHostPort(cfg.Target)
	if err != nil {
		return nil, fmt.Errorf("delaying proxy: target %q: %w", cfg.Target, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("delaying proxy: target %q is not a loopback address", cfg.Target)
	}
	if cfg.Up < 0 || cfg.Down < 0 {
		return nil, errors.New("delaying proxy: a delay cannot be negative")
	}
	if cfg.Lifetime <= 0 || cfg.Lifetime > maxProxyLifetime {
		cfg.Lifetime = maxProxyLifetime
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("delaying proxy: %w", err)
	}
	p := &delayProxy{
		Addr:    ln.Addr().String(),
		cfg:     cfg,
		ln:      ln,
		stopped: make(chan struct{}),
		conns:   map[*relay]struct{}{},
	}
	p.ctx, p.cancel = context.WithTimeout(ctx, cfg.Lifetime)
	p.wg.Go(p.accept)
	go func() {
		<-p.ctx.Done()
		_ = p.ln.Close() // ends accept
		p.mu.Lock()
		for r := range p.conns {
			r.stop()
		}
		p.mu.Unlock()
		p.wg.Wait()
		close(p.stopped)
	}()
	return p, nil
}

// Close stops the proxy and waits until its listener and every
// connection are closed. Calling it again does nothing.
func (p *delayProxy) Close() {
	p.cancel()
	<-p.stopped
}

// Done is closed once the proxy has stopped, on Close or by itself.
func (p *delayProxy) Done() <-chan struct{} { return p.stopped }

func (p *delayProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // the listener is closed: the proxy stops
		}
		r := &relay{client: c, accepted: time.Now(), done: make(chan struct{})}
		p.mu.Lock()
		full, stopping := len(p.conns) >= maxProxyConns, p.ctx.Err() != nil
		if !full && !stopping {
			p.conns[r] = struct{}{}
		}
		p.mu.Unlock()
		if full || stopping {
			_ = c.Close() // refused: the client sees a reset
			continue
		}
		p.wg.Go(func() {
			p.serve(r)
			p.mu.Lock()
			delete(p.conns, r)
			p.mu.Unlock()
		})
	}
}

// relay is one client connection and its connection to the target.
type relay struct {
	client   net.Conn
	accepted time.Time
	once     sync.Once
	done     chan struct{} // closed by stop

	mu       sync.Mutex
	upstream net.Conn // nil until dialed
}

// stop closes both connections, which ends every goroutine of the relay.
func (r *relay) stop() {
	r.once.Do(func() {
		close(r.done)
		_ = r.client.Close() // closing is the point; an error changes nothing
		r.mu.Lock()
		if r.upstream != nil {
			_ = r.upstream.Close()
		}
		r.mu.Unlock()
	})
}

func (p *delayProxy) serve(r *relay) {
	defer r.stop()
	d := net.Dialer{Timeout: proxyDialTimeout}
	up, err := d.DialContext(p.ctx, "tcp", p.cfg.Target)
	if err != nil {
		return // the client sees its connection closed, as on a refused connect
	}
	r.mu.Lock()
	r.upstream = up
	r.mu.Unlock()
	select {
	case <-r.done: // stopped while dialing
		_ = up.Close() // stop ran before upstream was set
		return
	default:
	}
	handshake := r.accepted.Add(p.cfg.Up + p.cfg.Down)
	var wg sync.WaitGroup
	wg.Go(func() { pump(r, r.client, up, p.cfg.Up, handshake) })
	wg.Go(func() { pump(r, up, r.client, p.cfg.Down, time.Time{}) })
	wg.Wait()
}

// chunk is what one read returned, or the end of the stream, and when.
type chunk struct {
	data []byte
	eof  bool
	at   time.Time
}

// pump carries one direction of r from src to dst: a reader goroutine
// timestamps each chunk as it arrives, and pump writes the chunks in the
// order they came, each at max(its time, notBefore) + delay. It returns
// once the end of src has been passed on (dst is half-closed) or either
// connection failed (then r is stopped).
func pump(r *relay, src, dst net.Conn, delay time.Duration, notBefore time.Time) {
	chunks := make(chan chunk, maxInFlight)
	go func() {
		defer close(chunks)
		buf := make([]byte, chunkSize)
		for {
			n, err := src.Read(buf)
			at := time.Now()
			var got []chunk
			if n > 0 {
				got = append(got, chunk{data: bytes.Clone(buf[:n]), at: at})
			}
			if errors.Is(err, io.EOF) {
				got = append(got, chunk{eof: true, at: at})
			}
			for _, c := range got {
				select {
				case chunks <- c:
				case <-r.done:
					return
				}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					r.stop() // a reset or a closed connection: both sides go
				}
				return
			}
		}
	}()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for c := range chunks {
		release := c.at
		if release.Before(notBefore) {
			release = notBefore
		}
		if wait := time.Until(release.Add(delay)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-r.done:
				return
			}
		}
		if c.eof {
			if tc, ok := dst.(*net.TCPConn); ok {
				_ = tc.CloseWrite() // the peer reads the end; if it is gone, the other direction finds out
			}
			return
		}
		if _, err := dst.Write(c.data); err != nil {
			r.stop()
			return
		}
	}
}
