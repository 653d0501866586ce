//! The service's accept loop: HTTP/1.1 from hyper, with the limits a service open to strangers
//! needs and `axum::serve` does not have. Neither slow clients nor many connections stall it:
//!
//! - a request's head must arrive within [`Settings::header_timeout`] of the connection being
//!   ready for it — from the connection's start, or from the end of the answer before on a
//!   kept-alive connection, so the same timer closes idle keep-alive connections;
//! - the body within [`super::http::BODY_TIMEOUT`] (the handlers read it);
//! - a client that stops reading our answer is dropped after [`Settings::write_stall`];
//! - a connection lives at most [`Settings::lifetime`], then closes after its request in
//!   progress, if any;
//! - at most [`Settings::max_connections`] at once, and at most [`Settings::per_client`] from one
//!   client (an IPv4 address, an IPv6 /64) — except from a proxy we trust, whose connections
//!   carry many clients. Connections past a cap get a short answer (503 or 429) and are closed
//!   at once, so a full server never leaves a visitor waiting in the kernel's queue.
//!
//! On shutdown it stops accepting, lets every connection finish the request in progress (within
//! [`Settings::grace`]) and closes them.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Sleep;

use super::guard;
use super::log;
use crate::sync::lock;

/// The limits of [`serve`]. The defaults suit a sign-up service behind a web server; tests use
/// shorter times.
#[derive(Debug, Clone)]
pub struct Settings {
    /// For a request's head, and the longest a kept-alive connection waits idle for the next.
    pub header_timeout: Duration,
    /// The longest our answer may wait for the client to read it.
    pub write_stall: Duration,
    /// The longest a connection stays open, however busy.
    pub lifetime: Duration,
    /// How long requests in progress may take to finish at shutdown or at the end of a lifetime.
    pub grace: Duration,
    /// Connections at once, all clients together. Mind the file descriptor limit (`ulimit -n`,
    /// 1024 by default): the database and the mail server need a few dozen more.
    pub max_connections: usize,
    /// Connections at once from one client that is not a trusted proxy.
    pub per_client: usize,
    /// How often refused connections are summed up in the log.
    pub report_every: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            header_timeout: Duration::from_secs(10),
            write_stall: Duration::from_secs(10),
            lifetime: Duration::from_secs(120),
            grace: Duration::from_secs(5),
            max_connections: 900,
            per_client: 32,
            report_every: Duration::from_secs(60),
        }
    }
}

/// The largest request head (and write buffer) of a connection: the service's requests are a
/// path, a few headers and at most 4 KiB of form, so hyper's 400 KB would only feed an attacker.
const MAX_BUFFER: usize = 64 * 1024;
const MAX_HEADERS: usize = 64;

/// The answer to a connection past a cap, written in one go to the fresh socket (it fits in any
/// send buffer) before it is closed. Plain text: rendering a page of the theme is work that a
/// flood of connections should not get.
fn refusal(status: &str, text: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nRetry-After: 10\r\nConnection: close\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\r\n{text}",
        text.len()
    )
    .into_bytes()
}

/// Serves `router` on `listener` until `shutdown` completes, then closes every connection
/// (see the module documentation). `is_proxy` tells the peers whose connections are not
/// counted per client. Handlers find the peer as `ConnectInfo<SocketAddr>`, as with axum's own
/// server.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: Settings,
    is_proxy: impl Fn(IpAddr) -> bool,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_timeout)
        .keep_alive(true)
        .max_buf_size(MAX_BUFFER)
        .max_headers(MAX_HEADERS);
    let builder = Arc::new(builder);
    let full = refusal(
        "503 Service Unavailable",
        "Der Dienst ist gerade ausgelastet. Bitte versuchen Sie es in einer Minute noch einmal.\n",
    );
    let too_many = refusal(
        "429 Too Many Requests",
        "Von Ihrem Anschluss sind zu viele Verbindungen offen. Bitte versuchen Sie es in einer Minute noch einmal.\n",
    );
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    let clients = Arc::new(Clients::default());
    let refused = Refused::default();
    let (stop, stopped) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut report = tokio::time::interval(settings.report_every);
    report.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = report.tick() => refused.report(&settings),
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        if !is_connection_error(&e) {
                            // Out of file descriptors, most likely: the connections that are
                            // open finish and free theirs; the next ones wait in the queue.
                            refused.accept_failed(&e);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        continue;
                    }
                };
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    refused.full.fetch_add(1, Ordering::Relaxed);
                    turn_away(&stream, &full);
                    continue;
                };
                let ip = peer.ip().to_canonical();
                let client = if is_proxy(ip) {
                    None
                } else {
                    match Clients::enter(&clients, guard::client_key(ip), settings.per_client) {
                        Some(c) => Some(c),
                        None => {
                            refused.client.fetch_add(1, Ordering::Relaxed);
                            turn_away(&stream, &too_many);
                            continue;
                        }
                    }
                };
                let _ = stream.set_nodelay(true);
                connections.spawn(connection(
                    stream,
                    peer,
                    router.clone(),
                    builder.clone(),
                    settings.clone(),
                    stopped.clone(),
                    (slot, client),
                ));
            }
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let all_closed = async { while connections.join_next().await.is_some() {} };
    // Every connection ends within `grace` of the signal; a little more for the last writes.
    let _ = tokio::time::timeout(settings.grace + Duration::from_secs(1), all_closed).await;
    connections.abort_all();
    refused.report(&settings);
}

