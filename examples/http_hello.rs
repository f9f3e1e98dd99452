//! http_hello: an HTTP/1.1 keep-alive "Hello, World!" server, a goroutine per connection.
//!
//! What a Go programmer writes on `net/http`, spelled out on `goro::net`: the server side of
//! HTTP/1.1 that `net/http` does for one handler, with requests parsed by the `httparse`
//! crate. Benchmark N2 (benches/compare) loads it with `wrk`.
//!
//! ```go
//! func main() {
//!     addr := flag.String("addr", "127.0.0.1:8080", "listen address")
//!     flag.Parse()
//!     http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
//!         if r.URL.Path != "/" { http.NotFound(w, r); return }
//!         w.Header().Set("Content-Type", "text/plain; charset=utf-8")
//!         io.WriteString(w, "Hello, World!")
//!     })
//!     srv := &http.Server{Addr: *addr, ReadTimeout: 10 * time.Second}
//!     ln, err := net.Listen("tcp", *addr)
//!     if err != nil { log.Fatal(err) }
//!     fmt.Println("listening on", ln.Addr())
//!     ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
//!     defer stop()
//!     go func() { <-ctx.Done(); srv.Shutdown(context.Background()) }()
//!     if err := srv.Serve(ln); err != http.ErrServerClosed { log.Fatal(err) }
//!     fmt.Println("shut down")
//! }
//! ```
//!
//! Behaviour, as `net/http` behaves:
//! * keep-alive for HTTP/1.1 (and HTTP/1.0 with `Connection: keep-alive`); `Connection:
//!   close` or a plain HTTP/1.0 request closes after the response; pipelined requests are
//!   answered in order, their responses written together;
//! * `GET /` (any method, as a `HandleFunc("/")` handler sees them) answers `Hello, World!`,
//!   `HEAD` without the body, any other path `404 page not found`;
//! * a request that does not parse, or whose header is over 8 KiB, gets `400 Bad Request`
//!   (`431` for the size, as Go) and the connection closes; a chunked request body, which
//!   this handler would have to decode, gets `501 Not Implemented` and a close;
//! * a client that sends nothing for `--read-timeout` (default 10 s; Go's `ReadTimeout`) is
//!   dropped: the read deadline is set when a request begins, as Go sets it;
//! * `--addr host:port` (also `-addr`, as Go's `flag` spells it) picks the address,
//!   `GOMAXPROCS` the number of Ps;
//! * SIGINT (Ctrl-C) or SIGTERM shuts it down gracefully, as `srv.Shutdown` does: the
//!   listener closes, idle keep-alive connections close, a request being answered is
//!   answered first; then it prints `shut down` and exits 0. A second signal during the
//!   shutdown is swallowed (the signals stay caught until the shutdown ends).
//!
//! The connection's read buffer is allocated when the first bytes arrive and starts at 4 KiB,
//! so an idle connection holds its goroutine's stack and little else.
//!
//! Run: `cargo run --release --example http_hello -- --addr 127.0.0.1:8080`, then
//! `curl -v http://127.0.0.1:8080/`.

use goro::context::{self, Context};
use goro::sync::WaitGroup;
use goro::{net, signal};
use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The largest request header accepted (Go's `DefaultMaxHeaderBytes` is 1 MiB; 8 KiB is what
/// most servers allow and plenty for a hello server).
const MAX_HEADER: usize = 8 * 1024;
/// Headers parsed per request.
const MAX_HEADERS: usize = 32;

#[goro::main]
fn main() {
    let (addr, read_timeout) = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("http_hello: {e}");
            eprintln!("usage: http_hello [--addr host:port] [--read-timeout seconds]");
            std::process::exit(2);
        }
    };
    let ln = match net::listen("tcp", &addr) {
        Ok(ln) => ln,
        Err(e) => {
            eprintln!("http_hello: listen {addr}: {e}");
            std::process::exit(1);
        }
    };
    // Ctrl-C or SIGTERM: stop accepting, close idle connections, finish the requests in
    // flight (Go's signal.NotifyContext + srv.Shutdown). Caught from before the address is
    // announced, so whoever reads it may signal at once.
    let (ctx, stop) =
        signal::notify_context(&context::background(), &[signal::SIGINT, signal::SIGTERM]);
    println!("listening on {}", ln.addr().expect("listener address"));
    io::stdout().flush().ok();
    let ln = Arc::new(ln);
    {
        let (ln, done) = (ln.clone(), ctx.done());
        goro::go!(move || {
            done.recv();
            let _ = ln.close(); // wakes accept
        });
    }
    let conns = WaitGroup::new();
    loop {
        match ln.accept() {
            Ok(conn) => {
                conns.add(1);
                let (conns, ctx) = (conns.clone(), ctx.clone());
                goro::go!(move || {
                    serve(conn, read_timeout, &ctx);
                    conns.done();
                });
            }
            Err(_) if ctx.err().is_some() => break,
            // Out of descriptors or a connection reset while queued: Go's Serve sleeps
            // a little and tries again rather than dying.
            Err(e) => {
                eprintln!("http_hello: accept: {e}; retrying");
                goro::time::sleep(Duration::from_millis(5));
            }
        }
    }
    conns.wait();
    stop.stop();
    println!("shut down");
}

