//! A private PostgreSQL cluster started from the PostgreSQL binaries on this machine:
//! `initdb` once, then `pg_ctl start`, with logical replication enabled and a private
//! port on loopback. `opsflux demo` keeps one under `./data/`; tests start a throwaway
//! one per test binary.

use std::ffi::OsStr;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Why a cluster could not be started or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// `initdb`/`pg_ctl` were found nowhere.
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found on PATH, in $OPSFLUX_PG_BIN \
         or under /usr/lib/postgresql/*/bin. Install them with `apt-get install -y postgresql` \
         (Debian/Ubuntu), or set OPSFLUX_PG_BIN to the directory holding initdb"
    )]
    BinariesMissing,
    /// PostgreSQL refuses to run as root, and the `postgres` user to run it as is missing.
    #[error(
        "PostgreSQL cannot run as root and there is no `postgres` user to run it as: create one (`useradd -r postgres`) or run opsflux as an ordinary user"
    )]
    NoUnprivilegedUser,
    /// The data directory lies where the `postgres` user cannot reach it.
    #[error(
        "the `postgres` user cannot reach {path}: PostgreSQL runs as that user because this process runs as root; give it access to every parent directory (e.g. `chmod o+x`) or choose a data directory under /var/lib or /tmp"
    )]
    NotAccessible { path: PathBuf },
    /// A command of the PostgreSQL tool set failed.
    #[error("`{command}` failed ({status}): {output}")]
    CommandFailed { command: String, status: String, output: String },
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
}

/// The directory holding `initdb`, `pg_ctl` and `postgres`.
#[derive(Debug, Clone)]
pub struct Binaries {
    directory: PathBuf,
}

impl Binaries {
    /// Looks in `$OPSFLUX_PG_BIN`, then `PATH`, then Debian's `/usr/lib/postgresql/<version>/bin`
    /// (the newest), since Debian's packages do not put the server tools on PATH.
    pub fn find() -> Result<Self, ClusterError> {
        let has_tools = |directory: &Path| directory.join("initdb").is_file() && directory.join("pg_ctl").is_file();
        if let Some(directory) = std::env::var_os("OPSFLUX_PG_BIN").map(PathBuf::from) {
            return if has_tools(&directory) { Ok(Self { directory }) } else { Err(ClusterError::BinariesMissing) };
        }
        let on_path =
            std::env::var_os("PATH").map(|path| std::env::split_paths(&path).collect::<Vec<_>>()).unwrap_or_default();
        if let Some(directory) = on_path.into_iter().find(|directory| has_tools(directory)) {
            return Ok(Self { directory });
        }
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
                let directory = entry.path().join("bin");
                has_tools(&directory).then_some((version, directory))
            })
            .collect();
        versions.sort();
        versions.pop().map(|(_, directory)| Self { directory }).ok_or(ClusterError::BinariesMissing)
    }

    pub fn directory(&self) -> &Path {
        &self.directory
    }
}

/// How a cluster is set up.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Holds `pgdata/` and `postgres.log`; created when missing.
    pub directory: PathBuf,
    /// Loopback port; `None` picks a free one.
    pub port: Option<u16>,
    /// Whether commits must survive a power cut. Tests turn it off for speed.
    pub durable: bool,
}

/// A running cluster. Connect as user `opsflux` (trusted on loopback).
#[derive(Debug)]
pub struct Cluster {
    binaries: Binaries,
    directory: PathBuf,
    port: u16,
    /// Set when this process runs as root and PostgreSQL runs as `postgres`.
    run_as: Option<String>,
}

/// The superuser every private cluster is created with.
pub const SUPERUSER: &str = "opsflux";

impl Cluster {
    /// Creates the cluster if `pgdata/` does not exist yet, writes its settings, and starts
    /// it unless it is already running (then it is reused as it is).
    pub fn start(options: &ClusterOptions) -> Result<Self, ClusterError> {
        let binaries = Binaries::find()?;
        let directory = absolute(&options.directory)?;
        std::fs::create_dir_all(&directory).map_err(|source| ClusterError::Io {
            what: "cannot create",
            path: directory.clone(),
            source,
        })?;
        let run_as = if running_as_root(&directory) { Some(unprivileged_user()?) } else { None };
        if let Some(user) = &run_as {
            // Everything PostgreSQL later creates inside is already the user's own, so
            // the whole tree is handed over only before the cluster exists.
            let mut chown = Command::new("chown");
            if !directory.join("pgdata").join("PG_VERSION").exists() {
                chown.arg("-R");
            }
            run(chown.arg(format!("{user}:")).arg(&directory))?;
            grant_traversal(user, &directory)?;
            if !user_can(user, "-w", &directory) {
                return Err(ClusterError::NotAccessible { path: directory });
            }
        }
        let cluster = Cluster { binaries, directory, port: 0, run_as };
        let pgdata = cluster.pgdata();
        if !pgdata.join("PG_VERSION").exists() {
            run(cluster.tool("initdb").arg("-D").arg(&pgdata).args([
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-instructions",
            ]))?;
            let conf = pgdata.join("postgresql.conf");
            let mut text = std::fs::read_to_string(&conf).map_err(|source| ClusterError::Io {
                what: "cannot read",
                path: conf.clone(),
                source,
            })?;
            text.push_str("\n# Settings written by opsflux on every start.\ninclude_if_exists = 'opsflux.conf'\n");
            std::fs::write(&conf, text).map_err(|source| ClusterError::Io {
                what: "cannot write",
                path: conf.clone(),
                source,
            })?;
        }
        if let Some(port) = cluster.running_port() {
            return Ok(Cluster { port, ..cluster });
        }
        let port = match options.port {
            Some(port) => port,
            None => free_port().map_err(|source| ClusterError::Io {
                what: "cannot find a free port near",
                path: "127.0.0.1".into(),
                source,
            })?,
        };
        let durability =
            if options.durable { "" } else { "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n" };
        let settings = format!(
            "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = ''\n\
             wal_level = logical\nmax_replication_slots = 20\nmax_wal_senders = 20\n\
             max_connections = 200\nshared_buffers = 512MB\nmaintenance_work_mem = 256MB\n\
             logical_decoding_work_mem = 1GB\nmax_wal_size = 4GB\n{durability}"
        );
        let settings_path = pgdata.join("opsflux.conf");
        std::fs::write(&settings_path, settings).map_err(|source| ClusterError::Io {
            what: "cannot write",
            path: settings_path.clone(),
            source,
        })?;
        if let Some(user) = &cluster.run_as {
            run(Command::new("chown").arg(format!("{user}:")).arg(&settings_path))?;
        }
        let log = cluster.directory.join("postgres.log");
        run(cluster.tool("pg_ctl").arg("-D").arg(&pgdata).arg("-l").arg(&log).args(["-w", "-t", "120", "start"]))
            .map_err(|error| match error {
                ClusterError::CommandFailed { command, status, output } => ClusterError::CommandFailed {
                    command,
                    status,
                    output: format!("{output}\n--- {} (last lines) ---\n{}", log.display(), tail(&log, 20)),
                },
                other => other,
            })?;
        Ok(Cluster { port, ..cluster })
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn directory(&self) -> &Path {
        &self.directory
    }

    /// A connection URL for `database` on this cluster.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }

    /// Stops the server (fast shutdown: sessions are ended, the data is kept).
    pub fn stop(&self) -> Result<(), ClusterError> {
        run(self.tool("pg_ctl").arg("-D").arg(self.pgdata()).args(["-m", "fast", "-w", "stop"])).map(|_| ())
    }

    /// Starts a watchdog that stops the server and removes its directory once process
    /// `pid` has exited, however it exits (even killed): tests use it so that no cluster
    /// outlives its test binary.
    pub fn remove_when_process_exits(&self, pid: u32) -> Result<(), ClusterError> {
        let pg_ctl = self.binaries.directory.join("pg_ctl");
        let stop = match &self.run_as {
            Some(user) => format!(
                "runuser -u {user} -- '{}' -D '{}' -m immediate -w stop",
                pg_ctl.display(),
                self.pgdata().display()
            ),
            None => format!("'{}' -D '{}' -m immediate -w stop", pg_ctl.display(), self.pgdata().display()),
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf '{}'",
            self.directory.display()
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(|_| ())
            .map_err(|source| ClusterError::Io {
                what: "cannot start the watchdog for",
                path: self.directory.clone(),
                source,
            })
    }

    fn pgdata(&self) -> PathBuf {
        self.directory.join("pgdata")
    }

    /// The port of an already running server of this cluster, from its `postmaster.pid`.
    fn running_port(&self) -> Option<u16> {
        let running = self
            .tool("pg_ctl")
            .arg("-D")
            .arg(self.pgdata())
            .arg("status")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()?
            .success();
        if !running {
            return None;
        }
        // Line 4 of postmaster.pid is the port.
        let pid_file = std::fs::read_to_string(self.pgdata().join("postmaster.pid")).ok()?;
        pid_file.lines().nth(3)?.trim().parse().ok()
    }

    /// A PostgreSQL tool, run as the unprivileged user when this process is root.
    fn tool(&self, name: &str) -> Command {
        let program = self.binaries.directory.join(name);
        match &self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program);
                command
            }
            None => Command::new(program),
        }
    }
}

fn run(command: &mut Command) -> Result<String, ClusterError> {
    let describe = |command: &Command| {
        std::iter::once(command.get_program())
            .chain(command.get_args())
            .map(OsStr::to_string_lossy)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let output = command.stdin(Stdio::null()).output().map_err(|source| ClusterError::Io {
        what: "cannot run",
        path: PathBuf::from(command.get_program()),
        source,
    })?;
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    if output.status.success() {
        Ok(text)
    } else {
        Err(ClusterError::CommandFailed {
            command: describe(command),
            status: output.status.to_string(),
            output: text.trim().to_owned(),
        })
    }
}

fn absolute(path: &Path) -> Result<PathBuf, ClusterError> {
    std::path::absolute(path).map_err(|source| ClusterError::Io {
        what: "cannot resolve",
        path: path.to_owned(),
        source,
    })
}

/// Whether this process runs as root, read from the owner of `/proc/self` (no unsafe
/// call needed). Falls back to the owner of a directory just created by this process.
fn running_as_root(created: &Path) -> bool {
    std::fs::metadata("/proc/self").or_else(|_| std::fs::metadata(created)).is_ok_and(|metadata| metadata.uid() == 0)
}

/// Whether `user` passes `test FLAG path`.
fn user_can(user: &str, flag: &str, path: &Path) -> bool {
    Command::new("runuser")
        .args(["-u", user, "--", "test", flag])
        .arg(path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Lets `user` traverse (not list) the parent directories of `directory` that stop it,
/// such as a clone made with `mktemp -d` (mode 700), so that a demo run as root from
/// anywhere works. Each change is logged.
fn grant_traversal(user: &str, directory: &Path) -> Result<(), ClusterError> {
    use std::os::unix::fs::PermissionsExt;
    let mut ancestors: Vec<&Path> = directory.ancestors().skip(1).collect();
    ancestors.reverse();
    for ancestor in ancestors {
        if user_can(user, "-x", ancestor) {
            continue;
        }
        let metadata = std::fs::metadata(ancestor).map_err(|source| ClusterError::Io {
            what: "cannot read",
            path: ancestor.to_owned(),
            source,
        })?;
        let mut permissions = metadata.permissions();
        permissions.set_mode(permissions.mode() | 0o001);
        std::fs::set_permissions(ancestor, permissions).map_err(|source| ClusterError::Io {
            what: "cannot open for traversal",
            path: ancestor.to_owned(),
            source,
        })?;
        tracing::info!(path = %ancestor.display(), "let the {user} user traverse this directory (o+x) to reach PostgreSQL's data");
    }
    Ok(())
}

fn unprivileged_user() -> Result<String, ClusterError> {
    let exists = Command::new("id")
        .args(["-u", "postgres"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if exists { Ok("postgres".to_owned()) } else { Err(ClusterError::NoUnprivilegedUser) }
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
