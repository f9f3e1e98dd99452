//! chat: the broadcast chat server of "The Go Programming Language" (section 8.10).
//!
//! Clients join over TCP; each connection has a goroutine reading its lines and another
//! writing what the broadcaster sends it; one broadcaster goroutine owns the set of clients
//! and `select`s over the entering, leaving and messages channels, so no lock guards the set.
//!
//! ```go
//! type client chan<- string // an outgoing message channel
//!
//! var (
//!     entering = make(chan client)
//!     leaving  = make(chan client)
//!     messages = make(chan string) // all incoming client messages
//! )
//!
//! func broadcaster() {
//!     clients := make(map[client]bool) // all connected clients
//!     for {
//!         select {
//!         case msg := <-messages:
//!             // Broadcast incoming message to all clients' outgoing message channels.
//!             for cli := range clients {
//!                 cli <- msg
//!             }
//!         case cli := <-entering:
//!             clients[cli] = true
//!         case cli := <-leaving:
//!             delete(clients, cli)
//!             close(cli)
//!         }
//!     }
//! }
//!
//! func handleConn(conn net.Conn) {
//!     ch := make(chan string) // outgoing client messages
//!     go clientWriter(conn, ch)
//!     who := conn.RemoteAddr().String()
//!     ch <- "You are " + who
//!     messages <- who + " has arrived"
//!     entering <- ch
//!     input := bufio.NewScanner(conn)
//!     for input.Scan() {
//!         messages <- who + ": " + input.Text()
//!     }
//!     leaving <- ch
//!     messages <- who + " has left"
//!     conn.Close()
//! }
//!
//! func clientWriter(conn net.Conn, ch <-chan string) {
//!     for msg := range ch {
//!         fmt.Fprintln(conn, msg) // NOTE: ignoring network errors
//!     }
//! }
//!
//! func main() {
//!     listener, err := net.Listen("tcp", "localhost:8000")
//!     if err != nil { log.Fatal(err) }
//!     go broadcaster()
//!     for {
//!         conn, err := listener.Accept()
//!         if err != nil { log.Print(err); continue }
//!         go handleConn(conn)
//!     }
//! }
//! ```
//!
//! One departure, the book's own exercise 8.15: a client's channel is buffered (16
//! messages), so one slow reader does not stall every other client at once.
//!
//! Run: `cargo run --release --example chat -- --addr 127.0.0.1:8000` (it prints `listening
//! on ADDR`), then `nc 127.0.0.1 8000` in two terminals.

use goro::chan::{self, Chan};
use goro::{net, select};
use std::io::{self, BufRead, BufReader, Write};

/// The channels every connection shares with the broadcaster.
#[derive(Clone)]
struct Hub {
    entering: Chan<Chan<String>>,
    leaving: Chan<Chan<String>>,
    messages: Chan<String>,
}

fn broadcaster(hub: Hub) {
    let mut clients: Vec<Chan<String>> = Vec::new(); // all connected clients
    loop {
        select! {
            msg = <-hub.messages => {
                let msg = msg.expect("nobody closes messages");
                // Broadcast incoming message to all clients' outgoing message channels.
                for cli in &clients {
                    cli.send(msg.clone());
                }
            }
            cli = <-hub.entering => clients.push(cli.expect("nobody closes entering")),
            cli = <-hub.leaving => {
                let cli = cli.expect("nobody closes leaving");
                clients.retain(|c| *c != cli);
                cli.close();
            }
        }
    }
}

fn handle_conn(hub: Hub, conn: net::Conn) {
    let ch = chan::make::<String>(16); // outgoing client messages
    let conn = std::sync::Arc::new(conn);
    {
        let (conn, ch) = (conn.clone(), ch.receiver());
        goro::go!(move || client_writer(&conn, ch));
    }
    let who = match conn.remote_addr() {
        Ok(a) => a.to_string(),
        Err(_) => return,
    };
    ch.send(format!("You are {who}"));
    hub.messages.send(format!("{who} has arrived"));
    hub.entering.send(ch.clone());
    for line in BufReader::new(&*conn).lines() {
        let Ok(line) = line else { break };
        hub.messages.send(format!("{who}: {line}"));
    }
    hub.leaving.send(ch);
    hub.messages.send(format!("{who} has left"));
    let _ = conn.close();
}

fn client_writer(conn: &net::Conn, ch: chan::Receiver<String>) {
    for msg in ch {
        let _ = writeln!(&mut &*conn, "{msg}"); // NOTE: ignoring network errors
    }
}

#[goro::main]
fn main() {
    let mut addr = "127.0.0.1:8000".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.trim_start_matches('-').split_once('=') {
            Some(("addr", v)) => addr = v.to_string(),
            None if arg.trim_start_matches('-') == "addr" => match args.next() {
                Some(v) => addr = v,
                None => usage("flag needs an argument: -addr"),
            },
            _ => usage(&format!("flag provided but not defined: {arg}")),
        }
    }
    let listener = match net::listen("tcp", &addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("chat: listen {addr}: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "listening on {}",
        listener.addr().expect("listener address")
    );
    io::stdout().flush().ok();
    let hub = Hub {
        entering: chan::make(0),
        leaving: chan::make(0),
        messages: chan::make(0),
    };
    {
        let hub = hub.clone();
        goro::go!(move || broadcaster(hub));
    }
    loop {
        match listener.accept() {
            Ok(conn) => {
                let hub = hub.clone();
                goro::go!(move || handle_conn(hub, conn));
            }
            Err(e) => {
                eprintln!("chat: accept: {e}");
                goro::time::sleep(std::time::Duration::from_millis(5));
            }
        }
    }
}

fn usage(why: &str) -> ! {
    eprintln!("chat: {why}\nusage: chat [--addr host:port]");
    std::process::exit(2);
}
