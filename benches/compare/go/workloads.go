package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// split divides n into k parts whose sizes differ by at most one; part i covers
// [lo(i), lo(i+1)).
func split(n, k int) []int {
	lo := make([]int, k+1)
	for i := 0; i <= k; i++ {
		lo[i] = i * n / k
	}
	return lo
}

// sumRange is the sum of the integers in [lo, hi).
func sumRange(lo, hi int) uint64 {
	if hi <= lo {
		return 0
	}
	a, b := uint64(lo), uint64(hi)
	return (a + b - 1) * (b - a) / 2
}

// withWarmup runs f once at warm-up size (untimed result discarded, but still verified),
// then at size n, returning the measured run's duration.
func withWarmup(n int, f func(n int) (time.Duration, error)) (time.Duration, error) {
	if _, err := f(warmN(n)); err != nil {
		return 0, fmt.Errorf("warm-up: %w", err)
	}
	return f(n)
}

// ---------------------------------------------------------------- W1 spawn

// The task body is only wg.Done(), as specified. Check: the WaitGroup counter went from n to
// exactly zero (an extra Done panics, a missing one hangs), and afterwards every task has
// exited (goroutine count back to its baseline, polled outside the timed part).
func w1Spawn(n int) (string, error) {
	d, err := withWarmup(n, func(n int) (time.Duration, error) {
		base := runtime.NumGoroutine()
		var wg sync.WaitGroup
		t0 := time.Now()
		wg.Add(n)
		for i := 0; i < n; i++ {
			go func() {
				wg.Done()
			}()
		}
		wg.Wait()
		d := time.Since(t0)
		if err := waitGoroutines(base, 10*time.Second); err != nil {
			return 0, err
		}
		return d, nil
	})
	return "ns_per_task=" + nsPer(d, n), err
}

// waitGoroutines polls until at most base goroutines remain.
func waitGoroutines(base int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		g := runtime.NumGoroutine()
		if g <= base {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d goroutines still alive (baseline %d)", g, base)
		}
		time.Sleep(time.Millisecond)
	}
}

// ---------------------------------------------------------------- W2 pingpong

func w2PingPong(n int) (string, error) {
	d, err := withWarmup(n, func(n int) (time.Duration, error) {
		ping, pong := make(chan uint64), make(chan uint64)
		var wg sync.WaitGroup
		var got uint64
		t0 := time.Now()
		wg.Add(2)
		go func() { // echo
			defer wg.Done()
			for v := range ping {
				pong <- v + 1
			}
		}()
		go func() { // driver
			defer wg.Done()
			var s uint64
			for i := 0; i < n; i++ {
				ping <- uint64(i)
				s += <-pong
			}
			close(ping)
			got = s
		}()
		wg.Wait()
		d := time.Since(t0)
		if want := sumRange(1, n+1); got != want {
			return 0, fmt.Errorf("sum of replies %d, want %d", got, want)
		}
		return d, nil
	})
	return "ns_per_op=" + nsPer(d, n), err
}

// ---------------------------------------------------------------- W3 spsc

func w3Spsc(n int) (string, error) {
	d, err := withWarmup(n, func(n int) (time.Duration, error) {
		ch := make(chan uint64, 128)
		var wg sync.WaitGroup
		var sum, cnt uint64
		t0 := time.Now()
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				ch <- uint64(i)
			}
			close(ch)
		}()
		go func() {
			defer wg.Done()
			var s, c uint64
			for v := range ch {
				s += v
				c++
			}
			sum, cnt = s, c
		}()
		wg.Wait()
		d := time.Since(t0)
		if cnt != uint64(n) || sum != sumRange(0, n) {
			return 0, fmt.Errorf("received %d msgs sum %d, want %d sum %d", cnt, sum, n, sumRange(0, n))
		}
		return d, nil
	})
	return "ns_per_msg=" + nsPer(d, n), err
}

// ---------------------------------------------------------------- W4 / W5 mpmc

