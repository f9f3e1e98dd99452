package main

// The network workloads of shared/bench/WORKLOADS.md (loopback TCP).

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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

// ---------------------------------------------------------------- N2 http

const (
	n2Secs     = 10 // seconds of measured wrk load (-quick: 2, main.go's quickN)
	n2WarmSecs = 1  // untimed wrk warm-up before it (none with -quick)
	// n2SettleSecs: a pause before the server starts (none with -quick), as the Rust side's
	// N2_SETTLE_SECS: the machine settles after the workloads before N2.
	n2SettleSecs = 5
	n2Conns      = 100 // wrk's keep-alive connections
	n2Body       = "Hello, World!"
)

// serveHTTP is N2's server process (-serve KIND -addr ADDR): it prints "listening on ADDR"
// once it accepts, then serves until killed.
func serveHTTP(kind, addr string) error {
	switch kind {
	case "nethttp":
		return serveNetHTTP(addr)
	case "min":
		return serveMin(addr)
	}
	return fmt.Errorf("unknown server %q (nethttp, min)", kind)
}

// serveNetHTTP is what a Go user writes: net/http, one handler for "/".
func serveNetHTTP(addr string) error {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, n2Body)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Println("listening on", ln.Addr())
	return http.Serve(ln, nil)
}

// minResponse is the minimal server's one answer.
var minResponse = []byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"+
	"Content-Length: %d\r\n\r\n%s", len(n2Body), n2Body))

// serveMin is the like-for-like server: net and bufio only, a goroutine per connection that
// reads a request's lines up to the empty one and writes a fixed response, keep-alive, no
// parsing, routing or Date header (reported as the go-min system).
func serveMin(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Println("listening on", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func(c net.Conn) {
			defer c.Close()
			r := bufio.NewReader(c)
			for {
				for { // the request line and headers, up to the empty line
					line, err := r.ReadSlice('\n')
					if err != nil {
						return
					}
					if len(bytes.TrimRight(line, "\r\n")) == 0 {
						break
					}
				}
				if _, err := c.Write(minResponse); err != nil {
					return
				}
			}
		}(c)
	}
}

// n2HTTP runs N2 for net/http (the "go" line, returned) and for the minimal server (the
// "go-min" line, printed here): each server in its own process (this program with -serve),
// pinned with taskset to the second CPU this process may use, GOMAXPROCS=1; wrk (one thread,
// n2Conns connections, --latency) pinned to the first, for secs seconds after a warm-up.
func n2HTTP(secs int) (string, error) {
	cpus, err := allowedCPUs()
	if err != nil {
		return "", err
	}
	if len(cpus) < 2 {
		return "", errors.New("N2 pins wrk and the server to a CPU each; this process may use one")
	}
	var goLine string
	for _, kind := range []string{"nethttp", "min"} {
		m, err := n2Run(kind, secs, cpus[0], cpus[1])
		if err != nil {
			return "", fmt.Errorf("%s server: %w", kind, err)
		}
		if kind == "min" {
			fmt.Printf("N2 go-min %s\n", m)
		} else {
			goLine = m
		}
	}
	return goLine, nil
}

// allowedCPUs lists the CPUs this process may run on (/proc/self/status Cpus_allowed_list).
func allowedCPUs() ([]int, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		list, ok := strings.CutPrefix(l, "Cpus_allowed_list:")
		if !ok {
			continue
		}
		var cpus []int
		for _, part := range strings.Split(strings.TrimSpace(list), ",") {
			lo, hi, found := strings.Cut(part, "-")
			if !found {
				hi = lo
			}
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("Cpus_allowed_list %q", list)
			}
			for c := a; c <= b; c++ {
				cpus = append(cpus, c)
			}
		}
		return cpus, nil
	}
	return nil, errors.New("no Cpus_allowed_list in /proc/self/status")
}

