//! An NBD server exporting a [`Zram`] device, so real block clients (qemu-img, qemu-io,
//! nbd-client) can use it.
//!
//! Fixed newstyle negotiation with NBD_OPT_EXPORT_NAME, NBD_OPT_INFO, NBD_OPT_GO,
//! NBD_OPT_LIST and NBD_OPT_ABORT (other options get NBD_REP_ERR_UNSUP, so clients fall back
//! to simple replies); transmission with READ, WRITE, FLUSH, TRIM, WRITE_ZEROES and DISC.
//! Requests must be in whole 512-byte sectors (advertised with NBD_INFO_BLOCK_SIZE). The
//! server binds 127.0.0.1 on an ephemeral port by default, runs one thread per connection,
//! and stops (closing every connection) on [`NbdServer::stop`] or drop.
//!
//! Nothing a client sends (or fails to send) holds a connection slot for long:
//!
//! - negotiation must finish within [`NbdConfig::handshake_timeout`], else the connection is
//!   dropped (`handshake_timeouts`);
//! - connections still negotiating have their own bound ([`NbdConfig::max_handshakes`]),
//!   separate from established clients ([`NbdConfig::max_connections`]): idle sockets that never
//!   negotiate cannot lock out clients that do, and their slots come back on timeout;
//! - in transmission a client silent for [`NbdConfig::idle_timeout`] is dropped
//!   (`idle_timeouts`);
//! - option data is bounded (8 KiB: export names are at most 4096 bytes): a longer option is
//!   refused with `NBD_REP_ERR_TOO_BIG` (skipped when at most 64 KiB long, else the connection
//!   is closed); a too-long `NBD_OPT_EXPORT_NAME`, which has no error reply, closes it
//!   (`oversized_options`);
//! - read and write payloads are bounded (32 MiB, advertised as the maximum block size): a
//!   larger read gets `NBD_EINVAL`; a larger write gets `NBD_EINVAL` and the connection is
//!   closed, since its payload is not read (`oversized_requests`).

mod proto;
mod transmit;

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::device::lock;
use crate::Zram;

/// Server options.
#[derive(Clone, Debug)]
pub struct NbdConfig {
    /// Where to listen (default 127.0.0.1:0, an ephemeral loopback port).
    pub addr: SocketAddr,
    /// The export's name; the empty name also selects it.
    pub export_name: String,
    /// Established clients (past negotiation) served at once; while this many are connected,
    /// new connections are closed at once.
    pub max_connections: usize,
    /// Connections still negotiating at once; beyond it new connections are closed at once.
    /// They are counted apart from established clients, and each holds its slot for at most
    /// `handshake_timeout`.
    pub max_handshakes: usize,
    /// Time a client has from connecting to the end of negotiation (default 10 s).
    pub handshake_timeout: Duration,
    /// Time a client may stay silent in transmission, and the longest a reply may wait for
    /// the client to read it, before it is dropped (default 10 minutes; `None`: never).
    pub idle_timeout: Option<Duration>,
    /// Refuse writes, trims and zeroing with EPERM.
    pub read_only: bool,
}

impl Default for NbdConfig {
    fn default() -> Self {
        NbdConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            export_name: "zram0".into(),
            max_connections: 8,
            max_handshakes: 16,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Some(Duration::from_secs(600)),
            read_only: false,
        }
    }
}

/// What a connection serves.
pub(crate) struct Export {
    pub dev: Arc<Zram>,
    pub name: String,
    pub size: u64,
    pub read_only: bool,
}

impl Export {
    fn matches(&self, name: &str) -> bool {
        name.is_empty() || name == self.name
    }

    fn flags(&self) -> u16 {
        use proto::*;
        let mut f = TFLAG_HAS_FLAGS | TFLAG_SEND_FLUSH | TFLAG_SEND_FUA;
        if self.read_only {
            f |= TFLAG_READ_ONLY;
        } else {
            f |= TFLAG_SEND_TRIM | TFLAG_SEND_WRITE_ZEROES;
        }
        f
    }
}

/// What the server has refused or dropped, and why.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NbdStats {
    /// Connections accepted for negotiation.
    pub accepted: u64,
    /// Connections closed at once: too many negotiating, or too many established.
    pub refused: u64,
    /// Connections that negotiated and entered transmission.
    pub established: u64,
    /// Connections dropped because negotiation did not finish in time.
    pub handshake_timeouts: u64,
    /// Connections dropped for silence in transmission (or a reply the client did not read).
    pub idle_timeouts: u64,
    /// Options refused as too long.
    pub oversized_options: u64,
    /// Read or write requests refused as too large.
    pub oversized_requests: u64,
}

