//! Sockets for the two servers (the preview and the sign-up service): a leaf both use, so neither
//! borrows the other's internals.

use std::net::SocketAddr;

use crate::error::OpError;

/// A runtime for a small server (two threads: these machines have two cores) and its socket on
/// `addr`; a port in use is an error that says what to do.
pub fn listen(
    addr: SocketAddr,
) -> Result<(tokio::runtime::Runtime, tokio::net::TcpListener, SocketAddr), OpError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| OpError::system("start the server", e))?;
    let listener = runtime
        .block_on(async {
            let socket = match addr {
                SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
                SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
            }?;
            socket.set_reuseaddr(true)?;
            socket.bind(addr)?;
            // Room for many browsers (or a proxy's burst) connecting at once; the kernel caps it
            // at net.core.somaxconn.
            socket.listen(1024)
        })
        .map_err(|source| OpError::Listen { addr, source })?;
    let local = listener.local_addr().unwrap_or(addr);
    Ok((runtime, listener, local))
}
