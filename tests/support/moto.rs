//! Runs moto server (from the project's `.venv`, see `scripts/test-env`) once
//! per test binary on a free port of 127.0.0.1, and points the AWS SDK at it.
//!
//! The server dies with the test binary: its launcher exits when its stdin,
//! held open here for the whole run, closes. `scripts/sandbox` runs one the
//! same way, held by its stand-ins process (examples/sandbox.rs).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use payrun::provider::aws::{AwsProvider, AwsSettings};
use serde_json::{Value, json};

pub struct Moto {
    pub endpoint: String,
    // Held so the launcher's stdin stays open until the process exits.
    _child: Mutex<Child>,
    _stdin: Mutex<ChildStdin>,
}

static MOTO: OnceLock<Moto> = OnceLock::new();

impl Moto {
    /// The launcher's process id, which the sandbox records
    /// (examples/sandbox.rs); the tests have no use for it.
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self._child.lock().unwrap().id()
    }
}

pub const REGION: &str = "us-east-1";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A moto server of its own, with the project's extensions, answering
/// until this process exits.
pub fn launch() -> Moto {
    let python = root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test-env first",
        python.display()
    );
    let mut child = Command::new(&python)
        .arg(root().join("tests/support/moto_launcher.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto launcher starts");
    let stdin = child.stdin.take().expect("launcher stdin");
    let stdout = child.stdout.take().expect("launcher stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("launcher reports its port");
    let port: u16 = line
        .trim()
        .strip_prefix("PORT ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("moto launcher said {line:?} instead of its port"));
    let endpoint = format!("http://127.0.0.1:{port}");
    wait_until_answering(port);
    Moto {
        endpoint,
        _child: Mutex::new(child),
        _stdin: Mutex::new(stdin),
    }
}

fn wait_until_answering(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto did not answer on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The environment a payrun process needs to reach moto (with
/// `--endpoint-url`): dummy credentials, the region, and no instance
/// metadata or profile files that could answer instead.
pub fn client_env() -> [(&'static str, &'static str); 6] {
    [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", REGION),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/dev/null"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
    ]
}

/// The emulator, started on first use; sets dummy credentials and the region
/// for the SDK's default chain.
pub fn moto() -> &'static Moto {
    MOTO.get_or_init(|| {
        // SAFETY: set once, before any provider in this binary reads the
        // environment, and every test sets the same values.
        unsafe {
            std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
            std::env::set_var("AWS_REGION", REGION);
            std::env::remove_var("AWS_PROFILE");
            std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
            std::env::set_var("AWS_CONFIG_FILE", "/dev/null");
            std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
        }
        launch()
    })
}

/// A provider talking to the emulator, with its own call counts.
pub fn provider() -> AwsProvider {
    AwsProvider::new(AwsSettings {
        region: Some(REGION.into()),
        endpoint_url: Some(moto().endpoint.clone()),
        profile: None,
        // Long enough for moto's transient answers; a call moto keeps
        // failing should fail a test in seconds, not minutes.
        retry_budget: Some(std::time::Duration::from_secs(15)),
        request_timeout: None,
    })
}

/// A plain EC2 client on the emulator, to check what exists without going
/// through the provider.
pub async fn ec2() -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&sdk_config().await)
}

/// The SDK configuration of the emulator, for clients of any service.
pub async fn sdk_config() -> aws_types::SdkConfig {
    sdk_config_at(&moto().endpoint).await
}

/// The SDK configuration of the emulator at `endpoint`.
pub async fn sdk_config_at(endpoint: &str) -> aws_types::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_types::region::Region::new(REGION))
        .endpoint_url(endpoint)
        .load()
        .await
}

/// POSTs `body` to the own API (`/moto-api/...`) of the emulator at
/// `endpoint`, which configures what it answers.
pub fn moto_api_at(endpoint: &str, path: &str, body: &str) {
    use std::io::{Read, Write};
    let addr = endpoint.trim_start_matches("http://").to_string();
    let mut conn = std::net::TcpStream::connect(&addr).expect("moto answers");
    write!(
        conn,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("request sent");
    let mut reply = String::new();
    conn.read_to_string(&mut reply).expect("reply read");
    assert!(
        reply.starts_with("HTTP/1.1 2") || reply.starts_with("HTTP/1.0 2"),
        "moto-api {path}: {reply}"
    );
}

/// A manifest whose digest differs per `seed`; moto stores it as is.
pub fn manifest(seed: u8) -> String {
    let hex = format!("{seed:02x}").repeat(32);
    json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": { "mediaType": "application/vnd.docker.container.image.v1+json", "size": 1024, "digest": format!("sha256:{hex}") },
        "layers": [{ "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 2048, "digest": format!("sha256:{hex}") }],
    })
    .to_string()
}

/// What DescribeImageScanFindings answers for `repository:tag`, set through
/// moto's API (otherwise moto answers one fixed HIGH finding, CVE-9999-9999,
/// for every image).
pub fn scan_result(repository: &str, tag: &str, counts: Value, cves: &[(&str, &str)]) {
    scan_result_at(&moto().endpoint, repository, tag, counts, cves);
}

/// [`scan_result`] on the emulator at `endpoint`.
pub fn scan_result_at(
    endpoint: &str,
    repository: &str,
    tag: &str,
    counts: Value,
    cves: &[(&str, &str)],
) {
    let findings: Vec<Value> = cves
        .iter()
        .map(|(name, severity)| json!({ "name": name, "severity": severity, "uri": "https://cve.example", "attributes": [] }))
        .collect();
    let result = json!({
        "results": [{
            "registryId": "123456789012",
            "repositoryName": repository,
            "imageId": { "imageTag": tag },
            "imageScanStatus": { "status": "COMPLETE", "description": "The scan was completed successfully." },
            "imageScanFindings": { "findings": findings, "findingSeverityCounts": counts },
        }],
        "region": REGION,
    });
    moto_api_at(
        endpoint,
        "/moto-api/static/ecr/scan-finding-results",
        &result.to_string(),
    );
}

/// What a pipeline does while apply waits at the scan gates: as soon as
/// each `(repository, tag)` exists on the emulator at `endpoint`, its image
/// is pushed with a clean scan. Returns once all are pushed or `give_up`
/// says so (asked between rounds); the repositories pushed, in order.
pub async fn push_when_created(
    endpoint: &str,
    images: &[(String, String)],
    mut give_up: impl FnMut() -> bool,
) -> Vec<String> {
    let ecr = aws_sdk_ecr::Client::new(&sdk_config_at(endpoint).await);
    let mut pushed = Vec::new();
    while pushed.len() < images.len() && !give_up() {
        for (seed, (repo, tag)) in images.iter().enumerate() {
            if pushed.contains(repo) {
                continue;
            }
            let exists = ecr
                .describe_repositories()
                .repository_names(repo)
                .send()
                .await
                .is_ok();
            if exists {
                scan_result_at(endpoint, repo, tag, json!({}), &[]);
                let put = ecr
                    .put_image()
                    .repository_name(repo)
                    .image_tag(tag)
                    .image_manifest(manifest(40 + u8::try_from(seed).unwrap_or(0)))
                    .send()
                    .await;
                // Pushed already (by a pipeline beside an apply that was
                // killed): the image is there.
                if let Err(e) = put {
                    use aws_sdk_ecr::error::ProvideErrorMetadata;
                    let code = e
                        .as_service_error()
                        .and_then(|e| e.code())
                        .map(str::to_string);
                    assert_eq!(
                        code.as_deref(),
                        Some("ImageAlreadyExistsException"),
                        "{e:?}"
                    );
                }
                pushed.push(repo.clone());
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    pushed
}