// mpmc: 4 senders (disjoint value ranges covering [0,n)), 4 receivers, one channel.
func mpmc(n, capacity int) (time.Duration, error) {
	const senders, receivers = 4, 4
	ch := make(chan uint64, capacity)
	lo := split(n, senders)
	var sw, rw sync.WaitGroup
	sums := make([]uint64, receivers)
	cnts := make([]uint64, receivers)
	t0 := time.Now()
	sw.Add(senders)
	rw.Add(receivers)
	for r := 0; r < receivers; r++ {
		go func(r int) {
			defer rw.Done()
			var s, c uint64
			for v := range ch {
				s += v
				c++
			}
			sums[r], cnts[r] = s, c
		}(r)
	}
	for k := 0; k < senders; k++ {
		go func(a, b int) {
			defer sw.Done()
			for i := a; i < b; i++ {
				ch <- uint64(i)
			}
		}(lo[k], lo[k+1])
	}
	sw.Wait()
	close(ch)
	rw.Wait()
	d := time.Since(t0)
	var sum, cnt uint64
	for r := range sums {
		sum += sums[r]
		cnt += cnts[r]
	}
	if cnt != uint64(n) || sum != sumRange(0, n) {
		return 0, fmt.Errorf("received %d msgs sum %d, want %d sum %d", cnt, sum, n, sumRange(0, n))
	}
	return d, nil
}

func w4Mpmc(n int) (string, error) {
	d, err := withWarmup(n, func(n int) (time.Duration, error) { return mpmc(n, 128) })
	return "ns_per_msg=" + nsPer(d, n), err
}

func w5Mpmc0(n int) (string, error) {
	d, err := withWarmup(n, func(n int) (time.Duration, error) { return mpmc(n, 0) })
	return "ns_per_msg=" + nsPer(d, n), err
}

// ---------------------------------------------------------------- W6 select

func w6Select(n int) (string, error) {
	d, err := withWarmup(n, func(n int) (time.Duration, error) {
		const senders = 4
		var chs [senders]chan uint64
		for k := range chs {
			chs[k] = make(chan uint64, 128)
		}
		lo := split(n, senders)
		var sum, cnt uint64
		done := make(chan struct{})
		t0 := time.Now()
		for k := 0; k < senders; k++ {
			go func(ch chan<- uint64, a, b int) {
				for i := a; i < b; i++ {
					ch <- uint64(i)
				}
				close(ch)
			}(chs[k], lo[k], lo[k+1])
		}
		go func() {
			c0, c1, c2, c3 := chs[0], chs[1], chs[2], chs[3]
			var s, c uint64
			open := senders
			for open > 0 {
				var v uint64
				var ok bool
				select {
				case v, ok = <-c0:
					if !ok {
						c0 = nil
					}
				case v, ok = <-c1:
					if !ok {
						c1 = nil
					}
				case v, ok = <-c2:
					if !ok {
						c2 = nil
					}
				case v, ok = <-c3:
					if !ok {
						c3 = nil
					}
				}
				if !ok {
					open--
					continue
				}
				s += v
				c++
			}
			sum, cnt = s, c
			close(done)
		}()
		<-done
		d := time.Since(t0)
		if cnt != uint64(n) || sum != sumRange(0, n) {
			return 0, fmt.Errorf("received %d msgs sum %d, want %d sum %d", cnt, sum, n, sumRange(0, n))
		}
		return d, nil
	})
	return "ns_per_msg=" + nsPer(d, n), err
}

// ---------------------------------------------------------------- W7 sieve

// The classic concurrent prime sieve from the Go documentation. The generator and filter
// goroutines stay blocked forever once main stops reading (as in the original); with the
// default -fork they die with the child process.
func sieveGenerate(ch chan<- int) {
	for i := 2; ; i++ {
		ch <- i
	}
}

func sieveFilter(in <-chan int, out chan<- int, prime int) {
	for {
		i := <-in
		if i%prime != 0 {
			out <- i
		}
	}
}

