//! A TCP forwarder with an on/off switch: the app reaches its database through it, so
//! a test can take "the database" away and bring it back without touching the shared
//! PostgreSQL server.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// Forwards `127.0.0.1:<port>` to an upstream address while switched on. Switched off,
/// it closes every forwarded connection and stops listening, so new connections are
/// refused as by a stopped server.
#[derive(Debug)]
pub struct TcpForwarder {
    port: u16,
    switch: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl TcpForwarder {
    /// Starts forwarding to `upstream` (`host:port`), switched on.
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the forwarder");
        let address = listener.local_addr().expect("the forwarder's address");
        let (switch, state) = watch::channel(true);
        let task = tokio::spawn(forward(address, listener, upstream, state));
        Self {
            port: address.port(),
            switch,
            task,
        }
    }

    pub const fn port(&self) -> u16 {
        self.port
    }

    /// Off: connections are cut and refused. On: accepted and forwarded again.
    pub fn set_on(&self, on: bool) {
        self.switch.send_replace(on);
    }
}

impl Drop for TcpForwarder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    address: SocketAddr,
    listener: TcpListener,
    upstream: String,
    mut state: watch::Receiver<bool>,
) {
    let mut listener = Some(listener);
    // Dropping the set (switch off, or the forwarder itself) aborts every pipe,
    // which closes both of its sockets.
    let mut pipes = JoinSet::new();
    loop {
        if let Some(open) = &listener {
            tokio::select! {
                accepted = open.accept() => {
                    if let Ok((client, _)) = accepted {
                        pipes.spawn(pipe(client, upstream.clone()));
                    }
                }
                Some(_) = pipes.join_next(), if !pipes.is_empty() => {}
                changed = state.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    if !*state.borrow_and_update() {
                        listener = None;
                        pipes.abort_all();
                    }
                }
            }
        } else {
            if state.changed().await.is_err() {
                return;
            }
            if *state.borrow_and_update() {
                listener = Some(rebind(address).await);
            }
        }
    }
}

async fn pipe(mut client: TcpStream, upstream: String) {
    if let Ok(mut server) = TcpStream::connect(upstream).await {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
    }
}

/// The same port again (tokio sets `SO_REUSEADDR`, so closed connections in
/// `TIME_WAIT` do not block it).
async fn rebind(address: SocketAddr) -> TcpListener {
    let mut last_error = None;
    for _ in 0..100 {
        match TcpListener::bind(address).await {
            Ok(listener) => return listener,
            Err(error) => last_error = Some(error),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the forwarder cannot listen on {address} again: {last_error:?}");
}
