package main

import (
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// proxy forwards TCP connections to a target and delays everything the target sends back,
// adding that much to every round trip, as a shard in another region would.
type proxy struct {
	ln     net.Listener
	port   int
	target string
	delay  atomic.Int64 // nanoseconds
}

func startProxy(target string) (*proxy, error) {
	ln, port, err := postgrestest.ListenLocal()
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, port: port, target: target}
	go p.serve()
	return p, nil
}

func (p *proxy) setDelay(d time.Duration) { p.delay.Store(int64(d)) }

func (p *proxy) close() error { return p.ln.Close() }

func (p *proxy) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(client)
	}
}

func (p *proxy) handle(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	go func() {
		_, _ = io.Copy(server, client) // ends when either side closes; the close says the rest
		server.Close()
	}()
	p.delayed(client, server)
	client.Close()
}

type chunk struct {
	at   time.Time
	data []byte
}

// delayed copies src to dst, each chunk no earlier than its arrival plus the delay; chunks
// keep flowing meanwhile, so the delay adds latency without cutting throughput.
func (p *proxy) delayed(dst, src net.Conn) {
	chunks := make(chan chunk, 1024)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 32*1024)
			n, err := src.Read(buf)
			if n > 0 {
				chunks <- chunk{at: time.Now(), data: buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range chunks {
		if wait := time.Until(c.at.Add(time.Duration(p.delay.Load()))); wait > 0 {
			time.Sleep(wait)
		}
		if _, err := dst.Write(c.data); err != nil {
			return
		}
	}
}
