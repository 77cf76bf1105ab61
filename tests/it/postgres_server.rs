//! A throwaway PostgreSQL server on loopback for the `postgres` sink's
//! tests: Debian's binaries, a fresh data directory, scram passwords. As
//! root (CI), the server runs as the `postgres` user through `runuser`,
//! since PostgreSQL refuses to run as root.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::support::free_port;

/// The superuser's password in every test server.
pub const PASSWORD: &str = "pg-sinkbox-test-Secret-41";

/// One running server; stopped and deleted on drop.
pub struct PostgresServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// `-c name=value` for each setting it was started with.
    settings: String,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

fn bin_dir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed: `cargo xtask test` installs it (apt-get install postgresql)")
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("postgres").exists())
        .collect();
    found.sort();
    found.pop().expect("no /usr/lib/postgresql/*/bin/postgres")
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

impl PostgresServer {
    /// Initialises a cluster and starts it.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Initialises a cluster and starts it with these `name=value`
    /// settings besides the usual ones.
    pub fn start_with(settings: &[&str]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("sinkbox-pg-")
            .tempdir_in("/tmp")
            .unwrap();
        let server = Self {
            bin: bin_dir(),
            settings: settings.iter().map(|s| format!(" -c {s}")).collect(),
            port: free_port(),
            dir,
        };
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(server.dir.path(), std::fs::Permissions::from_mode(0o777))
            .unwrap();
        let pwfile = server.dir.path().join("pw");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        std::fs::set_permissions(&pwfile, std::fs::Permissions::from_mode(0o644)).unwrap();
        server.as_server_user(
            "initdb",
            &[
                "-D".as_ref(),
                server.data().as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "--auth-local=trust".as_ref(),
                "--auth-host=scram-sha-256".as_ref(),
                format!("--pwfile={}", pwfile.display()).as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--no-sync".as_ref(),
            ],
        );
        server.pg_ctl_start();
        server
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn as_server_user(&self, program: &str, args: &[&std::ffi::OsStr]) -> Output {
        let program = self.bin.join(program);
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let output = command
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
        assert!(
            output.status.success(),
            "{} failed: {}{}",
            program.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    fn pg_ctl_start(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off -c full_page_writes=off{}",
            self.port,
            self.dir.path().display(),
            self.settings
        );
        let log = self.dir.path().join("server.log");
        self.as_server_user(
            "pg_ctl",
            &[
                "-D".as_ref(),
                self.data().as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "start".as_ref(),
            ],
        );
    }

    /// Stops the server at once (in-flight transactions are lost, as in a
    /// crash), then starts it again on the same port.
    pub fn restart_after(&self, down_for: std::time::Duration) {
        self.stop();
        std::thread::sleep(down_for);
        self.pg_ctl_start();
    }

    fn stop(&self) {
        self.as_server_user(
            "pg_ctl",
            &[
                "-D".as_ref(),
                self.data().as_os_str(),
                "-m".as_ref(),
                "immediate".as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ],
        );
    }

    /// The sink options that reach this server as the superuser, with the
    /// password from the secret `pg`.
    pub fn sink_toml(&self) -> String {
        format!(
            "host = \"127.0.0.1\"\nport = {}\nuser = \"postgres\"\ndatabase = \"postgres\"\npassword = \"${{secret:pg}}\"\nsslmode = \"disable\"\n",
            self.port
        )
    }

    /// Runs `sql` with psql and gives its unaligned, tuples-only output.
    pub fn query(&self, sql: &str) -> String {
        let output = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .arg("-p")
            .arg(self.port.to_string())
            .env("PGPASSWORD", PASSWORD)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    /// The server's own log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.stop()));
    }
}
