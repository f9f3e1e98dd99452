//! echo_server: Go's goroutine-per-connection TCP echo server, with a read deadline per
//! connection and a graceful shutdown on a context, and clients to drive it.
//!
//! ```go
//! // serve accepts until ctx is done, then waits for its connections. It returns how many
//! // connections it served.
//! func serve(ctx context.Context, ln net.Listener, idle time.Duration) int {
//!     go func() { <-ctx.Done(); ln.Close() }() // Close wakes Accept
//!     var wg sync.WaitGroup
//!     served := 0
//!     for {
//!         conn, err := ln.Accept()
//!         if err != nil {
//!             if ctx.Err() != nil { break }
//!             log.Print(err); time.Sleep(5 * time.Millisecond); continue
//!         }
//!         served++
//!         wg.Add(1)
//!         go func() { defer wg.Done(); handle(ctx, conn, idle) }()
//!     }
//!     wg.Wait()
//!     return served
//! }
//!
//! func handle(ctx context.Context, conn net.Conn, idle time.Duration) {
//!     defer conn.Close()
//!     stop := context.AfterFunc(ctx, func() { conn.Close() }) // shutdown ends idle clients
//!     defer stop()
//!     buf := make([]byte, 1024)
//!     for {
//!         conn.SetReadDeadline(time.Now().Add(idle))
//!         n, err := conn.Read(buf)
//!         if err != nil { return } // EOF, deadline, closed
//!         if _, err := conn.Write(buf[:n]); err != nil { return }
//!     }
//! }
//! ```
//!
//! Run with no arguments, it starts the server on a free port and drives it with clients
//! (its output is deterministic: examples/expected/echo_server.txt): three echo one line each
//! in parallel, a fourth stays silent and is dropped by the read deadline, a fifth is still
//! connected at shutdown and sees the server close it.
//!
//! Run with `--addr host:port` (and `--idle seconds`, default 10), it serves until Ctrl-C
//! (SIGINT), SIGTERM or the end of its standard input (Ctrl-D), then shuts down gracefully
//! and says how many connections it served (Go's `signal.NotifyContext(ctx, os.Interrupt,
//! syscall.SIGTERM)` is the context `serve` gets): `cargo run --release --example echo_server -- --addr
//! 127.0.0.1:7000`, and in another terminal `nc 127.0.0.1 7000`.

use goro::context::{self, Context};
use goro::sync::WaitGroup;
use goro::{chan, net};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Accepts until `ctx` is done, a goroutine per connection, then waits for them all.
/// Returns how many connections it served.
fn serve(ctx: &Context, ln: net::Listener, idle: Duration) -> usize {
    let ln = Arc::new(ln);
    {
        // go func() { <-ctx.Done(); ln.Close() }(): close wakes the blocked accept.
        let (ln, done) = (ln.clone(), ctx.done());
        goro::go!(move || {
            done.recv();
            let _ = ln.close();
        });
    }
    let wg = WaitGroup::new();
    let mut served = 0;
    loop {
        let conn = match ln.accept() {
            Ok(conn) => conn,
            Err(_) if ctx.err().is_some() => break,
            Err(e) => {
                eprintln!("echo_server: accept: {e}");
                goro::time::sleep(Duration::from_millis(5));
                continue;
            }
        };
        served += 1;
        let ctx = ctx.clone();
        wg.go(move || handle(&ctx, conn, idle));
    }
    wg.wait();
    served
}

/// Echoes what `conn` sends until EOF, an error, `idle` without a byte, or shutdown.
fn handle(ctx: &Context, conn: net::Conn, idle: Duration) {
    let conn = Arc::new(conn);
    // stop := context.AfterFunc(ctx, func() { conn.Close() }): shutdown ends idle clients.
    let stop = {
        let conn = conn.clone();
        context::after_func(ctx, move || {
            let _ = conn.close();
        })
    };
    // On the goroutine's stack: an idle connection holds no heap buffer.
    let mut buf = [0u8; 1024];
    loop {
        if conn.set_read_deadline(Some(Instant::now() + idle)).is_err() {
            break;
        }
        let n = match (&*conn).read(&mut buf) {
            Ok(0) | Err(_) => break, // EOF, deadline, closed by shutdown
            Ok(n) => n,
        };
        if (&*conn).write_all(&buf[..n]).is_err() {
            break;
        }
    }
    stop.stop(); // defer stop()
    let _ = conn.close();
}

