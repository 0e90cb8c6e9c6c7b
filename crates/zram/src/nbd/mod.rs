//! An NBD server exporting a [`Zram`] device, so real block clients (qemu-img, qemu-io,
//! nbd-client) can use it.
//!
//! Fixed newstyle negotiation with NBD_OPT_EXPORT_NAME, NBD_OPT_INFO, NBD_OPT_GO,
//! NBD_OPT_LIST and NBD_OPT_ABORT (other options get NBD_REP_ERR_UNSUP, so clients fall back
//! to simple replies); transmission with READ, WRITE, FLUSH, TRIM, WRITE_ZEROES and DISC.
//! Requests must be in whole 512-byte sectors (advertised with NBD_INFO_BLOCK_SIZE). The
//! server binds 127.0.0.1 on an ephemeral port by default, runs one thread per connection,
//! refuses connections beyond a bound, and stops (closing every connection) on
//! [`NbdServer::stop`] or drop.

mod proto;
mod transmit;

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::device::lock;
use crate::Zram;

/// Server options.
#[derive(Clone, Debug)]
pub struct NbdConfig {
    /// Where to listen (default 127.0.0.1:0, an ephemeral loopback port).
    pub addr: SocketAddr,
    /// The export's name; the empty name also selects it.
    pub export_name: String,
    /// Connections served at once; more are closed at once.
    pub max_connections: usize,
    /// Refuse writes, trims and zeroing with EPERM.
    pub read_only: bool,
}

impl Default for NbdConfig {
    fn default() -> Self {
        NbdConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            export_name: "zram0".into(),
            max_connections: 8,
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
}

impl std::fmt::Debug for NbdServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NbdServer")
            .field("addr", &self.addr)
            .field("name", &self.name)
            .finish()
    }
}

fn handle(mut stream: TcpStream, export: &Export) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let res = match proto::handshake(&mut stream, export) {
        Ok(proto::Negotiated::Close) => Ok(()),
        Ok(proto::Negotiated::Transmission) => transmit::serve(&mut stream, export),
        Err(e) => Err(e),
    };
    // The server keeps a clone of the socket (to close it on stop): shut it down explicitly.
    let _ = stream.shutdown(Shutdown::Both);
    res
}

impl NbdServer {
    /// Starts serving `dev`.
    pub fn start(dev: Arc<Zram>, cfg: NbdConfig) -> io::Result<NbdServer> {
        if cfg.max_connections == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "max_connections is 0",
            ));
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
        let (stop2, conns2) = (Arc::clone(&stop), Arc::clone(&conns));
        let max = cfg.max_connections;
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
                    let mut list = lock(&conns2);
                    list.retain(|c| !c.thread.is_finished());
                    if list.len() >= max {
                        let _ = stream.shutdown(Shutdown::Both);
                        continue;
                    }
                    let Ok(clone) = stream.try_clone() else { continue };
                    let export = Arc::clone(&export);
                    let spawned = std::thread::Builder::new()
                        .name("nbd-conn".into())
                        .spawn(move || {
                            let _ = handle(stream, &export);
                        });
                    if let Ok(thread) = spawned {
                        list.push(Conn {
                            stream: clone,
                            thread,
                        });
                    }
                }
            })?;
        Ok(NbdServer {
            addr,
            name: cfg.export_name,
            stop,
            accept: Some(accept),
            conns,
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

    /// Connections being served now.
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
