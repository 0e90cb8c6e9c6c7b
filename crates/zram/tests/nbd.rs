//! The NBD export: the protocol with a minimal client of our own, then real clients
//! (qemu-io, qemu-img) writing through the export and reading back identically.

use idxd_testutil as common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{corpus, hash, software, PAGE};
use idxd_emu::device::EmuConfig;
use idxd_runtime::{Algorithm, DeviceSpec, IaaMode, RuntimeBuilder};
use idxd_zram::nbd::{NbdConfig, NbdServer};
use idxd_zram::{Zram, ZramBuilder};

const IHAVEOPT: u64 = 0x4948_4156_454f_5054;
const OPT_REPLY_MAGIC: u64 = 0x0003_e889_0455_65a9;

struct Client(TcpStream);

impl Client {
    fn u16(&mut self) -> u16 {
        let mut b = [0u8; 2];
        self.0.read_exact(&mut b).unwrap();
        u16::from_be_bytes(b)
    }
    fn u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.0.read_exact(&mut b).unwrap();
        u32::from_be_bytes(b)
    }
    fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.0.read_exact(&mut b).unwrap();
        u64::from_be_bytes(b)
    }
    fn connect(addr: std::net::SocketAddr) -> Client {
        let s = TcpStream::connect(addr).unwrap();
        // No read may hang the test: a server that stops answering fails it instead.
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut c = Client(s);
        assert_eq!(c.u64(), 0x4e42_444d_4147_4943);
        assert_eq!(c.u64(), IHAVEOPT);
        assert_eq!(c.u16(), 3, "fixed newstyle, no zeroes");
        c.0.write_all(&3u32.to_be_bytes()).unwrap();
        c
    }
    fn option(&mut self, opt: u32, data: &[u8]) {
        let mut b = IHAVEOPT.to_be_bytes().to_vec();
        b.extend_from_slice(&opt.to_be_bytes());
        b.extend_from_slice(&(data.len() as u32).to_be_bytes());
        b.extend_from_slice(data);
        self.0.write_all(&b).unwrap();
    }
    /// (reply type, data)
    fn reply(&mut self, opt: u32) -> (u32, Vec<u8>) {
        assert_eq!(self.u64(), OPT_REPLY_MAGIC);
        assert_eq!(self.u32(), opt);
        let kind = self.u32();
        let len = self.u32();
        let mut d = vec![0u8; len as usize];
        self.0.read_exact(&mut d).unwrap();
        (kind, d)
    }
    fn request(&mut self, cmd: u16, handle: u64, offset: u64, len: u32, data: &[u8]) -> (u32, Vec<u8>) {
        let mut b = 0x2560_9513u32.to_be_bytes().to_vec();
        b.extend_from_slice(&0u16.to_be_bytes());
        b.extend_from_slice(&cmd.to_be_bytes());
        b.extend_from_slice(&handle.to_be_bytes());
        b.extend_from_slice(&offset.to_be_bytes());
        b.extend_from_slice(&len.to_be_bytes());
        b.extend_from_slice(data);
        self.0.write_all(&b).unwrap();
        assert_eq!(self.u32(), 0x6744_6698);
        let err = self.u32();
        assert_eq!(self.u64(), handle);
        let mut d = vec![];
        if cmd == 0 && err == 0 {
            d = vec![0u8; len as usize];
            self.0.read_exact(&mut d).unwrap();
        }
        (err, d)
    }
}

fn go_data(name: &str, infos: &[u16]) -> Vec<u8> {
    let mut d = (name.len() as u32).to_be_bytes().to_vec();
    d.extend_from_slice(name.as_bytes());
    d.extend_from_slice(&(infos.len() as u16).to_be_bytes());
    for i in infos {
        d.extend_from_slice(&i.to_be_bytes());
    }
    d
}