/// One connection, from its first byte to its end.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    builder: Arc<http1::Builder>,
    settings: Settings,
    mut stopped: watch::Receiver<bool>,
    _held: (OwnedSemaphorePermit, Option<ClientSlot>),
) {
    let app = TowerToHyperService::new(router);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        app.call(request)
    });
    let io = TokioIo::new(Guarded::new(stream, settings.write_stall));
    let mut conn = std::pin::pin!(builder.serve_connection(io, service));
    tokio::select! {
        // Its errors are the client's (a reset, a timeout, a malformed request): nothing to log.
        _ = conn.as_mut() => return,
        _ = stopped.wait_for(|s| *s) => {}
        () = tokio::time::sleep(settings.lifetime) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(settings.grace, conn).await;
}

/// Writes a refusal to a connection we will not serve, without waiting, and closes it.
fn turn_away(stream: &TcpStream, answer: &[u8]) {
    let _ = stream.try_write(answer);
}

/// Errors of one connection that `accept` reports: the next one is fine.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Open connections per client.
#[derive(Default)]
struct Clients(Mutex<HashMap<IpAddr, usize>>);

/// A client's place among its connections; gives it back when dropped.
struct ClientSlot {
    clients: Arc<Clients>,
    key: IpAddr,
}

impl Clients {
    fn enter(clients: &Arc<Clients>, key: IpAddr, cap: usize) -> Option<ClientSlot> {
        // Deliberately not `sync::lock`: a poisoned lock means a panic while counting, and the
        // service then refuses every connection (fails closed) rather than trust the count.
        let Ok(mut open) = clients.0.lock() else {
            return None;
        };
        let n = open.entry(key).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            clients: clients.clone(),
            key,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = lock(&self.clients.0);
        if let Some(n) = open.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                // The map holds only clients with open connections.
                open.remove(&self.key);
            }
        }
    }
}

/// Connections turned away since the last report: summed up, never one log line each.
#[derive(Default)]
struct Refused {
    full: AtomicU64,
    client: AtomicU64,
    accept: AtomicU64,
    accept_error: Mutex<Option<String>>,
}

impl Refused {
    fn accept_failed(&self, e: &io::Error) {
        self.accept.fetch_add(1, Ordering::Relaxed);
        *lock(&self.accept_error) = Some(e.to_string());
    }

    fn report(&self, settings: &Settings) {
        let full = self.full.swap(0, Ordering::Relaxed);
        let client = self.client.swap(0, Ordering::Relaxed);
        let accept = self.accept.swap(0, Ordering::Relaxed);
        if full > 0 {
            log(&format!(
                "{full} connection(s) turned away (503): {} were open, the most the service takes",
                settings.max_connections
            ));
        }
        if client > 0 {
            log(&format!(
                "{client} connection(s) turned away (429): their client had {} open already",
                settings.per_client
            ));
        }
        if accept > 0 {
            let last = lock(&self.accept_error).take().unwrap_or_default();
            log(&format!(
                "{accept} connection(s) could not be accepted ({last}); raise the limit of open files (LimitNOFILE)"
            ));
        }
    }
}

/// A TCP stream whose writes give up when the client has not read for `stall`: otherwise a
/// client that never reads our answer would hold its connection for good.
struct Guarded {
    stream: TcpStream,
    stall: Duration,
    /// Runs while a write waits for the client.
    waiting: Option<Pin<Box<Sleep>>>,
}

impl Guarded {
    fn new(stream: TcpStream, stall: Duration) -> Guarded {
        Guarded {
            stream,
            stall,
            waiting: None,
        }
    }