// firstPrimes computes the first n primes sequentially, for checking.
func firstPrimes(n int) []int {
	limit := 64
	for {
		comp := make([]bool, limit)
		var ps []int
		for i := 2; i < limit && len(ps) < n; i++ {
			if comp[i] {
				continue
			}
			ps = append(ps, i)
			for j := i * i; j < limit; j += i {
				comp[j] = true
			}
		}
		if len(ps) == n {
			return ps
		}
		limit *= 2
	}
}

func w7Sieve(n int) (string, error) {
	d, err := withWarmup(n, func(n int) (time.Duration, error) {
		primes := make([]int, n)
		t0 := time.Now()
		ch := make(chan int)
		go sieveGenerate(ch)
		for i := 0; i < n; i++ {
			prime := <-ch
			primes[i] = prime
			ch1 := make(chan int)
			go sieveFilter(ch, ch1, prime)
			ch = ch1
		}
		d := time.Since(t0)
		want := firstPrimes(n)
		for i := range want {
			if primes[i] != want[i] {
				return 0, fmt.Errorf("prime #%d is %d, want %d", i+1, primes[i], want[i])
			}
		}
		return d, nil
	})
	return "ms=" + msOf(d), err
}

// ---------------------------------------------------------------- W8 daisy

func daisyLink(left, right chan int) { left <- 1 + <-right }

func w8Daisy(n int) (string, error) {
	d, err := withWarmup(n, func(n int) (time.Duration, error) {
		t0 := time.Now()
		leftmost := make(chan int)
		right := leftmost
		left := leftmost
		for i := 0; i < n; i++ {
			right = make(chan int)
			go daisyLink(left, right)
			left = right
		}
		go func(c chan int) { c <- 1 }(right)
		got := <-leftmost
		d := time.Since(t0)
		if got != n+1 {
			return 0, fmt.Errorf("daisy chain returned %d, want %d", got, n+1)
		}
		return d, nil
	})
	return "ms=" + msOf(d), err
}

// ---------------------------------------------------------------- W9 mutex

func w9Mutex(n int) (string, error) {
	d, err := withWarmup(n, func(n int) (time.Duration, error) {
		const tasks = 8
		lo := split(n, tasks)
		var mu sync.Mutex
		counter := 0
		var wg sync.WaitGroup
		t0 := time.Now()
		wg.Add(tasks)
		for k := 0; k < tasks; k++ {
			go func(m int) {
				defer wg.Done()
				for i := 0; i < m; i++ {
					mu.Lock()
					counter++
					mu.Unlock()
				}
			}(lo[k+1] - lo[k])
		}
		wg.Wait()
		d := time.Since(t0)
		if counter != n {
			return 0, fmt.Errorf("counter %d, want %d", counter, n)
		}
		return d, nil
	})
	return "ns_per_op=" + nsPer(d, n), err
}

// ---------------------------------------------------------------- W10 parked

// rssBytes reads the resident set size from /proc/self/statm (resident pages * page size).
func rssBytes() (int64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, fmt.Errorf("unexpected /proc/self/statm: %q", b)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, err
	}
	return pages * int64(os.Getpagesize()), nil
}

// No warm-up: it would leave goroutines and stacks cached and hide part of the growth.
func w10Parked(n int) (string, error) {
	runtime.GC()
	debug.FreeOSMemory()
	rss0, err := rssBytes()
	if err != nil {
		return "", err
	}

	chans := make([]chan struct{}, n) // part of the per-task cost (one handle per task)
	var parked, exited sync.WaitGroup
	var released atomic.Int64
	t0 := time.Now()
	parked.Add(n)
	exited.Add(n)
	for i := 0; i < n; i++ {
		ch := make(chan struct{})
		chans[i] = ch
		go func() {
			parked.Done() // right before blocking
			<-ch
			released.Add(1)
			exited.Done()
		}()
	}
	parked.Wait()
	spawn := time.Since(t0)
	// Let the last few tasks reach the receive they announced.
	runtime.Gosched()
	rss1, err := rssBytes()
	if err != nil {
		return "", err
	}
	if got := released.Load(); got != 0 {
		return "", fmt.Errorf("%d tasks got past their receive before release", got)
	}

	for _, ch := range chans {
		ch <- struct{}{}
	}
	exited.Wait()
	if got := released.Load(); got != int64(n) {
		return "", fmt.Errorf("released %d tasks, want %d", got, n)
	}
	bytesPer := float64(rss1-rss0) / float64(n)
	return fmt.Sprintf("bytes_per_task=%.0f spawn_ms=%s", bytesPer, msOf(spawn)), nil
}