/// What one demo client saw.
/// With `echoed`, it says so there once its line came back.
fn client(
    addr: &str,
    id: usize,
    line: Option<&str>,
    wait_for_close: bool,
    echoed: Option<chan::Sender<()>>,
) -> String {
    let conn = match net::dial("tcp", addr) {
        Ok(c) => c,
        Err(e) => return format!("client {id}: dial: {e}"),
    };
    let mut r = BufReader::new(&conn);
    let mut got = String::new();
    let mut said = String::new();
    if let Some(line) = line {
        if let Err(e) = (&conn).write_all(format!("{line}\n").as_bytes()) {
            return format!("client {id}: write: {e}");
        }
        if let Err(e) = r.read_line(&mut got) {
            return format!("client {id}: read: {e}");
        }
        said = format!("sent {line:?}, got back {:?}", got.trim_end());
        got.clear();
        if let Some(echoed) = echoed {
            echoed.send(());
        }
    }
    if line.is_some() && !wait_for_close {
        return format!("client {id}: {said}");
    }
    // Wait for the server to end the connection (EOF).
    let why = match r.read_line(&mut got) {
        Ok(0) if line.is_none() => "silent, dropped by the server's read deadline".to_string(),
        Ok(0) => format!("{said}; the server closed the connection at shutdown"),
        Ok(_) => format!("unexpected data {got:?}"),
        Err(e) => format!("read: {e}"),
    };
    format!("client {id}: {why}")
}

/// `--addr`, `--idle`: `None` for the demo.
fn parse_args() -> Result<Option<(String, Duration)>, String> {
    let mut addr = None;
    let mut idle = Duration::from_secs(10);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.trim_start_matches('-').split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (arg.trim_start_matches('-').to_string(), None),
        };
        let value = inline
            .or_else(|| args.next())
            .ok_or(format!("flag needs an argument: -{name}"))?;
        match name.as_str() {
            "addr" => addr = Some(value),
            "idle" => {
                idle = value
                    .parse::<f64>()
                    .ok()
                    .and_then(|s| Duration::try_from_secs_f64(s).ok())
                    .ok_or(format!("invalid value {value:?} for flag -idle"))?
            }
            _ => return Err(format!("flag provided but not defined: -{name}")),
        }
    }
    Ok(addr.map(|a| (a, idle)))
}

#[goro::main]
fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("echo_server: {e}\nusage: echo_server [--addr host:port [--idle seconds]]");
            std::process::exit(2);
        }
    };
    match args {
        Some((addr, idle)) => serve_until_stdin_closes(&addr, idle),
        None => demo(),
    }
}

/// The server on its own, until a SIGINT or SIGTERM, or the end of standard input.
fn serve_until_stdin_closes(addr: &str, idle: Duration) {
    let ln = match net::listen("tcp", addr) {
        Ok(ln) => ln,
        Err(e) => {
            eprintln!("echo_server: listen {addr}: {e}");
            std::process::exit(1);
        }
    };
    let (signalled, stop) = goro::signal::notify_context(
        &context::background(),
        &[goro::signal::SIGINT, goro::signal::SIGTERM],
    );
    println!("listening on {}", ln.addr().expect("listener address"));
    io::stdout().flush().ok();
    let (ctx, cancel) = context::with_cancel(&signalled);
    // Standard input is read on a thread of its own (a blocking read would hold an M and
    // its P); a cancel func may be called from any thread.
    std::thread::spawn(move || {
        let _ = io::copy(&mut io::stdin().lock(), &mut io::sink());
        cancel.cancel();
    });
    let served = serve(&ctx, ln, idle);
    stop.stop();
    println!("shut down: served {served} connections");
}

/// The server on a free port, driven by five clients.
fn demo() {
    let ln = net::listen("tcp", "127.0.0.1:0").expect("listen on a free port");
    let addr = ln.addr().expect("listener address").to_string();
    println!("server: listening");
    let (ctx, cancel) = context::with_cancel(&context::background());
    let server = {
        let ctx = ctx.clone();
        goro::spawn(move || serve(&ctx, ln, Duration::from_millis(100)))
    };

    // Three clients echo a line each, in parallel.
    let clients: Vec<_> = (1..=3)
        .map(|id| {
            let addr = addr.clone();
            goro::spawn(move || client(&addr, id, Some(&format!("hello from {id}")), false, None))
        })
        .collect();
    for c in clients {
        println!("{}", c.join().expect("client panicked"));
    }
    // A silent one: dropped after the 100 ms read deadline.
    println!("{}", client(&addr, 4, None, true, None));
    // One still connected when the server shuts down.
    let echoed = chan::make::<()>(0);
    let last = {
        let (addr, tx) = (addr.clone(), echoed.sender());
        goro::spawn(move || client(&addr, 5, Some("still here"), true, Some(tx)))
    };
    // Shut down once client 5 has its line back (it then waits, reading).
    echoed.recv();
    println!("server: shutting down");
    cancel.cancel();
    let served = server.join().expect("server panicked");
    println!("{}", last.join().expect("client panicked"));
    println!("server: served {served} connections, all closed");
}