/// Live counters and slot accounting, shared by the accept loop and the connections.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    negotiating: AtomicUsize,
    established: AtomicUsize,
    max_connections: usize,
    pub accepted: AtomicU64,
    pub refused: AtomicU64,
    pub entered: AtomicU64,
    pub handshake_timeouts: AtomicU64,
    pub idle_timeouts: AtomicU64,
    pub oversized_options: AtomicU64,
    pub oversized_requests: AtomicU64,
}

pub(crate) fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Shared {
    /// Takes an established slot, if one is free.
    pub(crate) fn claim_established(&self) -> bool {
        self.established
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < self.max_connections).then_some(n + 1)
            })
            .is_ok()
    }

    /// Gives back a slot taken by [`Shared::claim_established`] when transmission never
    /// starts.
    pub(crate) fn release_established(&self) {
        self.established.fetch_sub(1, Ordering::SeqCst);
    }

    fn snapshot(&self) -> NbdStats {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        NbdStats {
            accepted: r(&self.accepted),
            refused: r(&self.refused),
            established: r(&self.entered),
            handshake_timeouts: r(&self.handshake_timeouts),
            idle_timeouts: r(&self.idle_timeouts),
            oversized_options: r(&self.oversized_options),
            oversized_requests: r(&self.oversized_requests),
        }
    }
}

/// Gives a slot back when dropped.
struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The socket with a deadline: every read and write fails with `TimedOut` once it passes.
struct Deadline<'a> {
    s: &'a TcpStream,
    until: Instant,
}

impl Deadline<'_> {
    fn remaining(&self) -> io::Result<Duration> {
        match self.until.checked_duration_since(Instant::now()) {
            Some(d) if !d.is_zero() => Ok(d),
            _ => Err(io::ErrorKind::TimedOut.into()),
        }
    }
}

fn timed_out(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

impl io::Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.s.set_read_timeout(Some(self.remaining()?))?;
        io::Read::read(&mut self.s, buf)
    }
}

impl io::Write for Deadline<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.s.set_write_timeout(Some(self.remaining()?))?;
        io::Write::write(&mut self.s, buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct Conn {
    stream: TcpStream,
    thread: JoinHandle<()>,
}

/// A running server.
pub struct NbdServer {
    addr: SocketAddr,
    name: String,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    conns: Arc<Mutex<Vec<Conn>>>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for NbdServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NbdServer")
            .field("addr", &self.addr)
            .field("name", &self.name)
            .finish()
    }
}

/// Serves one connection; `negotiating` is the slot it holds until negotiation ends.
fn handle(
    stream: TcpStream,
    export: &Export,
    shared: &Shared,
    cfg: &Timeouts,
    negotiating: Slot<'_>,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let hs = {
        let mut d = Deadline {
            s: &stream,
            until: Instant::now() + cfg.handshake,
        };
        proto::handshake(&mut d, export, shared)
    };
    drop(negotiating);
    let res = match hs {
        Ok(proto::Negotiated::Close) => Ok(()),
        Ok(proto::Negotiated::Transmission) => {
            // handshake() claimed an established slot before committing.
            let _slot = Slot(&shared.established);
            inc(&shared.entered);
            stream.set_read_timeout(cfg.idle)?;
            stream.set_write_timeout(cfg.idle)?;
            let r = transmit::serve(&mut &stream, export, shared);
            if r.as_ref().is_err_and(timed_out) {
                inc(&shared.idle_timeouts);
            }
            r
        }
        Err(e) => {
            if timed_out(&e) {
                inc(&shared.handshake_timeouts);
            }
            Err(e)
        }
    };
    // The server keeps a clone of the socket (to close it on stop): shut it down explicitly.
    let _ = stream.shutdown(Shutdown::Both);
    res
}

/// Runs one whole session (negotiation, then transmission when the client asks for it) over
/// any byte stream, with no timeouts: what the NBD fuzz target drives with arbitrary client
/// bytes. It ends when the client disconnects, the stream ends or the protocol is broken;
/// the result says which.
#[doc(hidden)]
pub fn serve_stream<S: io::Read + io::Write>(
    s: &mut S,
    dev: Arc<Zram>,
    export_name: &str,
    read_only: bool,
) -> io::Result<()> {
    let export = Export {
        size: dev.disksize(),
        dev,
        name: export_name.to_string(),
        read_only,
    };
    let shared = Shared {
        max_connections: 1,
        ..Default::default()
    };
    match proto::handshake(s, &export, &shared)? {
        proto::Negotiated::Close => Ok(()),
        proto::Negotiated::Transmission => {
            let _slot = Slot(&shared.established);
            transmit::serve(s, &export, &shared)
        }
    }
}

#[derive(Clone, Copy)]
struct Timeouts {
    handshake: Duration,
    idle: Option<Duration>,
}