#[test]
fn protocol_with_a_minimal_client() {
    let dev = Arc::new(ZramBuilder::new(1 << 20, software("lz4")).build().unwrap());
    let server = NbdServer::start(Arc::clone(&dev), NbdConfig::default()).unwrap();
    assert!(server.local_addr().ip().is_loopback());

    // LIST, an unsupported option, INFO of an unknown export, then GO.
    let mut c = Client::connect(server.local_addr());
    c.option(3, &[]);
    let (kind, d) = c.reply(3);
    assert_eq!(kind, 2);
    assert_eq!(&d[4..], b"zram0");
    assert_eq!(c.reply(3).0, 1);
    c.option(8, &[]); // structured replies: not offered
    assert_eq!(c.reply(8).0, (1 << 31) | 1);
    c.option(6, &go_data("nope", &[]));
    assert_eq!(c.reply(6).0, (1 << 31) | 6);
    c.option(6, &go_data("zram0", &[3]));
    let (kind, d) = c.reply(6);
    assert_eq!((kind, u16::from_be_bytes([d[0], d[1]])), (3, 0));
    assert_eq!(u64::from_be_bytes(d[2..10].try_into().unwrap()), 1 << 20);
    let (kind, d) = c.reply(6);
    assert_eq!(
        (kind, u16::from_be_bytes([d[0], d[1]])),
        (3, 3),
        "block size info"
    );
    assert_eq!(c.reply(6).0, 1);
    c.option(7, &go_data("", &[]));
    assert_eq!(c.reply(7).0, 3);
    assert_eq!(c.reply(7).0, 1);

    // Transmission.
    let data: Vec<u8> = (0..3 * PAGE).map(|i| (i / 7) as u8).collect();
    assert_eq!(c.request(1, 1, 512, data.len() as u32, &data).0, 0);
    let (e, back) = c.request(0, 2, 512, data.len() as u32, &[]);
    assert_eq!((e, back == data), (0, true));
    assert_eq!(c.request(3, 3, 0, 0, &[]).0, 0, "flush");
    assert_eq!(c.request(0, 4, 100, 512, &[]).0, 22, "unaligned read");
    assert_eq!(c.request(0, 5, 1 << 20, 512, &[]).0, 22, "read past the end");
    assert_eq!(
        c.request(1, 6, 1 << 20, 512, &[0u8; 512]).0,
        28,
        "write past the end"
    );
    assert_eq!(c.request(4, 7, 0, 2 * PAGE as u32, &[]).0, 0, "trim");
    assert_eq!(c.request(6, 8, 2 * PAGE as u64, 512, &[]).0, 0, "write zeroes");
    let (e, back) = c.request(0, 9, 0, 4 * PAGE as u32, &[]);
    assert_eq!(e, 0);
    assert!(
        back[..2 * PAGE].iter().all(|&b| b == 0),
        "trimmed pages read as zeros"
    );
    assert!(back[2 * PAGE..2 * PAGE + 512].iter().all(|&b| b == 0));
    // The data went to byte 512 onwards: what is left of it past the zeroed sector.
    assert!(back[2 * PAGE + 512..3 * PAGE + 512] == data[2 * PAGE..]);
    assert!(back[3 * PAGE + 512..].iter().all(|&b| b == 0));
    assert_eq!(c.request(9, 10, 0, 0, &[]).0, 22, "unknown command");
    // Disconnect.
    c.0.write_all(&[0x25, 0x60, 0x95, 0x13, 0, 0, 0, 2]).unwrap();
    c.0.write_all(&[0u8; 20]).unwrap();

    // Old-style EXPORT_NAME of an unknown export: the server closes.
    let mut c = Client::connect(server.local_addr());
    c.option(1, b"other");
    let mut b = [0u8; 1];
    assert_eq!(c.0.read(&mut b).unwrap_or(0), 0);
    // ABORT.
    let mut c = Client::connect(server.local_addr());
    c.option(2, &[]);
    assert_eq!(c.reply(2).0, 1);
    // Garbage instead of a handshake: the connection is dropped, the server lives on.
    let mut g = TcpStream::connect(server.local_addr()).unwrap();
    g.write_all(&[0xff; 64]).unwrap();
    drop(g);
    let _c = Client::connect(server.local_addr());
    server.stop();
    assert!(dev.io_stat().invalid_io >= 2);
}

fn tool(name: &str) -> bool {
    let ok = Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        // In CI a missing client is a failure, not a skip: .ci/run installs qemu-utils.
        assert!(
            !std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0"),
            "{name} not found in CI (qemu-utils should be installed by .ci/run)"
        );
        println!("SKIPPED: {name} not found (install qemu-utils); the qemu end-to-end test did not run");
    }
    ok
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd} {args:?} failed: {text}");
    text
}

fn iaa_device(disksize: u64) -> Zram {
    let rt = RuntimeBuilder::new()
        .algorithm(Algorithm::Iaa(IaaMode::Fixed))
        .device(DeviceSpec::Emulated {
            profile: "iaa-spr".into(),
            config: EmuConfig::default(),
        })
        .build()
        .unwrap();
    ZramBuilder::new(disksize, rt).build().unwrap()
}

