//! The network examples driven by real clients: `curl` and raw TCP against `http_hello`,
//! several TCP clients against `echo_server` and `chat`. Each example runs as a child
//! process on a free port (it prints `listening on ADDR` first); every socket read has a
//! timeout and every test runs under the watchdog, so nothing here can hang.

#[path = "../runtime/tests/common/mod.rs"]
mod common;
mod example_bin;

use common::watchdog;
use example_bin::example_bin;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// Longest wait for any one reply.
const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// An example server running as a child process; killed when dropped.
struct Server {
    child: Child,
    addr: String,
    stdout: BufReader<std::process::ChildStdout>,
    stdin: Option<ChildStdin>,
}

impl Server {
    fn start(name: &str, args: &[&str]) -> Server {
        let bin = example_bin(name);
        let mut child = Command::new(&bin)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("reading the example's first line");
        let addr = line
            .trim_end()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{name} printed {line:?}, not `listening on ADDR`"))
            .to_string();
        let stdin = child.stdin.take();
        Server {
            child,
            addr,
            stdout,
            stdin,
        }
    }

    fn connect(&self) -> TcpStream {
        let c = TcpStream::connect(&self.addr).expect("connecting to the example");
        c.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        c
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs curl with `args`; returns (stdout, stderr). curl is part of the test environment
/// (the README's prerequisites); its absence fails the test rather than skipping it.
fn curl(args: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "20"])
        .args(args)
        .output()
        .expect("running curl (install it: apt-get install curl)");
    assert!(
        out.status.success(),
        "curl {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Reads from `c` until EOF (the server closed); the read timeout fails the test instead.
fn read_to_eof(c: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    c.read_to_end(&mut all)
        .expect("the server should close the connection");
    all
}

/// One HTTP response from `r`: its head (status line and headers, without the date) and body.
fn read_response(r: &mut impl BufRead) -> (Vec<String>, String) {
    let mut head = Vec::new();
    let mut len = 0;
    loop {
        let mut line = String::new();
        assert!(
            r.read_line(&mut line).expect("reading a response") > 0,
            "EOF in a head"
        );
        let line = line.trim_end().to_string();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length: ") {
            len = v.parse().unwrap();
        }
        if !line.starts_with("Date: ") {
            head.push(line);
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    (head, String::from_utf8(body).unwrap())
}

#[test]
fn http_hello_answers_curl_with_the_exact_response() {
    watchdog(120, || {
        let s = Server::start("http_hello", &["--addr", "127.0.0.1:0"]);
        let (out, _) = curl(&["--include", &s.url("/")]);
        let lines: Vec<&str> = out.split("\r\n").collect();
        assert_eq!(lines[0], "HTTP/1.1 200 OK", "{out}");
        assert!(
            lines.contains(&"Content-Type: text/plain; charset=utf-8"),
            "{out}"
        );
        assert!(lines.contains(&"Content-Length: 13"), "{out}");
        let date = lines
            .iter()
            .find(|l| l.starts_with("Date: "))
            .expect("a Date header");
        assert!(
            date.ends_with(" GMT") && date.len() == "Date: ".len() + 29,
            "{date}"
        );
        assert!(out.ends_with("\r\n\r\nHello, World!"), "{out:?}");

        let (out, _) = curl(&["--include", &s.url("/nowhere")]);
        assert!(out.starts_with("HTTP/1.1 404 Not Found\r\n"), "{out}");
        assert!(out.ends_with("\r\n\r\n404 page not found\n"), "{out:?}");

        // HEAD: the head only.
        let (out, _) = curl(&["--head", &s.url("/")]);
        assert!(
            out.starts_with("HTTP/1.1 200 OK\r\n") && out.ends_with("\r\n\r\n"),
            "{out}"
        );
    });
}

#[test]
fn http_hello_keeps_the_connection_alive_for_curl_and_for_pipelined_requests() {
    watchdog(120, || {
        let s = Server::start("http_hello", &["--addr", "127.0.0.1:0"]);
        // Two URLs in one curl run: the second reuses the first's connection.
        let (out, err) = curl(&["--verbose", &s.url("/"), &s.url("/")]);
        assert_eq!(out, "Hello, World!Hello, World!");
        assert!(
            err.to_ascii_lowercase().contains("re-using existing"),
            "curl opened a second connection:\n{err}"
        );
        assert_eq!(err.matches("Connected to").count(), 1, "{err}");

        // Three requests in one write (pipelining), answered in order on one connection,
        // then one with `Connection: close`, after which the server closes.
        let mut c = s.connect();
        let req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        c.write_all(format!("{req}GET /a HTTP/1.1\r\nHost: x\r\n\r\n{req}").as_bytes())
            .unwrap();
        let mut r = BufReader::new(c.try_clone().unwrap());
        for want in ["Hello, World!", "404 page not found\n", "Hello, World!"] {
            let (_, body) = read_response(&mut r);
            assert_eq!(body, want);
        }
        c.write_all(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        )
        .unwrap();
        let (head, body) = read_response(&mut r);
        assert_eq!(body, "Hello, World!");
        assert!(head.contains(&"Connection: close".to_string()), "{head:?}");
        let mut rest = Vec::new();
        r.read_to_end(&mut rest)
            .expect("EOF after Connection: close");
        assert!(rest.is_empty());

        // HTTP/1.0 closes unless asked to keep alive.
        let mut c = s.connect();
        c.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        let all = String::from_utf8(read_to_eof(&mut c)).unwrap();
        assert!(all.starts_with("HTTP/1.1 200 OK\r\n") && all.ends_with("Hello, World!"));
    });
}

#[test]
fn http_hello_answers_malformed_requests_with_400_and_closes() {
    watchdog(120, || {
        let s = Server::start("http_hello", &["--addr", "127.0.0.1:0"]);
        // curl with a header whose name has a space: not a token, so not HTTP.
        let (out, _) = curl(&["--include", "--header", "Bad Header: x", &s.url("/")]);
        assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{out}");
        assert!(out.contains("Connection: close\r\n"), "{out}");

        // Garbage on a raw connection, after a good request on the same connection.
        let mut c = s.connect();
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nNOT HTTP AT ALL\r\n\r\n")
            .unwrap();
        let all = String::from_utf8(read_to_eof(&mut c)).unwrap();
        let (first, second) = all.split_once("Hello, World!").expect("the good request");
        assert!(first.starts_with("HTTP/1.1 200 OK\r\n"), "{all}");
        assert_eq!(
            second,
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Connection: close\r\n\r\n400 Bad Request"
        );

        // A header over the 8 KiB limit: 431, closed.
        let mut c = s.connect();
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(10_000));
        let _ = c.write_all(big.as_bytes()); // the server may close before reading it all
        let all = String::from_utf8_lossy(&read_to_eof(&mut c)).into_owned();
        assert!(
            all.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            "{all}"
        );
    });
}

#[test]
fn http_hello_drops_an_idle_or_slow_client_after_the_read_deadline() {
    watchdog(120, || {
        let s = Server::start(
            "http_hello",
            &["--addr", "127.0.0.1:0", "--read-timeout", "0.3"],
        );
        // Silent from the start.
        let mut idle = s.connect();
        let t = Instant::now();
        assert!(read_to_eof(&mut idle).is_empty());
        assert!(
            t.elapsed() >= Duration::from_millis(250),
            "{:?}",
            t.elapsed()
        );
        // Half a request, then nothing: also dropped, without an answer.
        let mut slow = s.connect();
        slow.write_all(b"GET / HTTP/1.1\r\nHo").unwrap();
        assert!(read_to_eof(&mut slow).is_empty());
        // Meanwhile the server still serves.
        let (out, _) = curl(&[&s.url("/")]);
        assert_eq!(out, "Hello, World!");
    });
}

#[test]
fn echo_server_serves_parallel_clients_drops_idle_ones_and_shuts_down_gracefully() {
    watchdog(120, || {
        let mut s = Server::start("echo_server", &["--addr", "127.0.0.1:0", "--idle", "0.3"]);
        // Eight clients in parallel, 200 lines each, every byte checked.
        let clients: Vec<_> = (0..8)
            .map(|id| {
                let c = s.connect();
                std::thread::spawn(move || {
                    let mut r = BufReader::new(c.try_clone().unwrap());
                    let mut w = c;
                    for i in 0..200 {
                        let line = format!("client {id} line {i}\n");
                        w.write_all(line.as_bytes()).unwrap();
                        let mut back = String::new();
                        r.read_line(&mut back).unwrap();
                        assert_eq!(back, line);
                    }
                })
            })
            .collect();
        for c in clients {
            c.join().expect("an echo client failed");
        }
        // A silent client is dropped by the read deadline.
        let mut idle = s.connect();
        assert!(read_to_eof(&mut idle).is_empty());
        // One still connected at shutdown: the server closes it.
        let mut open = s.connect();
        open.write_all(b"ping\n").unwrap();
        let mut back = [0u8; 5];
        open.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"ping\n");
        drop(s.stdin.take()); // EOF on the server's stdin: shut down
        assert!(read_to_eof(&mut open).is_empty());
        let mut last = String::new();
        s.stdout.read_line(&mut last).unwrap();
        assert_eq!(last, "shut down: served 10 connections\n");
        let status = s.child.wait().unwrap();
        assert!(status.success(), "{status}");
        // The listener is closed.
        assert!(TcpStream::connect(&s.addr).is_err());
    });
}

/// Sends `sig` to the example (as Ctrl-C or a service manager would).
fn signal_child(s: &Server, sig: goro::signal::Signal) {
    sig.send_to(s.child.id() as i32)
        .expect("signalling the example");
}

#[test]
fn http_hello_shuts_down_gracefully_on_sigint() {
    watchdog(120, || {
        let mut s = Server::start("http_hello", &["--addr", "127.0.0.1:0"]);
        // A keep-alive connection that has been served and now waits idle.
        let mut idle = s.connect();
        idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let (status, body) = read_response(&mut BufReader::new(idle.try_clone().unwrap()));
        assert_eq!(status[0], "HTTP/1.1 200 OK");
        assert_eq!(body, "Hello, World!");
        signal_child(&s, goro::signal::SIGINT);
        // The idle connection is closed and the server exits by itself, successfully.
        assert!(read_to_eof(&mut idle).is_empty());
        let mut last = String::new();
        s.stdout.read_line(&mut last).unwrap();
        assert_eq!(last, "shut down\n");
        let status = s.child.wait().unwrap();
        assert!(status.success(), "{status}");
        assert!(TcpStream::connect(&s.addr).is_err());
    });
}

#[test]
fn echo_server_shuts_down_gracefully_on_sigterm() {
    watchdog(120, || {
        let mut s = Server::start("echo_server", &["--addr", "127.0.0.1:0"]);
        let mut open = s.connect();
        open.write_all(b"ping\n").unwrap();
        let mut back = [0u8; 5];
        open.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"ping\n");
        signal_child(&s, goro::signal::SIGTERM);
        assert!(read_to_eof(&mut open).is_empty());
        let mut last = String::new();
        s.stdout.read_line(&mut last).unwrap();
        assert_eq!(last, "shut down: served 1 connections\n");
        let status = s.child.wait().unwrap();
        assert!(status.success(), "{status}");
    });
}