// n2Run starts one server on a free loopback port, waits for its "listening on" line,
// checks two keep-alive GETs, then loads it with wrk; the metric text.
func n2Run(kind string, secs, wrkCPU, srvCPU int) (string, error) {
	if !quickMode {
		time.Sleep(n2SettleSecs * time.Second)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	l.Close()
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("taskset", "-c", strconv.Itoa(srvCPU), exe, "-serve", kind, "-addr", addr, "-procs", "1")
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start server under taskset: %w", err)
	}
	lines := make(chan string, 1)
	exited := make(chan struct{})
	go func() {
		// Its first line says it accepts; the rest is drained.
		r := bufio.NewReader(out)
		first, _ := r.ReadString('\n')
		lines <- first
		io.Copy(io.Discard, r)
		cmd.Wait()
		close(exited)
	}()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	select {
	case first := <-lines:
		if !strings.HasPrefix(first, "listening on") {
			return "", fmt.Errorf("server printed %q, want \"listening on %s\"", first, addr)
		}
	case <-time.After(30 * time.Second):
		return "", errors.New("no \"listening on\" line in 30 s")
	}
	if err := n2Check(addr); err != nil {
		return "", err
	}
	if !quickMode {
		if _, _, err := runWrk(wrkCPU, addr, n2WarmSecs); err != nil {
			return "", fmt.Errorf("warm-up: %w", err)
		}
	}
	t0 := time.Now()
	cpu0, err := procCPUSecs(cmd.Process.Pid)
	if err != nil {
		return "", err
	}
	m, wrkSecs, err := runWrk(wrkCPU, addr, secs)
	if err != nil {
		return "", err
	}
	cpu1, err := procCPUSecs(cmd.Process.Pid)
	if err != nil {
		return "", err
	}
	wall := time.Since(t0).Seconds()
	select {
	case <-exited:
		return "", errors.New("the server exited during the run")
	default:
	}
	// The CPU the server and wrk used during the run, in cores: which side was the limit.
	return fmt.Sprintf("%s server_cpu=%.2f wrk_cpu=%.2f", m, (cpu1-cpu0)/wall, wrkSecs/wall), nil
}

// procCPUSecs is the CPU time (user + system, all threads) process pid has used, in seconds
// (/proc/PID/stat's utime and stime, in USER_HZ ticks: 100 a second on Linux).
func procCPUSecs(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses: state is field 3, utime 14,
	// stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	u, err1 := strconv.ParseFloat(f[11], 64)
	s, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	return (u + s) / 100, nil
}

// n2Check makes two GET / over one connection; each must be answered 200 with body n2Body
// (and a Content-Length), the connection kept open between them.
func n2Check(addr string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	for i := 0; i < 2; i++ {
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
			return fmt.Errorf("request %d: write: %w", i, err)
		}
		status, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("request %d: read: %w", i, err)
		}
		if !strings.HasPrefix(status, "HTTP/1.1 200 ") {
			return fmt.Errorf("request %d: status line %q, want HTTP/1.1 200", i, status)
		}
		length := -1
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return fmt.Errorf("request %d: read header: %w", i, err)
			}
			line = strings.TrimRight(line, "\r\n")
			if line == "" {
				break
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				return fmt.Errorf("request %d: header line %q", i, line)
			}
			v = strings.TrimSpace(v)
			switch {
			case strings.EqualFold(k, "Content-Length"):
				if length, err = strconv.Atoi(v); err != nil {
					return fmt.Errorf("request %d: Content-Length %q", i, v)
				}
			case strings.EqualFold(k, "Connection") && v == "close":
				return fmt.Errorf("request %d: \"Connection: close\" on HTTP/1.1", i)
			}
		}
		if length < 0 {
			return fmt.Errorf("request %d: no Content-Length", i)
		}
		body := make([]byte, length)
		if _, err := io.ReadFull(r, body); err != nil {
			return fmt.Errorf("request %d: read body: %w", i, err)
		}
		if string(body) != n2Body {
			return fmt.Errorf("request %d: body %q, want %q", i, body, n2Body)
		}
	}
	return nil
}

