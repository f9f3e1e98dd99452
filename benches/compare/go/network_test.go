package main

import (
	"strings"
	"testing"
)

const wrkReport = `Running 2s test @ http://127.0.0.1:40000/
  1 threads and 100 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   640.12us  210.00us   4.10ms   90.00%
    Req/Sec    80.00k     2.00k   84.00k    75.00%
  Latency Distribution
     50%  600.00us
     75%  700.00us
     90%  800.00us
     99%    1.50ms
  160000 requests in 2.00s, 19.00MB read
  Socket errors: connect 1, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:  79950.25
Transfer/sec:      9.50MB
`

func TestParseWrk(t *testing.T) {
	got, err := parseWrk(wrkReport)
	want := "rps=79950.2 p50_us=600.0 p99_us=1500.0 socket_errors=6 non2xx=7"
	if err != nil || got != want {
		t.Fatalf("parseWrk = %q, %v; want %q", got, err, want)
	}
	var clean []string
	for _, l := range strings.Split(wrkReport, "\n") {
		if !strings.Contains(l, "errors") && !strings.Contains(l, "Non-2xx") {
			clean = append(clean, l)
		}
	}
	got, err = parseWrk(strings.Join(clean, "\n"))
	want = "rps=79950.2 p50_us=600.0 p99_us=1500.0 socket_errors=0 non2xx=0"
	if err != nil || got != want {
		t.Fatalf("parseWrk without errors = %q, %v; want %q", got, err, want)
	}
	if _, err := parseWrk("Requests/sec: 1.0\n"); err == nil {
		t.Fatal("parseWrk accepted a report without latencies")
	}
}

func TestWrkMicros(t *testing.T) {
	for in, want := range map[string]float64{"812.00us": 812, "1.25ms": 1250, "2.00s": 2e6, "1.00m": 60e6} {
		if got, err := wrkMicros(in); err != nil || got != want {
			t.Errorf("wrkMicros(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := wrkMicros("3.0"); err == nil {
		t.Error("wrkMicros accepted a latency without unit")
	}
}
