// Command gorobench runs the Go side of the anchor workloads (shared/bench/WORKLOADS.md).
//
// Usage:
//
//	gobench [-w W1,W2,...,N1,N2,N3,HL] [-quick] [-procs N] [-fork=true|false]
//
// Besides W1-W13 and the network workloads N1-N3 (network.go) it runs HL, the wake-up delay
// of a sleeping goroutine while every P runs a CPU hog (workloads.go's hlHogLatency); HL is
// measured for Go and goro only.
//
// Each workload prints exactly one line "<ID> go <metric>=<value>" on stdout, except N2,
// which measures two servers and prints a second line for the minimal one, "N2 go-min ...".
// Each checks its own result and, if wrong, reports on stderr and makes the program exit
// non-zero.
//
// Two more modes serve the network workloads: -serve nethttp|min -addr ADDR (N2's servers,
// network.go) and -n3client ADDR -n N (N3's client process).
//
// By default every workload runs in a fresh child process (-fork=true): the Go runtime keeps
// dead goroutines' g structs and some stacks for reuse, so a workload that ran earlier in the
// same process would distort later ones (W10's RSS growth most of all). -fork=false runs them
// all in this process, in order.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

type workload struct {
	id   string
	name string
	n    int // full-size N
	// run runs the workload at size n (warm-up included where it makes sense) and returns
	// the metric text, e.g. "ns_per_op=367.1", or an error if the result is wrong.
	run func(n int) (string, error)
}

var workloads = []workload{
	{"W1", "spawn", 1_000_000, w1Spawn},
	{"W2", "pingpong", 1_000_000, w2PingPong},
	{"W3", "spsc", 10_000_000, w3Spsc},
	{"W4", "mpmc", 10_000_000, w4Mpmc},
	{"W5", "mpmc0", 1_000_000, w5Mpmc0},
	{"W6", "select", 4_000_000, w6Select},
	{"W7", "sieve", 3_000, w7Sieve},
	{"W8", "daisy", 100_000, w8Daisy},
	{"W9", "mutex", 4_000_000, w9Mutex},
	{"W10", "parked", 1_000_000, w10Parked},
	{"W11", "timers", 100_000, w11Timers},
	{"W12", "pipeline", 1_000_000, w12Pipeline},
	{"W13", "rwmutex", 4_000_000, w13RWMutex},
	// Network (loopback TCP): n is the round trips per client (network.go).
	{"N1", "echo", 500, n1Echo},
	// n: seconds of wrk load (network.go).
	{"N2", "http", n2Secs, n2HTTP},
	// n: idle connections (network.go).
	{"N3", "idle", 10_000, n3Idle},
	// Not an anchor workload: a latency measurement for go and goro only (n is unused).
	{"HL", "hoglatency", hlSamples, hlHogLatency},
}

// quickDiv scales every N down for -quick smoke runs, except the ones in quickN.
const quickDiv = 20

// quickN: the -quick size of the workloads not scaled by quickDiv (N2: 2 s of load; N3:
// 1,000 connections, enough for a per-connection RSS figure).
var quickN = map[string]int{"N2": 2, "N3": 1_000}

// quickMode is -quick (N2 then skips its warm-up).
var quickMode bool

func main() {
	wFlag := flag.String("w", "", "comma-separated workload IDs (default: all)")
	quick := flag.Bool("quick", false, fmt.Sprintf("scale every N down %dx (smoke run)", quickDiv))
	procs := flag.Int("procs", 2, "runtime.GOMAXPROCS")
	fork := flag.Bool("fork", true, "run each workload in a fresh child process")
	serve := flag.String("serve", "", "N2's server mode: serve HTTP (nethttp or min) on -addr until killed")
	addr := flag.String("addr", "127.0.0.1:8080", "-serve's listen address")
	n3Client := flag.String("n3client", "", "N3's client mode: dial -n connections to this address")
	conns := flag.Int("n", 0, "-n3client's connections")
	flag.Parse()
	if flag.NArg() != 0 {
		fatalf("unexpected arguments: %v", flag.Args())
	}
	if *procs < 1 {
		fatalf("-procs must be >= 1")
	}
	runtime.GOMAXPROCS(*procs)
	quickMode = *quick
	switch {
	case *serve != "":
		fatalf("-serve %s: %v", *serve, serveHTTP(*serve, *addr))
	case *n3Client != "":
		n3ClientMain(*n3Client, *conns)
	}

	selected, err := selectWorkloads(*wFlag)
	if err != nil {
		fatalf("%v", err)
	}

	failed := 0
	for _, w := range selected {
		n := w.n
		if *quick {
			n = max(n/quickDiv, 1)
			if q, ok := quickN[w.id]; ok {
				n = q
			}
		}
		if *fork && len(selected) > 1 {
			if !runChild(w, *quick, *procs) {
				failed++
			}
			continue
		}
		metric, err := w.run(n)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s go FAILED (%s, n=%d): %v\n", w.id, w.name, n, err)
			failed++
			continue
		}
		fmt.Printf("%s go %s\n", w.id, metric)
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "gobench: %d workload(s) failed\n", failed)
		os.Exit(1)
	}
}

func selectWorkloads(spec string) ([]workload, error) {
	if strings.TrimSpace(spec) == "" {
		return workloads, nil
	}
	var out []workload
	for _, id := range strings.Split(spec, ",") {
		id = strings.ToUpper(strings.TrimSpace(id))
		if id == "" {
			continue
		}
		found := false
		for _, w := range workloads {
			if w.id == id {
				out = append(out, w)
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown workload %q (known: W1..W13, N1..N3, HL)", id)
		}
	}
	return out, nil
}

// runChild re-executes this binary for one workload; its stdout/stderr pass straight through.
func runChild(w workload, quick bool, procs int) bool {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	args := []string{"-fork=false", "-w", w.id, "-procs", fmt.Sprint(procs)}
	if quick {
		args = append(args, "-quick")
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "%s go FAILED (child process: %v)\n", w.id, err)
		return false
	}
	return true
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gobench: "+format+"\n", args...)
	os.Exit(2)
}

// nsPer formats elapsed/count in nanoseconds with one decimal.
func nsPer(d time.Duration, count int) string {
	return fmt.Sprintf("%.1f", float64(d.Nanoseconds())/float64(count))
}

func msOf(d time.Duration) string {
	return fmt.Sprintf("%.1f", float64(d.Nanoseconds())/1e6)
}

// warmN is the size of the untimed warm-up pass for workloads that get one.
func warmN(n int) int { return max(n/20, 1) }