// ---------------------------------------------------------------- W11 timers

func w11Timers(n int) (string, error) {
	const sleep = 10 * time.Millisecond
	d, err := withWarmup(n, func(n int) (time.Duration, error) {
		done := make([]bool, n)
		var wg sync.WaitGroup
		t0 := time.Now()
		wg.Add(n)
		for i := 0; i < n; i++ {
			go func(i int) {
				time.Sleep(sleep)
				done[i] = true
				wg.Done()
			}(i)
		}
		wg.Wait()
		d := time.Since(t0)
		for i, ok := range done {
			if !ok {
				return 0, fmt.Errorf("task %d did not signal", i)
			}
		}
		if d < sleep {
			return 0, fmt.Errorf("all done after %v, less than the %v sleep", d, sleep)
		}
		return d, nil
	})
	return "ms=" + msOf(d), err
}

// ---------------------------------------------------------------- W12 pipeline

// Pipeline, fan-out and fan-in as in the Go blog post "Go Concurrency Patterns: Pipelines
// and cancellation" (unbuffered channels throughout).
func pipeGen(n int) <-chan uint64 {
	out := make(chan uint64)
	go func() {
		for i := 1; i <= n; i++ {
			out <- uint64(i)
		}
		close(out)
	}()
	return out
}

func pipeSq(in <-chan uint64) <-chan uint64 {
	out := make(chan uint64)
	go func() {
		for v := range in {
			out <- v * v
		}
		close(out)
	}()
	return out
}

func pipeMerge(cs ...<-chan uint64) <-chan uint64 {
	var wg sync.WaitGroup
	out := make(chan uint64)
	output := func(c <-chan uint64) {
		for v := range c {
			out <- v
		}
		wg.Done()
	}
	wg.Add(len(cs))
	for _, c := range cs {
		go output(c)
	}
	go func() {
		wg.Wait()
		close(out)
	}()
	return out
}

func w12Pipeline(n int) (string, error) {
	d, err := withWarmup(n, func(n int) (time.Duration, error) {
		const workers = 8
		t0 := time.Now()
		in := pipeGen(n)
		outs := make([]<-chan uint64, workers)
		for k := range outs {
			outs[k] = pipeSq(in)
		}
		var sum, cnt uint64
		for v := range pipeMerge(outs...) {
			sum += v
			cnt++
		}
		d := time.Since(t0)
		N := uint64(n)
		want := N * (N + 1) * (2*N + 1) / 6
		if cnt != N || sum != want {
			return 0, fmt.Errorf("got %d items sum %d, want %d sum %d", cnt, sum, N, want)
		}
		return d, nil
	})
	return "ns_per_item=" + nsPer(d, n), err
}

// ---------------------------------------------------------------- W13 rwmutex

var rwSink atomic.Uint64

func w13RWMutex(n int) (string, error) {
	d, err := withWarmup(n, func(n int) (time.Duration, error) {
		const tasks = 8
		lo := split(n, tasks)
		var mu sync.RWMutex
		var counter uint64
		var wantWrites, gotReads uint64
		var reads atomic.Uint64
		for k := 0; k < tasks; k++ {
			m := uint64(lo[k+1] - lo[k])
			wantWrites += (m + 9) / 10 // op i is a write when i%10 == 0
		}
		var wg sync.WaitGroup
		t0 := time.Now()
		wg.Add(tasks)
		for k := 0; k < tasks; k++ {
			go func(m int) {
				defer wg.Done()
				var seen, r uint64
				for i := 0; i < m; i++ {
					if i%10 == 0 {
						mu.Lock()
						counter++
						mu.Unlock()
					} else {
						mu.RLock()
						seen += counter
						mu.RUnlock()
						r++
					}
				}
				reads.Add(r)
				rwSink.Add(seen)
			}(lo[k+1] - lo[k])
		}
		wg.Wait()
		d := time.Since(t0)
		gotReads = reads.Load()
		if counter != wantWrites || gotReads+wantWrites != uint64(n) {
			return 0, fmt.Errorf("counter %d (want %d), reads %d (want %d)",
				counter, wantWrites, gotReads, uint64(n)-wantWrites)
		}
		return d, nil
	})
	return "ns_per_op=" + nsPer(d, n), err
}

