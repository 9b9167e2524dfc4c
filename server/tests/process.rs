//! The `vitrine` binary as an operator runs it: it starts its own
//! nats-server, and a SIGKILL of the server does not leave that child
//! orphaned holding its port and its JetStream store.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const DEMO_PRODUCT: &str = r#""name":"Walnut desk lamp""#;

fn get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

fn start(data: &Path, port: u16) -> Child {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .current_dir(workspace)
        .env("VITRINE_DATA_DIR", data)
        .env("VITRINE_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if get(port, "/health").is_some_and(|r| r.contains("\"status\":\"ok\"")) {
            return child;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("vitrine did not become healthy on port {port}");
}

/// The pids of `pid`'s direct children, from /proc.
fn children(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            if let Ok(list) = std::fs::read_to_string(task.path().join("children")) {
                found.extend(
                    list.split_whitespace()
                        .filter_map(|p| p.parse::<u32>().ok()),
                );
            }
        }
    }
    found
}

fn alive(pid: u32) -> bool {
    // A zombie has been killed; only its parent's wait is missing.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.contains(") Z "))
        .unwrap_or(false)
}

#[test]
fn a_killed_server_takes_its_nats_server_with_it_and_restarts_on_the_same_data() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = start(data.path(), port);
    // The demo shop is created before the server answers; its read records
    // follow through the pipeline.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !get(port, "/api/products?q=walnut+desk+lamp").is_some_and(|c| c.contains(DEMO_PRODUCT)) {
        assert!(Instant::now() < deadline, "demo data on first start");
        std::thread::sleep(Duration::from_millis(200));
    }

    let nats: Vec<u32> = children(server.id())
        .into_iter()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| c.contains("nats-server"))
        })
        .collect();
    assert_eq!(nats.len(), 1, "one embedded nats-server child");
    let nats = nats[0];

    server.kill().unwrap(); // SIGKILL: no chance to clean up
    server.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(nats) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !alive(nats),
        "nats-server {nats} outlived the killed server"
    );

    // Same data directory: the catalog is still there, not created twice.
    let port = free_port();
    let mut server = start(data.path(), port);
    let catalog = get(port, "/api/products?q=walnut+desk+lamp").unwrap();
    assert_eq!(catalog.matches(DEMO_PRODUCT).count(), 1);
    server.kill().unwrap();
    server.wait().unwrap();
}