#[test]
fn qemu_clients_write_and_read_back() {
    if !tool("qemu-io") || !tool("qemu-img") {
        return;
    }
    const SIZE: u64 = 8 << 20;
    let dev = Arc::new(iaa_device(SIZE));
    let server = NbdServer::start(Arc::clone(&dev), NbdConfig::default()).unwrap();
    let url = server.url();

    // A pattern written by qemu-io, verified by qemu-io on a second connection.
    run("qemu-io", &["-f", "raw", "-c", "write -P 0x5a 0 1M", &url]);
    let out = run("qemu-io", &["-f", "raw", "-c", "read -P 0x5a 0 1M", &url]);
    assert!(!out.contains("verification failed"), "{out}");
    let mut page = vec![0u8; PAGE];
    dev.read(8 * 100, &mut page).unwrap();
    assert!(page.iter().all(|&b| b == 0x5a));
    assert_eq!(dev.mm_stat().same_pages, 256, "a pattern page is same-filled");

    // A sub-page write from a real client (read-modify-write inside the device).
    run("qemu-io", &["-f", "raw", "-c", "write -P 0x11 4608 1024", &url]);
    dev.read(8, &mut page).unwrap();
    assert!(page[..512].iter().all(|&b| b == 0x5a));
    assert!(page[512..1536].iter().all(|&b| b == 0x11));
    assert!(page[1536..].iter().all(|&b| b == 0x5a));

    // Corpus pages through qemu-img convert, compared by qemu-img and by hash.
    let pages = corpus((SIZE as usize) / PAGE);
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("corpus.img");
    std::fs::write(&img, pages.concat()).unwrap();
    let img = img.to_str().unwrap();
    run(
        "qemu-img",
        &["convert", "-n", "-f", "raw", "-O", "raw", img, &url],
    );
    let out = run("qemu-img", &["compare", "-f", "raw", "-F", "raw", img, &url]);
    assert!(out.contains("identical"), "{out}");
    for (i, p) in pages.iter().enumerate() {
        dev.read((i * 8) as u64, &mut page).unwrap();
        assert_eq!(hash(&page), hash(p), "page {i}");
    }

    // A discard from qemu-io frees whole pages.
    let before = dev.io_stat().notify_free;
    run("qemu-io", &["-f", "raw", "-c", "discard 0 64k", &url]);
    assert_eq!(dev.io_stat().notify_free - before, 16);
    let out = run("qemu-io", &["-f", "raw", "-c", "read -P 0 0 64k", &url]);
    assert!(!out.contains("verification failed"), "{out}");
    println!("mm_stat {}io_stat {}", dev.mm_stat(), dev.io_stat());
    server.stop();
}

#[test]
fn export_name_negotiation_and_connection_bound() {
    let dev = Arc::new(ZramBuilder::new(64 * 1024, software("lz4")).build().unwrap());
    let cfg = NbdConfig {
        max_connections: 1,
        export_name: "disk".into(),
        ..Default::default()
    };
    let server = NbdServer::start(Arc::clone(&dev), cfg).unwrap();
    assert!(server.url().ends_with("/disk"));

    // NBD_OPT_EXPORT_NAME: size and flags, no zeroes (negotiated away), then transmission.
    let mut c = Client::connect(server.local_addr());
    c.option(1, b"disk");
    assert_eq!(c.u64(), 64 * 1024);
    let flags = c.u16();
    assert_eq!(flags & 1, 1, "has flags");
    assert_ne!(flags & (1 << 5), 0, "trim");
    let page = vec![0x3cu8; PAGE];
    assert_eq!(c.request(1, 1, 0, PAGE as u32, &page).0, 0);
    assert_eq!(dev.mm_stat().same_pages, 1);

    // A second connection beyond the bound is closed at once.
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(server.connections(), 1);
    let mut extra = TcpStream::connect(server.local_addr()).unwrap();
    let mut b = [0u8; 8];
    assert_eq!(extra.read(&mut b).unwrap_or(0), 0);

    // Stopping the server closes the live connection too.
    server.stop();
    let mut b = [0u8; 1];
    assert_eq!(c.0.read(&mut b).unwrap_or(0), 0);
}

