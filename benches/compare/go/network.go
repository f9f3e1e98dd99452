package main

// The network workloads of shared/bench/WORKLOADS.md (loopback TCP).

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// ---------------------------------------------------------------- N1 echo

const (
	n1Clients = 200 // client goroutines, each over its own connection
	n1MsgLen  = 64  // bytes per message
)

// n1Msg fills msg with client id's message for round r: id and r (little-endian u32s), then
// bytes that depend on both, so a reply from another client or round cannot pass the check.
func n1Msg(msg []byte, id, r int) {
	binary.LittleEndian.PutUint32(msg[0:], uint32(id))
	binary.LittleEndian.PutUint32(msg[4:], uint32(r))
	for j := 8; j < len(msg); j++ {
		msg[j] = byte(id + r + j)
	}
}

// firstErr keeps the first error any goroutine reports.
type firstErr struct {
	mu  sync.Mutex
	err error
}

func (f *firstErr) set(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

func (f *firstErr) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// n1Echo: a goroutine-per-connection TCP echo server on 127.0.0.1 (each handler reads into a
// 64-byte buffer and writes back all it read, until EOF); n1Clients client goroutines each
// dial their own connection and make n round trips of a 64-byte message (write it, io.ReadFull
// 64 bytes back, compare every byte). TCP_NODELAY on both ends (Go's default, set explicitly).
// Untimed: listening, dialling and accepting all connections (the clients then wait at a
// start gate, a closed channel). Timed: from opening the gate until every client is done.
// After the timer, every handler must have seen its client's EOF.
func n1Echo(n int) (string, error) {
	d, err := withWarmup(n, func(n int) (time.Duration, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		addr := ln.Addr().String()
		var errs firstErr
		// ready: every client connected, and the accept loop has accepted them all.
		var ready, done, handlers sync.WaitGroup
		start := make(chan struct{})
		ready.Add(n1Clients + 1)
		handlers.Add(n1Clients)
		go func() { // accept loop: exactly n1Clients connections, a goroutine each
			defer ln.Close()
			defer ready.Done()
			for i := 0; i < n1Clients; i++ {
				c, err := ln.Accept()
				if err != nil {
					errs.set(fmt.Errorf("accept: %w", err))
					for ; i < n1Clients; i++ {
						handlers.Done()
					}
					return
				}
				if err := c.(*net.TCPConn).SetNoDelay(true); err != nil {
					errs.set(err)
				}
				go func(c net.Conn) { // echo handler
					defer handlers.Done()
					defer c.Close()
					buf := make([]byte, n1MsgLen)
					for {
						k, err := c.Read(buf)
						if k > 0 {
							if _, werr := c.Write(buf[:k]); werr != nil {
								errs.set(fmt.Errorf("server write: %w", werr))
								return
							}
						}
						if err == io.EOF {
							return
						}
						if err != nil {
							errs.set(fmt.Errorf("server read: %w", err))
							return
						}
					}
				}(c)
			}
		}()
		done.Add(n1Clients)
		for id := 0; id < n1Clients; id++ {
			go func(id int) { // client
				c, err := net.Dial("tcp", addr)
				if err == nil {
					err = c.(*net.TCPConn).SetNoDelay(true)
				}
				ready.Done()
				<-start
				defer done.Done()
				if err != nil {
					errs.set(fmt.Errorf("client %d dial: %w", id, err))
					return
				}
				defer c.Close()
				msg := make([]byte, n1MsgLen)
				got := make([]byte, n1MsgLen)
				for r := 0; r < n; r++ {
					n1Msg(msg, id, r)
					if _, err := c.Write(msg); err != nil {
						errs.set(fmt.Errorf("client %d round %d write: %w", id, r, err))
						return
					}
					if _, err := io.ReadFull(c, got); err != nil {
						errs.set(fmt.Errorf("client %d round %d read: %w", id, r, err))
						return
					}
					if !bytes.Equal(got, msg) {
						errs.set(fmt.Errorf("client %d round %d: echoed % x, sent % x", id, r, got, msg))
						return
					}
				}
			}(id)
		}
		ready.Wait()
		t0 := time.Now()
		close(start)
		done.Wait()
		d := time.Since(t0)
		handlers.Wait()
		if err := errs.get(); err != nil {
			return 0, err
		}
		return d, nil
	})
	return "ns_per_op=" + nsPer(d, n1Clients*n), err
}
