//! Storages for tests: every warehouse test runs on a local directory, in memory and in
//! an S3 bucket on a real S3-compatible server (moto, from PyPI, installed by
//! `scripts/setup.sh`) started on loopback for the test. Compiled for this crate's
//! tests and, with the `test-support` feature, for other crates' tests and benchmarks.

use std::future::Future;
use std::path::Path;

use crate::Storage;

/// An S3-compatible server on loopback, stopped when dropped.
#[derive(Debug)]
pub struct S3Server {
    child: std::process::Child,
    endpoint: String,
}

impl S3Server {
    /// Starts moto on a free port and waits until it answers.
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start moto (pip install 'moto[server]'): {error}"));
        let server = Self { child, endpoint: format!("http://127.0.0.1:{port}") };
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < std::time::Duration::from_secs(60), "moto did not start within 60 s");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        server
    }

    /// The settings that point an S3 client at this server, as `AWS_*` variables.
    pub fn environment(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "opsflux-test".into()),
            ("AWS_SECRET_ACCESS_KEY", "opsflux-test-secret".into()),
        ]
    }

    /// The storage at `location` (`s3://bucket/prefix`) on this server.
    pub fn storage(&self, location: &str) -> Storage {
        let settings: Vec<(String, String)> =
            self.environment().into_iter().map(|(name, value)| (name.to_ascii_lowercase(), value)).collect();
        let settings: Vec<(&str, &str)> =
            settings.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
        Storage::open_with(Path::new(location), &settings).unwrap()
    }

    /// Creates `bucket` (with the AWS SDK for Python, which moto comes with).
    pub fn create_bucket(&self, bucket: &str) {
        let script = "import boto3, sys; boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', \
                      aws_access_key_id='opsflux-test', aws_secret_access_key='opsflux-test-secret')\
                      .create_bucket(Bucket=sys.argv[2])";
        let output =
            std::process::Command::new("python3").args(["-c", script, &self.endpoint, bucket]).output().unwrap();
        assert!(output.status.success(), "creating bucket {bucket}: {}", String::from_utf8_lossy(&output.stderr));
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `check` on an empty warehouse storage of each kind, named `local`, `memory`
/// and `s3`. A new `Warehouse` on a clone of the storage is what a new process opening
/// the same location gets.
pub async fn on_every_storage<F, Fut>(check: F)
where
    F: Fn(Storage, &'static str) -> Fut,
    Fut: Future<Output = ()>,
{
    let directory = tempfile::tempdir().unwrap();
    check(Storage::open(directory.path()).unwrap(), "local").await;
    check(Storage::in_memory(), "memory").await;
    let server = S3Server::start();
    server.create_bucket("warehouse");
    check(server.storage("s3://warehouse/tests"), "s3").await;
}