/// Whether the peer closed the socket (EOF or reset) within the socket's read timeout; a
/// timeout or data is "not closed".
fn closed(s: &mut TcpStream) -> bool {
    if s.read_timeout().unwrap().is_none() {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    }
    let mut b = [0u8; 64];
    loop {
        match s.read(&mut b) {
            Ok(0) => return true,
            // Whatever the server sent before closing (a greeting, a reply): keep reading.
            Ok(_) => continue,
            Err(e) => {
                return matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
                )
            }
        }
    }
}

/// Polls `cond` every 10 ms until it holds or `limit` passes; returns whether it held.
fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Negotiates with NBD_OPT_GO and checks one read of the first sector.
fn go_and_read(c: &mut Client) {
    c.option(7, &go_data("", &[]));
    assert_eq!(c.reply(7).0, 3, "export info");
    assert_eq!(c.reply(7).0, 1, "ack");
    let (e, d) = c.request(0, 1, 0, 512, &[]);
    assert_eq!((e, d.len()), (0, 512));
}

/// Runs a command, killing it after `limit`; returns (success, output).
fn run_bounded(cmd: &str, args: &[&str], limit: Duration) -> (bool, String) {
    let mut child = Command::new(cmd)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let end = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut text = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut text);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut text);
    }
    (status.is_some_and(|s| s.success()), text)
}

fn small_dev() -> Arc<Zram> {
    Arc::new(ZramBuilder::new(1 << 20, software("lz4")).build().unwrap())
}

#[test]
fn idle_sockets_do_not_lock_out_real_clients() {
    // Default limits (8 established clients): 10 raw TCP connections that never negotiate.
    let server = NbdServer::start(small_dev(), NbdConfig::default()).unwrap();
    let idle: Vec<TcpStream> = (0..10)
        .map(|_| TcpStream::connect(server.local_addr()).unwrap())
        .collect();
    assert!(wait_for(Duration::from_secs(5), || server.negotiating() == 10));
    // A client that negotiates is served at once (before: the ninth socket was closed).
    let t = Instant::now();
    let mut c = Client::connect(server.local_addr());
    go_and_read(&mut c);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!((server.established(), server.stats().established), (1, 1));
    if tool("qemu-io") {
        let (ok, out) = run_bounded(
            "qemu-io",
            &["-f", "raw", "-c", "read -P 0 0 64k", &server.url()],
            Duration::from_secs(30),
        );
        assert!(ok && !out.contains("verification failed"), "{out}");
        assert_eq!(server.stats().established, 2);
    }
    assert_eq!(server.stats().refused, 0);
    drop(idle);
    server.stop();
}

#[test]
fn handshake_timeout_frees_negotiation_slots() {
    let cfg = NbdConfig {
        max_handshakes: 4,
        handshake_timeout: Duration::from_millis(500),
        ..Default::default()
    };
    let server = NbdServer::start(small_dev(), cfg).unwrap();
    let mut idle: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(server.local_addr()).unwrap())
        .collect();
    assert!(wait_for(Duration::from_secs(5), || server.negotiating() == 4));
    // Every negotiation slot is taken: a fifth connection is closed at once.
    let mut extra = TcpStream::connect(server.local_addr()).unwrap();
    assert!(closed(&mut extra));
    assert_eq!(server.stats().refused, 1);
    // The idle ones are dropped when their handshake time is up, and their slots come back.
    assert!(wait_for(Duration::from_secs(5), || server.negotiating() == 0));
    for s in &mut idle {
        assert!(closed(s), "an idle socket was dropped");
    }
    assert_eq!(server.stats().handshake_timeouts, 4);
    let mut c = Client::connect(server.local_addr());
    go_and_read(&mut c);
    // Negotiation is timed as a whole: a client trickling options is dropped too.
    let mut slow = Client::connect(server.local_addr());
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(3) && server.stats().handshake_timeouts < 5 {
        // LIST every 100 ms, replies left unread: each write succeeds until the drop.
        if slow.0.write_all(&option_header(3, 0)).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert!(closed(&mut slow.0));
    assert_eq!(server.stats().handshake_timeouts, 5);
    server.stop();
}

