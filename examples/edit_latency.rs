//! Measures the preview's save-to-reload time: connects to a running `ozg-site serve`, edits one
//! page N times, and reports how long each save took to reach the browser as a reload event.
//!
//! ```text
//! cargo run --release --example edit_latency -- ADDR PAGE_FILE [EDITS] [FULL_BUILD_SECONDS]
//! ```
//! Used by `bench/serve_edit.sh`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (addr, file) = match args.as_slice() {
        [a, f, ..] => (a.clone(), f.clone()),
        _ => {
            eprintln!("usage: edit_latency ADDR PAGE_FILE [EDITS]");
            std::process::exit(2);
        }
    };
    let edits: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(20);
    let mut stream = TcpStream::connect(&addr).expect("connect to the preview server");
    write!(
        stream,
        "GET /__ozg/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if line == "event: reload" && tx.send(Instant::now()).is_err() {
                return;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    let original = std::fs::read_to_string(&file).expect("read the page");
    let mut times = Vec::new();
    for i in 0..edits {
        let text = format!("{original}\nBearbeitung {i}.\n");
        let saved = Instant::now();
        std::fs::write(&file, text).expect("write the page");
        let reloaded = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("a reload event");
        times.push(reloaded.duration_since(saved).as_secs_f64() * 1000.0);
        // Let the server settle so each measurement is one save, not a burst.
        std::thread::sleep(Duration::from_millis(300));
        while rx.try_recv().is_ok() {}
    }
    std::fs::write(&file, original).expect("restore the page");
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "save→reload over {edits} edits: median {median:.1} ms, min {:.1} ms, max {:.1} ms",
        times[0],
        times[times.len() - 1]
    );
    if let Some(full) = args.get(3).and_then(|s| s.parse::<f64>().ok()) {
        println!(
            "median as a share of the full build: {:.1} % (targets: under 50 ms and under 5 %)",
            median / (full * 1000.0) * 100.0
        );
    }
}