// ---------------------------------------------------------------- HL hog latency

// HL's parameters. The sample count is not scaled by -quick (a p99 needs them).
const (
	hlSamples    = 300
	hlSleep      = time.Millisecond
	hlWarm       = 20 * time.Millisecond // hogs run alone this long before the first sample
	hlCap        = 10 * time.Second      // hogs stop by themselves this long after they start
	hlClockEvery = 1 << 20               // hog iterations between two looks at the clock
)

// hlHog spins on integer arithmetic, loading stop every iteration (no call the scheduler
// could use as a yield point, so asynchronous preemption takes its P away). Every
// hlClockEvery iterations (about a millisecond) it looks at the clock and, past deadline,
// sets stop itself.
func hlHog(stop *atomic.Bool, deadline time.Time) uint64 {
	x := uint64(1)
	for i := 1; !stop.Load(); i++ {
		x = x*6364136223846793005 + 1442695040888963407
		if i%hlClockEvery == 0 && time.Now().After(deadline) {
			stop.Store(true)
		}
	}
	return x
}

// HL: the wake-up delay of a sleeping goroutine while every P runs a CPU hog. Main starts
// GOMAXPROCS hogs and busy-waits hlWarm (a sleep would itself wait for a free P), then a
// sleeper goroutine takes samples: t0 := now; time.Sleep(1 ms); delay = now - t0 - 1 ms.
// It stops after hlSamples, or early once the hogs have stopped by themselves at their cap
// (later samples would not be under load); `samples` says how many it took. Prints the
// nearest-rank p50 and p99 and the max of the delays, in microseconds.
func hlHogLatency(int) (string, error) {
	procs := runtime.GOMAXPROCS(0)
	var stop atomic.Bool
	var wg sync.WaitGroup
	sink := make([]uint64, procs)
	deadline := time.Now().Add(hlCap)
	wg.Add(procs)
	for k := range procs {
		go func() {
			defer wg.Done()
			sink[k] = hlHog(&stop, deadline)
		}()
	}
	for t := time.Now(); time.Since(t) < hlWarm; {
	}
	result := make(chan []time.Duration)
	go func() {
		ds := make([]time.Duration, 0, hlSamples)
		for len(ds) < hlSamples && !stop.Load() {
			t0 := time.Now()
			time.Sleep(hlSleep)
			ds = append(ds, time.Since(t0)-hlSleep)
		}
		result <- ds
	}()
	ds := <-result
	stop.Store(true)
	wg.Wait()
	if len(ds) == 0 {
		return "", fmt.Errorf("no sample taken before the hogs' %v cap", hlCap)
	}
	slices.Sort(ds)
	if ds[0] < 0 {
		return "", fmt.Errorf("a %v sleep returned %v early", hlSleep, -ds[0])
	}
	return fmt.Sprintf("p50_us=%.1f p99_us=%.1f max_us=%.1f samples=%d",
		hlQuantileUs(ds, 0.50), hlQuantileUs(ds, 0.99), hlQuantileUs(ds, 1), len(ds)), nil
}

// hlQuantileUs is the nearest-rank q-quantile of sorted, in microseconds.
func hlQuantileUs(sorted []time.Duration, q float64) float64 {
	i := max(int(math.Ceil(q*float64(len(sorted))))-1, 0)
	return float64(sorted[i].Nanoseconds()) / 1e3
}