// runWrk runs wrk for secs seconds on CPU cpu (one thread, n2Conns connections, --latency):
// the metric text from its report, and the CPU seconds wrk used.
func runWrk(cpu int, addr string, secs int) (string, float64, error) {
	cmd := exec.Command("taskset", "-c", strconv.Itoa(cpu), "wrk", "-t1", "--latency",
		"--timeout", "5s", fmt.Sprintf("-c%d", n2Conns), fmt.Sprintf("-d%ds", secs),
		"http://"+addr+"/")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", 0, fmt.Errorf("wrk (apt-get install -y wrk): %w: %s%s", err, out, stderr.Bytes())
	}
	m, err := parseWrk(string(out))
	if err != nil {
		return "", 0, fmt.Errorf("wrk output: %w:\n%s", err, out)
	}
	st := cmd.ProcessState
	return m, (st.UserTime() + st.SystemTime()).Seconds(), nil
}

// wrkMicros converts a wrk latency ("812.00us", "1.23ms", "2.00s", "1.00m") to microseconds.
func wrkMicros(s string) (float64, error) {
	i := strings.IndexFunc(s, func(r rune) bool { return r >= 'a' && r <= 'z' })
	if i < 0 {
		return 0, fmt.Errorf("latency %q", s)
	}
	v, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, fmt.Errorf("latency %q", s)
	}
	scale := map[string]float64{"us": 1, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}[s[i:]]
	if scale == 0 {
		return 0, fmt.Errorf("latency unit %q", s)
	}
	return v * scale, nil
}

// parseWrk reads requests/s, the p50 and p99 latency, socket errors and non-2xx (or 3xx)
// responses from wrk's --latency report.
func parseWrk(text string) (string, error) {
	rps, p50, p99 := -1.0, -1.0, -1.0
	var socketErrors, non2xx int
	inDist := false
	for _, line := range strings.Split(text, "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "Latency Distribution") {
			inDist = true
			continue
		}
		if f := strings.Fields(l); inDist {
			switch {
			case len(f) == 2 && f[0] == "50%":
				v, err := wrkMicros(f[1])
				if err != nil {
					return "", err
				}
				p50 = v
			case len(f) == 2 && f[0] == "99%":
				v, err := wrkMicros(f[1])
				if err != nil {
					return "", err
				}
				p99 = v
			case len(f) == 2 && strings.HasSuffix(f[0], "%"):
			default:
				inDist = false
			}
		}
		if v, ok := strings.CutPrefix(l, "Requests/sec:"); ok {
			var err error
			if rps, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
				return "", fmt.Errorf("Requests/sec %q", v)
			}
		} else if v, ok := strings.CutPrefix(l, "Socket errors:"); ok {
			// "connect 0, read 0, write 0, timeout 0"
			for _, part := range strings.Split(v, ",") {
				f := strings.Fields(part)
				if len(f) != 2 {
					return "", fmt.Errorf("socket errors %q", v)
				}
				k, err := strconv.Atoi(f[1])
				if err != nil {
					return "", fmt.Errorf("socket errors %q", v)
				}
				socketErrors += k
			}
		} else if v, ok := strings.CutPrefix(l, "Non-2xx or 3xx responses:"); ok {
			k, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return "", fmt.Errorf("non-2xx %q", v)
			}
			non2xx = k
		}
	}
	if rps < 0 || p50 < 0 || p99 < 0 {
		return "", errors.New("no Requests/sec, 50% or 99% line")
	}
	return fmt.Sprintf("rps=%.1f p50_us=%.1f p99_us=%.1f socket_errors=%d non2xx=%d",
		rps, p50, p99, socketErrors, non2xx), nil
}

// ---------------------------------------------------------------- N3 idle

