//! The processes behind `scripts/sandbox`, built with `cargo build --example
//! sandbox` (payrun's own build does not include it). It runs the stand-ins
//! the tests use, from tests/support/, outside a test binary:
//!
//! - `sandbox serve DIR`: moto with the project's extensions, the Kubernetes
//!   API stand-in (its kubeconfig in `DIR/kubeconfig`, context `standin`)
//!   and the helm stand-in (`DIR/helm/helm`). Once both servers answer it
//!   writes `DIR/pids` (this process, then moto's launcher) and last
//!   `DIR/endpoint` (moto's URL), then serves until it is killed; moto's
//!   launcher exits with it.
//! - `sandbox push ENDPOINT REPOSITORY:TAG...`: the pipeline a platform has
//!   beside an apply: each image is pushed, with a clean scan, as soon as
//!   its repository exists on moto at ENDPOINT.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

// The tests use what the sandbox does not.
#[allow(dead_code)]
#[path = "../tests/support/helm_standin.rs"]
mod helm_standin;
#[allow(dead_code)]
#[path = "../tests/support/kube_standin.rs"]
mod kube_standin;
#[allow(dead_code)]
#[path = "../tests/support/moto.rs"]
mod moto;

/// How long `push` waits for the repositories (an apply that failed
/// before creating them leaves it nothing to wait for).
const PUSH_PATIENCE: Duration = Duration::from_secs(600);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["serve", dir] => serve(Path::new(dir)),
        ["push", endpoint, images @ ..] if !images.is_empty() => push(endpoint, images),
        _ => {
            eprintln!("usage: sandbox serve DIR | sandbox push ENDPOINT REPOSITORY:TAG...");
            ExitCode::from(2)
        }
    }
}

fn serve(dir: &Path) -> ExitCode {
    std::fs::create_dir_all(dir).unwrap();
    let moto = moto::launch();
    let _kube = kube_standin::KubeStandIn::start_in(dir);
    helm_standin::HelmStandIn::write_to(&dir.join("helm"));
    let pids = format!("{}\n{}\n", std::process::id(), moto.pid());
    std::fs::write(dir.join("pids"), pids).unwrap();
    std::fs::write(dir.join("endpoint"), format!("{}\n", moto.endpoint)).unwrap();
    loop {
        std::thread::park();
    }
}

fn push(endpoint: &str, images: &[&str]) -> ExitCode {
    let mut wanted = Vec::new();
    for image in images {
        let Some((repository, tag)) = image.split_once(':') else {
            eprintln!("sandbox push: {image:?} is not REPOSITORY:TAG");
            return ExitCode::from(2);
        };
        wanted.push((repository.to_string(), tag.to_string()));
    }
    let start = Instant::now();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let pushed = runtime.block_on(moto::push_when_created(endpoint, &wanted, || {
        start.elapsed() > PUSH_PATIENCE
    }));
    for (repository, tag) in &wanted {
        if pushed.contains(repository) {
            println!("pushed {repository}:{tag} (scan: no findings)");
        } else {
            eprintln!(
                "sandbox push: repository {repository} did not appear within {}s",
                PUSH_PATIENCE.as_secs()
            );
        }
    }
    if pushed.len() == wanted.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
