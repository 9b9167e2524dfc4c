//! The embedded default for NATS: a real `nats-server` with JetStream on disk
//! under the data directory, started as a child process when no NATS URL is
//! configured, stopped on exit, and killed by the kernel if we are killed
//! (PR_SET_PDEATHSIG), so it never outlives us holding its port and store.

use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum NatsServerError {
    #[error("cannot start nats-server from {bin:?} (is it installed? `make tools` installs it): {source}")]
    Spawn { bin: PathBuf, source: io::Error },
    #[error("cannot prepare the JetStream directory {dir:?}: {source}")]
    Dir { dir: PathBuf, source: io::Error },
    #[error("nats-server did not accept connections on port {port} within {secs} s")]
    NotReady { port: u16, secs: u64 },
    #[error("nats-server exited at start ({0}); see nats-server.log in the data directory")]
    Exited(std::process::ExitStatus),
}

/// A running child nats-server; stopped (SIGTERM, then SIGKILL) on drop.
#[derive(Debug)]
pub struct EmbeddedNats {
    child: Child,
    pub url: String,
    bin: PathBuf,
    conf: PathBuf,
    port: u16,
}

/// A port the OS says is free now. Another process could take it before
/// nats-server binds it; `start` then fails clearly rather than share a port.
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl EmbeddedNats {
    /// Must be called from a thread that lives as long as the server (the
    /// main thread): PR_SET_PDEATHSIG fires when the spawning *thread* exits.
    pub fn start(
        bin: &Path,
        data_dir: &Path,
        sync_interval: &str,
    ) -> Result<Self, NatsServerError> {
        let dir = data_dir.join("nats");
        std::fs::create_dir_all(&dir).map_err(|source| NatsServerError::Dir {
            dir: dir.clone(),
            source,
        })?;
        let port = free_port().map_err(|source| NatsServerError::Spawn {
            bin: bin.to_owned(),
            source,
        })?;
        // A config file, because sync_interval has no command-line flag.
        let conf = dir.join("nats-server.conf");
        let store_dir = dir.join("jetstream");
        let text = format!(
            "listen: \"127.0.0.1:{port}\"\nserver_name: vitrine_embedded\nlog_file: {log:?}\njetstream {{\n  store_dir: {store:?}\n  sync_interval: {sync}\n}}\n",
            store = store_dir.display().to_string(),
            log = dir.join("nats-server.log").display().to_string(),
            sync = sync_interval,
        );
        std::fs::write(&conf, text).map_err(|source| NatsServerError::Dir {
            dir: dir.clone(),
            source,
        })?;

        let child = spawn(bin, &conf, port)?;
        tracing::info!(port, dir = %store_dir.display(), "started embedded nats-server");
        Ok(EmbeddedNats {
            child,
            url: format!("nats://127.0.0.1:{port}"),
            bin: bin.to_owned(),
            conf,
            port,
        })
    }

    /// Kills nats-server with SIGKILL, as a crash would (tests).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts nats-server again on the same port and store (tests).
    pub fn restart(&mut self) -> Result<(), NatsServerError> {
        self.kill();
        self.child = spawn(&self.bin, &self.conf, self.port)?;
        Ok(())
    }
}

fn spawn(bin: &Path, conf: &Path, port: u16) -> Result<Child, NatsServerError> {
    let mut command = Command::new(bin);
    command
        .arg("-c")
        .arg(conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    set_parent_death_signal(&mut command);
    let mut child = command.spawn().map_err(|source| NatsServerError::Spawn {
        bin: bin.to_owned(),
        source,
    })?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(NatsServerError::Exited(status));
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(child);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(NatsServerError::NotReady { port, secs: 15 });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for EmbeddedNats {
    fn drop(&mut self) {
        // SIGTERM lets JetStream flush and close its store cleanly.
        #[allow(unsafe_code)]
        // SAFETY: kill(2) on our own child's pid, which we have not reaped yet.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(target_os = "linux")]
fn set_parent_death_signal(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    #[allow(unsafe_code)]
    // SAFETY: prctl and getppid are async-signal-safe; nothing else runs
    // between fork and exec here.
    unsafe {
        let parent = libc::getpid();
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before prctl: then exit now.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn set_parent_death_signal(_command: &mut Command) {}