/// `--addr`, `--read-timeout` (Go's flag syntax: `-name value`, `--name value`,
/// `-name=value`).
fn parse_args() -> Result<(String, Duration), String> {
    let mut addr = "127.0.0.1:8080".to_string();
    let mut timeout = Duration::from_secs(10);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let name = arg.trim_start_matches('-');
        let (name, inline) = match name.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (name, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or(format!("flag needs an argument: -{name}"))
        };
        match name {
            "addr" => addr = value()?,
            "read-timeout" => {
                let v = value()?;
                let secs: f64 = v
                    .parse()
                    .map_err(|_| format!("invalid value {v:?} for flag -read-timeout"))?;
                timeout = Duration::try_from_secs_f64(secs)
                    .map_err(|_| format!("invalid value {v:?} for flag -read-timeout"))?;
            }
            _ => return Err(format!("flag provided but not defined: -{name}")),
        }
    }
    Ok((addr, timeout))
}

/// What to do after answering a request.
#[derive(PartialEq)]
enum After {
    KeepAlive,
    Close,
}

/// One connection: read, answer every complete request in the buffer, write the answers
/// together, repeat until the client closes, errs, times out or asks to close, or the
/// server shuts down (`ctx`) while the connection waits for its next request.
fn serve(conn: net::Conn, read_timeout: Duration, ctx: &Context) {
    let conn = Arc::new(conn);
    // Shutdown wakes a connection waiting for a request (Go's closeIdleConns): its read
    // fails at once, and the loop below sees the context is done.
    let wake = {
        let conn = conn.clone();
        context::after_func(ctx, move || {
            let _ = conn.set_read_deadline(Some(Instant::now()));
        })
    };
    serve_requests(&conn, read_timeout, ctx);
    wake.stop();
}