/// A chat client: its connection, a line reader, and the address the server calls it by.
struct ChatClient {
    w: TcpStream,
    r: BufReader<TcpStream>,
    who: String,
}

impl ChatClient {
    fn join(s: &Server) -> ChatClient {
        let w = s.connect();
        let r = BufReader::new(w.try_clone().unwrap());
        let mut c = ChatClient {
            who: String::new(),
            w,
            r,
        };
        let first = c.line();
        c.who = first
            .strip_prefix("You are ")
            .unwrap_or_else(|| panic!("first line {first:?}"))
            .to_string();
        assert_eq!(c.who, c.w.local_addr().unwrap().to_string());
        // Registered with the broadcaster once our own message comes back.
        c.say("ready");
        c.expect(&format!("{}: ready", c.who));
        c
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        assert!(
            self.r.read_line(&mut l).expect("reading chat") > 0,
            "chat closed"
        );
        l.trim_end().to_string()
    }

    fn say(&mut self, text: &str) {
        self.w.write_all(format!("{text}\n").as_bytes()).unwrap();
    }

    fn expect(&mut self, want: &str) {
        assert_eq!(self.line(), want, "client {}", self.who);
    }
}

#[test]
fn chat_broadcasts_arrivals_messages_and_departures_to_every_client() {
    watchdog(120, || {
        let s = Server::start("chat", &["--addr", "127.0.0.1:0"]);
        let mut a = ChatClient::join(&s);
        let mut b = ChatClient::join(&s);
        a.expect(&format!("{} has arrived", b.who));
        a.expect(&format!("{}: ready", b.who));
        let mut c = ChatClient::join(&s);
        for x in [&mut a, &mut b] {
            x.expect(&format!("{} has arrived", c.who));
            x.expect(&format!("{}: ready", c.who));
        }
        // Every message reaches every client, the sender included, in one order.
        a.say("hello from a");
        c.say("hello from c");
        let mut seen = Vec::new();
        for x in [&mut a, &mut b, &mut c] {
            seen.push([x.line(), x.line()]);
        }
        assert!(seen.iter().all(|s| *s == seen[0]), "{seen:?}");
        let mut got = seen[0].to_vec();
        got.sort();
        let mut want = vec![
            format!("{}: hello from a", a.who),
            format!("{}: hello from c", c.who),
        ];
        want.sort();
        assert_eq!(got, want);
        // b leaves: the others are told.
        let b_who = b.who.clone();
        drop(b);
        for x in [&mut a, &mut c] {
            x.expect(&format!("{b_who} has left"));
        }
    });
}
