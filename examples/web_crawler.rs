//! Web Crawler: crawl a (fake) web in parallel, fetching no URL twice.
//!
//! A port of the Go tour's last exercise (go.dev/tour/concurrency/10) with its fake fetcher,
//! solved the usual way: one goroutine per URL, a `sync.WaitGroup` to wait for them all, and
//! a `sync.Mutex`-protected set of the URLs already visited.
//!
//! ```go
//! type SafeSet struct {
//!     mu sync.Mutex
//!     v  map[string]bool
//! }
//!
//! // Visit marks url as visited; false if it already was.
//! func (s *SafeSet) Visit(url string) bool {
//!     s.mu.Lock()
//!     defer s.mu.Unlock()
//!     if s.v[url] { return false }
//!     s.v[url] = true
//!     return true
//! }
//!
//! func Crawl(url string, depth int, fetcher Fetcher, visited *SafeSet, wg *sync.WaitGroup) {
//!     defer wg.Done()
//!     if depth <= 0 || !visited.Visit(url) { return }
//!     body, urls, err := fetcher.Fetch(url)
//!     if err != nil {
//!         fmt.Println(err)
//!         return
//!     }
//!     fmt.Printf("found: %s %q\n", url, body)
//!     for _, u := range urls {
//!         wg.Add(1)
//!         go Crawl(u, depth-1, fetcher, visited, wg)
//!     }
//! }
//!
//! func main() {
//!     var wg sync.WaitGroup
//!     wg.Add(1)
//!     go Crawl("https://golang.org/", 4, fetcher, &SafeSet{v: map[string]bool{}}, &wg)
//!     wg.Wait()
//! }
//! // + the tour's fakeFetcher: golang.org/, /pkg/, /pkg/fmt/, /pkg/os/ (and /cmd/ missing)
//! ```
//!
//! Determinism: the crawlers run in parallel, so Go prints its lines in a varying order.
//! This port has each crawler log its line (under a goro `Mutex`) instead of printing it,
//! and prints the log sorted by URL once the `WaitGroup` is done.

use goro::sync::{Mutex, WaitGroup};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

type Fetcher = HashMap<&'static str, (&'static str, Vec<&'static str>)>;

/// The tour's `fakeFetcher`: canned pages.
fn fake_fetcher() -> Fetcher {
    HashMap::from([
        (
            "https://golang.org/",
            (
                "The Go Programming Language",
                vec!["https://golang.org/pkg/", "https://golang.org/cmd/"],
            ),
        ),
        (
            "https://golang.org/pkg/",
            (
                "Packages",
                vec![
                    "https://golang.org/",
                    "https://golang.org/cmd/",
                    "https://golang.org/pkg/fmt/",
                    "https://golang.org/pkg/os/",
                ],
            ),
        ),
        (
            "https://golang.org/pkg/fmt/",
            (
                "Package fmt",
                vec!["https://golang.org/", "https://golang.org/pkg/"],
            ),
        ),
        (
            "https://golang.org/pkg/os/",
            (
                "Package os",
                vec!["https://golang.org/", "https://golang.org/pkg/"],
            ),
        ),
    ])
}

/// `fakeFetcher.Fetch`: the page's body and links, or `not found: URL`.
fn fetch(f: &Fetcher, url: &str) -> Result<(&'static str, Vec<&'static str>), String> {
    f.get(url)
        .cloned()
        .ok_or_else(|| format!("not found: {url}"))
}

/// What every crawler shares: the fetcher, the visited set and the log.
struct Shared {
    fetcher: Fetcher,
    visited: Mutex<HashSet<&'static str>>,
    log: Mutex<BTreeMap<&'static str, String>>,
}

impl Shared {
    /// Marks `url` as visited; false if it already was.
    fn visit(&self, url: &'static str) -> bool {
        self.visited.lock().insert(url)
    }
}

#[allow(non_snake_case)]
fn Crawl(url: &'static str, depth: u32, s: Arc<Shared>, wg: WaitGroup) {
    if depth == 0 || !s.visit(url) {
        return;
    }
    let line = match fetch(&s.fetcher, url) {
        Err(e) => e,
        Ok((body, urls)) => {
            for u in urls {
                let (s, wg2) = (s.clone(), wg.clone());
                wg.go(move || Crawl(u, depth - 1, s, wg2));
            }
            format!("found: {url} {body:?}")
        }
    };
    s.log.lock().insert(url, line);
}

#[goro::main]
fn main() {
    let s = Arc::new(Shared {
        fetcher: fake_fetcher(),
        visited: Mutex::new(HashSet::new()),
        log: Mutex::new(BTreeMap::new()),
    });
    let wg = WaitGroup::new();
    let (s2, wg2) = (s.clone(), wg.clone());
    wg.go(move || Crawl("https://golang.org/", 4, s2, wg2));
    wg.wait();
    for line in s.log.lock().values() {
        println!("{line}");
    }
}