fn serve_requests(conn: &net::Conn, read_timeout: Duration, ctx: &Context) {
    let mut buf: Vec<u8> = Vec::new();
    let mut out: Vec<u8> = Vec::new();
    let mut filled = 0;
    loop {
        // Answer what is already buffered (pipelined requests).
        let mut after = After::KeepAlive;
        while filled > 0 && after == After::KeepAlive {
            match answer(&buf[..filled], &mut out) {
                Some((used, a)) => {
                    buf.copy_within(used..filled, 0);
                    filled -= used;
                    after = a;
                }
                None => break, // incomplete: read more
            }
        }
        if !out.is_empty() {
            if (&*conn).write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        if after == After::Close {
            close_write_and_wait(conn);
            return;
        }
        if filled == 0 {
            // Each request gets the whole timeout to arrive, from its first read.
            if conn
                .set_read_deadline(Some(Instant::now() + read_timeout))
                .is_err()
            {
                return;
            }
            // Checked after setting the deadline: a shutdown that set it to now before
            // this is seen here, one after this fails the read.
            if ctx.err().is_some() {
                close_write_and_wait(conn);
                return;
            }
        }
        if buf.is_empty() {
            // First bytes of the connection: only now does it get a buffer.
            buf.resize(4096, 0);
        } else if filled == buf.len() {
            if buf.len() >= 2 * MAX_HEADER {
                // Unreachable: a head over MAX_HEADER gets 431, a body over it 400, so a
                // request fits in 2 * MAX_HEADER. Be safe anyway.
                return;
            }
            buf.resize(buf.len() * 2, 0);
        }
        match (&*conn).read(&mut buf[filled..]) {
            Ok(0) => return,
            Ok(n) => filled += n,
            Err(_) => return, // reset, deadline, closed
        }
    }
}

/// Go's `closeWriteAndWait`: closing a socket with unread input sends a reset, which can
/// destroy the response before the client reads it. So shut the write side (the client sees
/// EOF after the response), drain what the client still sends for up to 500 ms (Go's
/// `rstAvoidanceDelay`), then close.
fn close_write_and_wait(conn: &net::Conn) {
    if let net::Conn::Tcp(t) = conn {
        let _ = t.shutdown(std::net::Shutdown::Write);
        let _ = conn.set_read_deadline(Some(Instant::now() + Duration::from_millis(500)));
        let mut sink = [0u8; 512];
        let mut drained = 0;
        while drained < 1 << 20 {
            match (&*conn).read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    }
    let _ = conn.close();
}

/// Parses one request at the start of `req` and appends its response to `out`. `None` if
/// the request is not complete yet; else the bytes it used and what to do after it.
fn answer(req: &[u8], out: &mut Vec<u8>) -> Option<(usize, After)> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut r = httparse::Request::new(&mut headers);
    let head_len = match r.parse(req) {
        Ok(httparse::Status::Complete(n)) if n <= MAX_HEADER => n,
        Ok(httparse::Status::Partial) if req.len() <= MAX_HEADER => return None,
        Ok(_) => {
            error(out, "431 Request Header Fields Too Large");
            return Some((req.len(), After::Close));
        }
        Err(_) => {
            error(out, "400 Bad Request");
            return Some((req.len(), After::Close));
        }
    };
    let (Some(method), Some(path), Some(version)) = (r.method, r.path, r.version) else {
        error(out, "400 Bad Request");
        return Some((req.len(), After::Close));
    };
    // Connection management and the body's length, from the headers.
    let mut keep_alive = version == 1;
    let mut body_len = 0usize;
    for h in r.headers.iter() {
        if h.name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        } else if h.name.eq_ignore_ascii_case("content-length") {
            match std::str::from_utf8(h.value)
                .ok()
                .and_then(|s| s.trim().parse::<usize>().ok())
            {
                Some(n) if n <= MAX_HEADER => body_len = n,
                _ => {
                    error(out, "400 Bad Request");
                    return Some((req.len(), After::Close));
                }
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            error(out, "501 Not Implemented");
            return Some((req.len(), After::Close));
        }
    }
    let used = head_len + body_len;
    if req.len() < used {
        return None; // the body has not all arrived
    }
    // The handler.
    let target = path.split('?').next().unwrap_or(path);
    let (status, body) = if target == "/" {
        ("200 OK", "Hello, World!")
    } else {
        ("404 Not Found", "404 page not found\n")
    };
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_bytes());
    out.extend_from_slice(b"\r\nContent-Type: text/plain; charset=utf-8\r\n");
    if status.starts_with('4') {
        out.extend_from_slice(b"X-Content-Type-Options: nosniff\r\n");
    }
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if version == 0 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"Date: ");
    push_date(out);
    out.extend_from_slice(b"\r\nContent-Length: ");
    out.extend_from_slice(body.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    if method != "HEAD" {
        out.extend_from_slice(body.as_bytes());
    }
    let after = if keep_alive {
        After::KeepAlive
    } else {
        After::Close
    };
    Some((used, after))
}

/// An error response that closes the connection, as `net/http` writes it.
fn error(out: &mut Vec<u8>, status: &str) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_bytes());
    out.extend_from_slice(
        b"\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n",
    );
    out.extend_from_slice(status.as_bytes());
}

thread_local! {
    /// The `Date` header of the current second (an IMF-fixdate), formatted once a second per
    /// thread: the goroutine formatting it never parks in between, so a per-thread cache is
    /// safe whichever M runs it.
    static DATE: RefCell<(u64, [u8; 29])> = const { RefCell::new((u64::MAX, [0; 29])) };
}

/// Appends the current time as an HTTP date, e.g. `Sun, 06 Dec 2026 10:30:00 GMT`.
fn push_date(out: &mut Vec<u8>) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    DATE.with(|d| {
        let mut d = d.borrow_mut();
        if d.0 != now {
            *d = (now, http_date(now));
        }
        out.extend_from_slice(&d.1);
    });
}

/// Formats Unix time `secs` as an IMF-fixdate (RFC 9110, section 5.6.7).
fn http_date(secs: u64) -> [u8; 29] {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let sod = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's days_from_civil, inverted).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let s = format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
    let mut b = [0u8; 29];
    b.copy_from_slice(&s.as_bytes()[..29]);
    b
}

#[cfg(test)]
mod tests {
    #[test]
    fn http_date_matches_known_instants() {
        assert_eq!(&super::http_date(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            &super::http_date(784_111_777),
            b"Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            &super::http_date(951_782_400),
            b"Tue, 29 Feb 2000 00:00:00 GMT"
        );
    }
}
