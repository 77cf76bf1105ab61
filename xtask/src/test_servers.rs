//! The servers and clients the network tests start on loopback, installed
//! when missing (CI machines are fresh): PostgreSQL and `nats-server` from
//! Debian's packages, moto (the CloudWatch Logs API) from PyPI into
//! `target/tools/moto`, and the OpenTelemetry Python SDK with its OTLP/HTTP
//! exporter (a client the `otlp` source's tests did not write) into
//! `target/tools/otel`.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::language_sinks::{apt_install, has, python_venv, tools};
use crate::run;

/// The moto release the CloudWatch tests were written against.
const MOTO: &str = "5.2.5";

/// The OpenTelemetry Python SDK release the `otlp` source was tested with
/// (the exporter is released with it, same version).
const OPENTELEMETRY_SDK: &str = "1.45.2";

/// Installs whatever is missing.
pub(crate) fn ensure(root: &Path) -> Result<()> {
    let mut packages = Vec::new();
    let postgres = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| {
            dirs.flatten()
                .any(|d| d.path().join("bin/postgres").exists())
        })
        .unwrap_or(false);
    if !postgres {
        packages.extend(["postgresql", "postgresql-client"]);
    }
    if !has("nats-server") {
        packages.push("nats-server");
    }
    if !has("runuser") {
        packages.push("util-linux");
    }
    // `sinkbox top` is tested in a real terminal.
    if !has("tmux") {
        packages.push("tmux");
    }
    if !packages.is_empty() {
        apt_install(&packages)?;
    }
    moto(root)?;
    opentelemetry_sdk(root)
}

fn opentelemetry_sdk(root: &Path) -> Result<()> {
    let venv = tools(root).join("otel");
    let installed = Command::new(venv.join("bin").join("pip"))
        .args(["show", "opentelemetry-exporter-otlp-proto-http"])
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout).contains(&format!("Version: {OPENTELEMETRY_SDK}"))
        });
    if installed {
        return Ok(());
    }
    let pip = python_venv(&venv)?;
    run(Command::new(&pip)
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .arg(format!("opentelemetry-sdk=={OPENTELEMETRY_SDK}"))
        .arg(format!(
            "opentelemetry-exporter-otlp-proto-http=={OPENTELEMETRY_SDK}"
        )))
}

fn moto(root: &Path) -> Result<()> {
    let venv = tools(root).join("moto");
    let installed = Command::new(venv.join("bin").join("pip"))
        .args(["show", "moto"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("Version: {MOTO}")));
    if installed && venv.join("bin").join("moto_server").exists() {
        return Ok(());
    }
    let pip = python_venv(&venv)?;
    run(Command::new(&pip)
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .arg(format!("moto[server]=={MOTO}")))
}