#[test]
fn idle_timeout_in_transmission() {
    let cfg = NbdConfig {
        idle_timeout: Some(Duration::from_millis(300)),
        ..Default::default()
    };
    let server = NbdServer::start(small_dev(), cfg).unwrap();
    let mut c = Client::connect(server.local_addr());
    go_and_read(&mut c);
    assert_eq!(server.established(), 1);
    // Busy clients are not dropped: requests 100 ms apart for a second.
    for i in 0..10 {
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(c.request(0, 10 + i, 0, 512, &[]).0, 0);
    }
    // A silent one is.
    assert!(closed(&mut c.0));
    assert!(wait_for(Duration::from_secs(5), || server.established() == 0));
    assert_eq!(server.stats().idle_timeouts, 1);
    assert!(NbdServer::start(
        small_dev(),
        NbdConfig {
            idle_timeout: Some(Duration::ZERO),
            ..Default::default()
        }
    )
    .is_err());
    server.stop();
}

/// An option header claiming `len` bytes of data, without the data.
fn option_header(opt: u32, len: u32) -> Vec<u8> {
    let mut b = IHAVEOPT.to_be_bytes().to_vec();
    b.extend_from_slice(&opt.to_be_bytes());
    b.extend_from_slice(&len.to_be_bytes());
    b
}

#[test]
fn oversized_options_are_refused_and_free_the_slot() {
    // One negotiation slot: a connection pinned by a huge option would lock everyone out.
    let cfg = NbdConfig {
        max_handshakes: 1,
        ..Default::default()
    };
    let server = NbdServer::start(small_dev(), cfg).unwrap();

    // NBD_OPT_GO with length 2^32 - 1: NBD_REP_ERR_TOO_BIG, then the server closes.
    let mut c = Client::connect(server.local_addr());
    c.0.write_all(&option_header(7, u32::MAX)).unwrap();
    let (kind, _) = c.reply(7);
    assert_eq!(kind, (1 << 31) | 9, "NBD_REP_ERR_TOO_BIG");
    assert!(closed(&mut c.0));
    assert!(wait_for(Duration::from_secs(5), || server.negotiating() == 0));
    assert_eq!(server.stats().oversized_options, 1);

    // NBD_OPT_EXPORT_NAME has no error reply: closed.
    let mut c = Client::connect(server.local_addr());
    c.0.write_all(&option_header(1, u32::MAX)).unwrap();
    assert!(closed(&mut c.0));
    assert!(wait_for(Duration::from_secs(5), || server.negotiating() == 0));

    // An option a little over the limit is skipped: negotiation goes on.
    let mut c = Client::connect(server.local_addr());
    c.option(6, &vec![0u8; 10 * 1024]);
    assert_eq!(c.reply(6).0, (1 << 31) | 9);
    c.option(3, &[]);
    assert_eq!(c.reply(3).0, 2);
    assert_eq!(c.reply(3).0, 1);
    go_and_read(&mut c);
    assert_eq!(server.stats().oversized_options, 3);
    // An export name of the protocol's 4096-byte maximum is not "too big" (just unknown).
    let mut c = Client::connect(server.local_addr());
    c.option(6, &go_data(&"x".repeat(4096), &[]));
    assert_eq!(c.reply(6).0, (1 << 31) | 6);
    assert_eq!(server.stats().oversized_options, 3);
    server.stop();
}

#[test]
fn oversized_requests_are_refused() {
    let dev = small_dev();
    let server = NbdServer::start(Arc::clone(&dev), NbdConfig::default()).unwrap();
    let mut c = Client::connect(server.local_addr());
    go_and_read(&mut c);
    // A 64 MiB read: EINVAL, the connection goes on.
    assert_eq!(c.request(0, 2, 0, 64 << 20, &[]).0, 22);
    assert_eq!(c.request(0, 3, 0, 4096, &[]).0, 0);
    // A 64 MiB write (header only, its payload is not coming): EINVAL, then closed rather than
    // waiting for 64 MiB.
    assert_eq!(c.request(1, 4, 0, 64 << 20, &[]).0, 22);
    assert!(closed(&mut c.0));
    assert_eq!(server.stats().oversized_requests, 2);
    assert!(wait_for(Duration::from_secs(5), || server.connections() == 0));
    // The largest payload advertised (32 MiB) is below the limit: a read that long past the
    // 1 MiB device is refused by the device (EINVAL), not by the bound.
    let mut c = Client::connect(server.local_addr());
    go_and_read(&mut c);
    assert_eq!(c.request(0, 5, 0, 32 << 20, &[]).0, 22);
    assert_eq!(server.stats().oversized_requests, 2);
    server.stop();
}
