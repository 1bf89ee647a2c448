//! Records what the binary was built from, for `--version`, `/readyz` and
//! `alertrouter_build_info`: the commit (`ALERTROUTER_COMMIT` when set, as container builds do
//! without a `.git`, else `git rev-parse`) and the schema it expects (the newest migration).

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=ALERTROUTER_COMMIT");
    println!("cargo:rerun-if-changed=migrations");
    // The commit changes when HEAD moves or the branch it names does.
    for path in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let commit = std::env::var("ALERTROUTER_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            let out = Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=ALERTROUTER_COMMIT={commit}");
    let schema = std::fs::read_dir("migrations")
        .expect("the migrations folder")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.split('_').next()?.parse::<u64>().ok()
        })
        .max()
        .unwrap_or(0);
    println!("cargo:rustc-env=ALERTROUTER_SCHEMA={schema}");
}
