//! The fault-injection suite (run by scripts/faults.sh): release builds of alertrouter as
//! separate processes on a throwaway Postgres, a fake webhook receiver and a load that behaves
//! like Alertmanager, all on 127.0.0.1; each scenario injects one fault at a set time and prints
//! one row — what was answered 2xx, what was lost, what came twice, how late, how long to
//! recover. Exits non-zero when any row breaks a promise (a 2xx not stored, a page lost, a 4xx,
//! a step fired twice, a duplicate the sender did not count).

mod cluster;
mod failover;
mod fake;
mod load;
mod providers;
mod rude;
mod scenarios;
mod slack_outage;
mod soak;
mod stage;
mod verdict;

use std::path::PathBuf;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "Runs alertrouter's fault scenarios and prints the table")]
struct Args {
    /// The alertrouter binary (a release build).
    #[arg(long, default_value = "target/release/alertrouter")]
    bin: PathBuf,
    /// The throwaway Postgres' data folder (stopped and started by scripts/pg.sh).
    #[arg(long)]
    pg_dir: PathBuf,
    #[arg(long)]
    pg_port: u16,
    /// Where each scenario's configuration and replica logs go.
    #[arg(long, default_value = ".data/faults")]
    work: PathBuf,
    /// The bounded versions (CI).
    #[arg(long)]
    short: bool,
    /// Also append each row as a JSON line to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Instead of the scenarios: a soak of this many minutes, sampled every minute.
    #[arg(long)]
    soak: Option<u64>,
    /// Where the soak's chart goes.
    #[arg(long, default_value = ".data/faults/soak.svg")]
    svg: PathBuf,
    /// Scenarios to run (default: all).
    scenarios: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let ctx = stage::Ctx {
        bin: std::fs::canonicalize(&args.bin)?,
        pg: cluster::Pg {
            dir: args.pg_dir,
            port: args.pg_port,
        },
        work: std::path::absolute(&args.work)?,
        short: args.short,
    };
    if let Some(minutes) = args.soak {
        return soak::soak(&ctx, minutes, &args.svg).await;
    }
    let names: Vec<String> = if args.scenarios.is_empty() {
        scenarios::all().into_iter().map(String::from).collect()
    } else {
        args.scenarios
    };
    println!("{}", verdict::HEADER);
    let mut broken = Vec::new();
    for name in &names {
        eprintln!("faults: {name}...");
        let row = scenarios::run(&ctx, name).await?;
        println!("{}", row.markdown());
        if let Some(path) = &args.json {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            writeln!(f, "{}", serde_json::to_string(&row)?)?;
        }
        let problems = row.broken();
        if !problems.is_empty() {
            broken.push(format!("{}: {}", row.scenario, problems.join("; ")));
        }
    }
    if !broken.is_empty() {
        for b in &broken {
            eprintln!("faults: BROKEN {b}");
        }
        std::process::exit(1);
    }
    Ok(())
}