impl NbdServer {
    /// Starts serving `dev`.
    pub fn start(dev: Arc<Zram>, cfg: NbdConfig) -> io::Result<NbdServer> {
        let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("NbdConfig: {what}"));
        if cfg.max_connections == 0 {
            return Err(invalid("max_connections is 0"));
        }
        if cfg.max_handshakes == 0 {
            return Err(invalid("max_handshakes is 0"));
        }
        if cfg.handshake_timeout.is_zero() {
            return Err(invalid("handshake_timeout is 0"));
        }
        if cfg.idle_timeout.is_some_and(|d| d.is_zero()) {
            return Err(invalid("idle_timeout is 0 (use None for no timeout)"));
        }
        let listener = TcpListener::bind(cfg.addr)?;
        let addr = listener.local_addr()?;
        let export = Arc::new(Export {
            size: dev.disksize(),
            dev,
            name: cfg.export_name.clone(),
            read_only: cfg.read_only,
        });
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<Conn>>> = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(Shared {
            max_connections: cfg.max_connections,
            ..Default::default()
        });
        let (stop2, conns2, shared2) = (Arc::clone(&stop), Arc::clone(&conns), Arc::clone(&shared));
        let max_handshakes = cfg.max_handshakes;
        let timeouts = Timeouts {
            handshake: cfg.handshake_timeout,
            idle: cfg.idle_timeout,
        };
        listener.set_nonblocking(true)?;
        let accept = std::thread::Builder::new()
            .name("nbd-accept".into())
            .spawn(move || {
                while !stop2.load(Ordering::SeqCst) {
                    let stream = match listener.accept() {
                        Ok((s, _)) => s,
                        Err(_) => {
                            // WouldBlock (nothing pending) or a transient error: poll again soon.
                            std::thread::sleep(std::time::Duration::from_millis(10));
                            continue;
                        }
                    };
                    if stream.set_nonblocking(false).is_err() {
                        continue;
                    }
                    let sh = &shared2;
                    let mut list = lock(&conns2);
                    list.retain(|c| !c.thread.is_finished());
                    if sh.established.load(Ordering::SeqCst) >= sh.max_connections
                        || sh.negotiating.load(Ordering::SeqCst) >= max_handshakes
                    {
                        inc(&sh.refused);
                        let _ = stream.shutdown(Shutdown::Both);
                        continue;
                    }
                    let Ok(clone) = stream.try_clone() else { continue };
                    let export = Arc::clone(&export);
                    let shared = Arc::clone(sh);
                    sh.negotiating.fetch_add(1, Ordering::SeqCst);
                    let spawned = std::thread::Builder::new()
                        .name("nbd-conn".into())
                        .spawn(move || {
                            let slot = Slot(&shared.negotiating);
                            let _ = handle(stream, &export, &shared, &timeouts, slot);
                        });
                    match spawned {
                        Ok(thread) => {
                            inc(&sh.accepted);
                            list.push(Conn {
                                stream: clone,
                                thread,
                            });
                        }
                        Err(_) => {
                            // The closure (and the stream) was dropped unrun: give the slot back.
                            sh.negotiating.fetch_sub(1, Ordering::SeqCst);
                            inc(&sh.refused);
                        }
                    }
                }
            })?;
        Ok(NbdServer {
            addr,
            name: cfg.export_name,
            stop,
            accept: Some(accept),
            conns,
            shared,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `nbd://HOST:PORT/NAME`, as qemu takes it.
    pub fn url(&self) -> String {
        format!("nbd://{}/{}", self.addr, self.name)
    }

    /// What the server refused or dropped so far.
    pub fn stats(&self) -> NbdStats {
        self.shared.snapshot()
    }

    /// Connections negotiating now.
    pub fn negotiating(&self) -> usize {
        self.shared.negotiating.load(Ordering::SeqCst)
    }

    /// Connections in transmission now.
    pub fn established(&self) -> usize {
        self.shared.established.load(Ordering::SeqCst)
    }

    /// Connections being served now (negotiating or established).
    pub fn connections(&self) -> usize {
        lock(&self.conns)
            .iter()
            .filter(|c| !c.thread.is_finished())
            .count()
    }

    /// Stops accepting, closes every connection and waits for the threads.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let Some(accept) = self.accept.take() else { return };
        self.stop.store(true, Ordering::SeqCst);
        let _ = accept.join();
        let conns: Vec<Conn> = std::mem::take(&mut *lock(&self.conns));
        for c in &conns {
            let _ = c.stream.shutdown(Shutdown::Both);
        }
        for c in conns {
            let _ = c.thread.join();
        }
    }
}

impl Drop for NbdServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}