const (
	n3BufLen = 64 // the read buffer each connection's goroutine is blocked on
	// n3Window: the client dials at most this many connections ahead of the server's
	// accepts (below every listener's backlog), so no SYN is dropped for a full accept queue
	// (the kernel would retry it 1 s later, and that second would be the measurement).
	n3Window = 64
	n3Batch  = 16 // the server tells the client its accept count every n3Batch connections
)

// n3Idle: n connections accepted and held, each by a goroutine blocked in Read on a 64-byte
// buffer. The client is another process (this program with -n3client), which dials them one
// after another with blocking connect(2), at most n3Window ahead of the accept count the
// server sends it. Measured: RSS growth per connection (before the first dial, and once every
// connection's goroutine is blocked in Read) and the time from the client's go-ahead until the
// last connection's goroutine started. Then the client closes them all, and every Read must
// return io.EOF with nothing read, not before.
func n3Idle(n int) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	var errs firstErr
	var started, returned, eofs atomic.Int64
	var handlers sync.WaitGroup
	handlers.Add(n)
	progress := make(chan int, n/n3Batch+2) // room for every report: never blocks
	start := func() {
		if k := int(started.Add(1)); k%n3Batch == 0 || k == n {
			progress <- k
		}
	}
	go func() { // accept loop: exactly n connections, a goroutine each
		for i := 0; i < n; i++ {
			c, err := ln.Accept()
			if err != nil {
				errs.set(fmt.Errorf("accept %d: %w", i, err))
				for ; i < n; i++ {
					start()
					returned.Add(1)
					handlers.Done()
				}
				return
			}
			go func(c net.Conn) {
				defer handlers.Done()
				defer c.Close()
				buf := make([]byte, n3BufLen)
				start() // right before blocking
				k, err := c.Read(buf)
				returned.Add(1)
				switch {
				case k == 0 && err == io.EOF:
					eofs.Add(1)
				case err != nil:
					errs.set(fmt.Errorf("server read: %w", err))
				default:
					errs.set(fmt.Errorf("a connection read %d bytes; the client sends none", k))
				}
			}(c)
		}
	}()
	cl, err := startN3Client(ln.Addr().String(), n)
	if err != nil {
		return "", err
	}
	defer cl.kill()
	time.Sleep(20 * time.Millisecond) // let the accept loop reach its first Accept
	runtime.GC()
	debug.FreeOSMemory()
	rss0, err := rssBytes()
	if err != nil {
		return "", err
	}
	t0 := time.Now()
	if err := cl.send("go"); err != nil {
		return "", err
	}
	for done := false; !done; {
		select {
		case k := <-progress:
			if err := cl.send(strconv.Itoa(k)); err != nil {
				return "", err
			}
			done = k >= n
		case <-cl.exited:
			return "", errors.New("N3 client exited early")
		case <-time.After(60 * time.Second):
			return "", fmt.Errorf("%d of %d connections accepted after 60 s", started.Load(), n)
		}
	}
	accept := time.Since(t0)
	if err := cl.expect(fmt.Sprintf("connected %d", n)); err != nil {
		return "", err
	}
	time.Sleep(50 * time.Millisecond) // let the last goroutines reach the Read they announced
	rss1, err := rssBytes()
	if err != nil {
		return "", err
	}
	// And once they have sat idle a while (the same settle as the Rust side's n3_settle).
	settle := 3 * time.Second
	if quickMode {
		settle = 2 * time.Second
	}
	time.Sleep(settle)
	rss2, err := rssBytes()
	if err != nil {
		return "", err
	}
	if k := returned.Load(); k != 0 {
		if err := errs.get(); err != nil {
			return "", err
		}
		return "", fmt.Errorf("%d reads returned before the client closed", k)
	}
	if err := cl.close(); err != nil {
		return "", err
	}
	waited := make(chan struct{})
	go func() { handlers.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(60 * time.Second):
		return "", fmt.Errorf("%d of %d reads still blocked 60 s after the client closed", int64(n)-returned.Load(), n)
	}
	if err := errs.get(); err != nil {
		return "", err
	}
	if k := eofs.Load(); k != int64(n) {
		return "", fmt.Errorf("%d of %d reads saw the client's close", k, n)
	}
	return fmt.Sprintf("bytes_per_conn=%.0f idle_bytes_per_conn=%.0f accept_ms=%s",
		float64(rss1-rss0)/float64(n), float64(rss2-rss0)/float64(n), msOf(accept)), nil
}