    /// After a write that could not go on: pending until the client reads, an error once it
    /// has not for `stall`.
    fn blocked<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let stall = self.stall;
        let timer = self
            .waiting
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client does not read the answer",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn progressed<T>(
        &mut self,
        result: Poll<io::Result<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<T>> {
        match result {
            Poll::Pending => self.blocked(cx),
            ready => {
                self.waiting = None;
                ready
            }
        }
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.progressed(result, cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.progressed(result, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_flush(cx);
        this.progressed(result, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_shutdown(cx);
        this.progressed(result, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use std::io::{Read, Write};
    use std::net::TcpStream as Client;

    fn settings() -> Settings {
        Settings {
            header_timeout: Duration::from_secs(2),
            write_stall: Duration::from_millis(500),
            lifetime: Duration::from_secs(60),
            grace: Duration::from_millis(500),
            max_connections: 4,
            per_client: 2,
            report_every: Duration::from_secs(60),
        }
    }

    /// A server on its own runtime with `settings`, whose `/` names the peer and whose `/big`
    /// is 64 MiB; it runs until the returned sender is dropped or used.
    fn start(settings: Settings, proxies: bool) -> (SocketAddr, Server) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let router =
            Router::new()
                .route(
                    "/",
                    get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                        peer.ip().to_string()
                    }),
                )
                .route("/big", get(|| async { vec![b'x'; 64 << 20] }));
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            runtime.block_on(serve(listener, router, settings, move |_| proxies, async {
                let _ = stopped.await;
            }))
        });
        (addr, Server { stop, thread })
    }

    struct Server {
        stop: tokio::sync::oneshot::Sender<()>,
        thread: std::thread::JoinHandle<()>,
    }

    impl Server {
        /// Stops it; how long `serve` took to return.
        fn stop(self) -> Duration {
            let began = std::time::Instant::now();
            let _ = self.stop.send(());
            self.thread.join().unwrap();
            began.elapsed()
        }
    }

    fn connect(addr: SocketAddr) -> Client {
        let c = Client::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c
    }

    /// Sends `GET path` and reads until the server closes the connection.
    fn get_once(addr: SocketAddr, path: &str) -> String {
        let mut c = connect(addr);
        c.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .unwrap();
        let mut out = Vec::new();
        let _ = c.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Opens a connection that sends nothing, once the server has taken it.
    fn hold(addr: SocketAddr) -> Client {
        let c = connect(addr);
        std::thread::sleep(Duration::from_millis(50));
        c
    }

    /// Whether the server closed `c` (reading ends) within its read timeout.
    fn closed(mut c: Client) -> bool {
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).is_ok()
            || c.read(&mut [0u8; 1])
                .is_err_and(|e| e.kind() == io::ErrorKind::ConnectionReset)
    }

    #[test]
    fn handlers_know_the_peer() {
        let (addr, server) = start(settings(), false);
        let answer = get_once(addr, "/");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("127.0.0.1"), "{answer}");
        server.stop();
    }

    #[test]
    fn one_client_cannot_take_every_connection() {
        let (addr, server) = start(settings(), false);
        let a = hold(addr);
        let _b = hold(addr);
        let third = get_once(addr, "/");
        assert!(third.starts_with("HTTP/1.1 429"), "{third}");
        assert!(third.contains("zu viele Verbindungen"), "{third}");
        drop(a);
        std::thread::sleep(Duration::from_millis(50));
        assert!(get_once(addr, "/").starts_with("HTTP/1.1 200"));
        server.stop();
    }

    #[test]
    fn past_the_cap_connections_are_turned_away_at_once() {
        // A proxy's connections are not counted per client, only against the cap.
        let (addr, server) = start(settings(), true);
        let mut held: Vec<_> = (0..4).map(|_| hold(addr)).collect();
        let fifth = get_once(addr, "/");
        assert!(fifth.starts_with("HTTP/1.1 503"), "{fifth}");
        assert!(fifth.contains("Retry-After: 10"), "{fifth}");
        held.clear();
        std::thread::sleep(Duration::from_millis(50));
        assert!(get_once(addr, "/").starts_with("HTTP/1.1 200"));
        server.stop();
    }

    #[test]
    fn a_client_that_never_reads_the_answer_loses_its_connection() {
        let (addr, server) = start(
            Settings {
                per_client: 1,
                ..settings()
            },
            false,
        );
        let mut reader = connect(addr);
        reader
            .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        // Its one connection is taken while the answer waits; then the write gives up.
        std::thread::sleep(Duration::from_millis(100));
        assert!(get_once(addr, "/").starts_with("HTTP/1.1 429"));
        // The write's timeout frees the connection; on a loaded machine that may take longer
        // than the timeout itself, so ask again until it is answered (within seconds, not never).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut answer = get_once(addr, "/");
        while !answer.starts_with("HTTP/1.1 200") && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            answer = get_once(addr, "/");
        }
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        drop(reader);
        server.stop();
    }

    #[test]
    fn a_head_that_never_finishes_is_cut_off() {
        let (addr, server) = start(settings(), false);
        let mut slow = connect(addr);
        slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
        let began = std::time::Instant::now();
        assert!(closed(slow), "closed by the server");
        assert!(
            began.elapsed() >= Duration::from_millis(1500),
            "{:?}",
            began.elapsed()
        );
        server.stop();
    }

    #[test]
    fn shutdown_closes_connections_that_never_finish() {
        let (addr, server) = start(settings(), false);
        let mut slow = connect(addr);
        slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let took = server.stop();
        assert!(took < Duration::from_secs(2), "{took:?}");
        assert!(closed(slow));
    }
}