// n3Client is the N3 client process, driven over its stdin and stdout.
type n3Client struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	exited chan struct{}
	err    error // the process's exit error, once exited is closed
}

// startN3Client starts this program with -n3client ADDR -n N and waits for its "ready".
func startN3Client(addr string, n int) (*n3Client, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	c := &n3Client{
		cmd:    exec.Command(exe, "-n3client", addr, "-n", strconv.Itoa(n)),
		lines:  make(chan string, 4),
		exited: make(chan struct{}),
	}
	c.cmd.Stderr = os.Stderr
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the N3 client: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	if err := c.expect("ready"); err != nil {
		c.kill()
		return nil, err
	}
	return c, nil
}

func (c *n3Client) send(line string) error {
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		return fmt.Errorf("N3 client: write: %w", err)
	}
	return nil
}

// expect waits (up to 60 s) for the client's next line, which must be want.
func (c *n3Client) expect(want string) error {
	select {
	case l := <-c.lines:
		if l != want {
			return fmt.Errorf("N3 client said %q, want %q", l, want)
		}
		return nil
	case <-c.exited:
		return fmt.Errorf("N3 client exited early: %v", c.err)
	case <-time.After(60 * time.Second):
		return fmt.Errorf("N3 client: no %q in 60 s", want)
	}
}

// close closes the client's stdin (it then closes every connection and exits) and waits.
func (c *n3Client) close() error {
	c.stdin.Close()
	<-c.exited
	if c.err != nil {
		return fmt.Errorf("N3 client: %w", c.err)
	}
	return nil
}

func (c *n3Client) kill() {
	c.stdin.Close()
	c.cmd.Process.Kill()
	<-c.exited
}

// n3ClientMain is -n3client ADDR -n N: it says "ready", waits for a line ("go"), dials N
// IPv4 connections to ADDR one after another with blocking connect(2) (raw syscalls, as the
// Rust harness's client: the same loop for every system's server), at most n3Window ahead of
// the accept count the server sends (a line each), says "connected N", and holds them until
// its stdin closes; then it exits 0 (1 on an error, said on stderr).
func n3ClientMain(addr string, n int) {
	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "N3 client: "+format+"\n", args...)
		os.Exit(1)
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() {
		fail("address %q: want an IPv4 host:port", addr)
	}
	sa := &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	in := bufio.NewReader(os.Stdin)
	next := func() string {
		l, err := in.ReadString('\n')
		if err != nil {
			fail("stdin: %v", err)
		}
		return strings.TrimSpace(l)
	}
	fmt.Println("ready")
	next() // go
	fds := make([]int, 0, n)
	accepted := 0
	for i := 0; i < n; i++ {
		for i >= accepted+n3Window {
			if accepted, err = strconv.Atoi(next()); err != nil {
				fail("accept count: %v", err)
			}
		}
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			fail("socket %d: %v", i, err)
		}
		for err = syscall.Connect(fd, sa); err == syscall.EINTR || err == syscall.EALREADY; {
			err = syscall.Connect(fd, sa)
		}
		if err != nil && err != syscall.EISCONN {
			fail("connect %d: %v", i, err)
		}
		fds = append(fds, fd)
	}
	fmt.Printf("connected %d\n", n)
	io.Copy(io.Discard, in) // until the server closes our stdin
	for _, fd := range fds {
		syscall.Close(fd)
	}
	os.Exit(0)
}
