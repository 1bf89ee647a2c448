//! The `alertrouter` command line: it parses arguments and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use alertrouter::clock::SystemClock;
use alertrouter::config::{EnvLookup, Role, Settings, process_env};
use alertrouter::{store, telemetry};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    version = alertrouter::build_info::VERSION_LINE,
    about = "Routes Prometheus Alertmanager alerts to the people on call"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service: the webhook receiver, health and metrics, and the workers.
    Serve {
        #[command(flatten)]
        config: ConfigArg,
        /// all: API and workers; api: the HTTP API only; worker: the workers (and health, metrics).
        #[arg(long, value_enum, default_value = "all", env = "ALERTROUTER_ROLE")]
        role: Role,
    },
    /// Apply the database migrations and exit.
    Migrate(ConfigArg),
    /// Print the JSON Schema of a configuration file (for editors and CI linters).
    ConfigSchema {
        #[arg(value_enum)]
        file: alertrouter::config::reference::ConfigFile,
    },
    /// Print the configuration reference (docs/configuration.md) as Markdown.
    ConfigReference,
    /// Write the state that matters (incidents and their chains, the outbox, report drafts, the
    /// audit log, overrides, maintenance windows, …) as JSON lines, read in one snapshot.
    Export {
        #[command(flatten)]
        config: ConfigArg,
        /// Where to write; - for standard output.
        #[arg(long, short, default_value = "-")]
        output: String,
    },
    /// Restore an export into an empty database (migrating it first), all or nothing.
    Import {
        #[command(flatten)]
        config: ConfigArg,
        /// The export; - for standard input.
        file: String,
    },
    /// Ask a running alertrouter whether it is ready; exit 0 if it is (a container health check
    /// that needs no shell or curl in the image).
    Health {
        /// What to ask.
        #[arg(long, default_value = "http://127.0.0.1:9095/readyz")]
        url: String,
    },
    /// Validate the configuration and print a one-line summary.
    CheckConfig {
        #[command(flatten)]
        config: ConfigArg,
        /// A secret file that does not exist is an error (by default a warning naming it).
        #[arg(long)]
        strict: bool,
    },
    /// Dry run: route a webhook body and print the incidents and paging plans it would make.
    Simulate {
        #[command(flatten)]
        config: ConfigArg,
        /// A webhook body as Alertmanager sends it.
        #[arg(long)]
        payload: PathBuf,
        /// When the incident opens (RFC 3339); default now.
        #[arg(long)]
        at: Option<DateTime<Utc>>,
    },
    /// Who is on call, now or at a given time.
    Oncall {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        schedule: Option<String>,
        /// RFC 3339; default now.
        #[arg(long)]
        at: Option<DateTime<Utc>>,
    },
    /// API tokens for scripts and bots.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Incident reports, from the database the config names.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
}

#[derive(Subcommand)]
enum ReportCommand {
    /// Print an incident's report draft as it stands now.
    Incident {
        #[command(flatten)]
        config: ConfigArg,
        /// INC-202611251900, INC-42 or an id.
        incident: String,
        /// en or zh-CN (default: reports.locale).
        #[arg(long)]
        locale: Option<String>,
        /// md or json.
        #[arg(long, default_value = "md")]
        format: String,
    },
    /// Print a month's report: the paging path's availability, incidents, response times,
    /// noisy alerts, missed targets and weekly trends.
    Monthly {
        #[command(flatten)]
        config: ConfigArg,
        /// 2026-11 (in reports.time_zone); default: last month.
        #[arg(long)]
        month: Option<String>,
        /// en or zh-CN (default: reports.locale).
        #[arg(long)]
        locale: Option<String>,
        /// md, html (with charts, one self-contained file) or json.
        #[arg(long, default_value = "md")]
        format: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Mint an HS256 token from api.jwt.hs256_secret and print it.
    Issue {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        sub: String,
        /// admin, sre, developer or viewer.
        #[arg(long)]
        role: String,
        /// What a developer owns, comma-separated.
        #[arg(long, value_delimiter = ',')]
        services: Vec<String>,
        /// Lifetime, at most api.jwt.max_lifetime.
        #[arg(long, default_value = "1h")]
        ttl: String,
    },
}

#[derive(clap::Args)]
struct ConfigArg {
    /// alertrouter.yaml; defaults to ./alertrouter.yaml when it exists.
    #[arg(long, env = "ALERTROUTER_CONFIG")]
    config: Option<PathBuf>,
}

impl ConfigArg {
    fn load(&self) -> Result<Settings, String> {
        self.load_with(&process_env)
    }

    fn load_with(&self, env: EnvLookup<'_>) -> Result<Settings, String> {
        Settings::load(self.path().as_deref(), env).map_err(|e| format!("config error: {e}"))
    }

    /// Loads what needs no secrets: a missing secret file is a warning, returned.
    fn load_without_secrets(&self, env: EnvLookup<'_>) -> Result<(Settings, Vec<String>), String> {
        Settings::load_without_secrets(self.path().as_deref(), env)
            .map_err(|e| format!("config error: {e}"))
    }

    /// `--config`, else `./alertrouter.yaml` if it exists.
    fn path(&self) -> Option<PathBuf> {
        let default = PathBuf::from("alertrouter.yaml");
        self.config
            .clone()
            .or_else(|| default.exists().then_some(default))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("alertrouter: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(command: Command) -> Result<(), String> {
    match command {
        Command::CheckConfig {
            config: arg,
            strict,
        } => {
            let settings = if strict {
                arg.load_with(&offline_env)?
            } else {
                let (settings, warnings) = arg.load_without_secrets(&offline_env)?;
                for w in warnings {
                    eprintln!("warning: {w}");
                }
                settings
            };
            settings
                .require_integrations()
                .map_err(|e| format!("config error: {e}"))?;
            println!("config OK: {}", settings.summary());
            Ok(())
        }
        Command::Simulate {
            config,
            payload,
            at,
        } => {
            let (settings, _) = config.load_without_secrets(&offline_env)?;
            let body =
                std::fs::read(&payload).map_err(|e| format!("{}: {e}", payload.display()))?;
            let text =
                alertrouter::simulate::simulate(&settings, &body, at.unwrap_or_else(Utc::now))?;
            print!("{text}");
            Ok(())
        }
        Command::Oncall {
            config,
            schedule,
            at,
        } => {
            let (settings, _) = config.load_without_secrets(&offline_env)?;
            let text = alertrouter::simulate::oncall(
                &settings,
                schedule.as_deref(),
                at.unwrap_or_else(Utc::now),
            )?;
            print!("{text}");
            Ok(())
        }
        Command::Token {
            command:
                TokenCommand::Issue {
                    config,
                    sub,
                    role,
                    services,
                    ttl,
                },
        } => {
            let settings = config.load_with(&offline_env)?;
            let secret = settings
                .api
                .jwt
                .hs256_secret
                .as_ref()
                .ok_or("api.jwt.hs256_secret is not configured")?;
            if !["admin", "sre", "developer", "viewer"].contains(&role.as_str()) {
                return Err(format!(
                    "--role {role:?} is not admin, sre, developer or viewer"
                ));
            }
            let ttl =
                alertrouter::config::parse_duration(&ttl).map_err(|e| format!("--ttl: {e}"))?;
            if ttl > settings.api.jwt.max_lifetime {
                return Err(format!(
                    "--ttl is longer than api.jwt.max_lifetime ({} s)",
                    settings.api.jwt.max_lifetime.as_secs()
                ));
            }
            let now = Utc::now().timestamp();
            let claims = alertrouter::http::api::auth::Claims {
                sub,
                role,
                services,
                exp: now + ttl.as_secs() as i64,
                iat: Some(now),
                nbf: None,
                iss: settings.api.jwt.issuer.clone(),
                aud: settings.api.jwt.audience.clone(),
            };
            use secrecy::ExposeSecret;
            let token = alertrouter::http::api::auth::issue(secret.expose_secret(), &claims)?;
            println!("{token}");
            Ok(())
        }
        Command::Report { command } => {
            let text = match command {
                ReportCommand::Incident {
                    config,
                    incident,
                    locale,
                    format,
                } => {
                    let (settings, _) = config.load_without_secrets(&process_env)?;
                    alertrouter::workers::reports::incident_command(
                        &settings,
                        &incident,
                        locale.as_deref(),
                        &format,
                    )
                    .await?
                }
                ReportCommand::Monthly {
                    config,
                    month,
                    locale,
                    format,
                } => {
                    let (settings, _) = config.load_without_secrets(&process_env)?;
                    alertrouter::service::monthly::monthly_command(
                        &settings,
                        month.as_deref(),
                        locale.as_deref(),
                        &format,
                    )
                    .await?
                }
            };
            print!("{text}");
            Ok(())
        }
        Command::Health { url } => {
            let client = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(3))
                .build()
                .map_err(|e| e.to_string())?;
            let response = client
                .get(&url)
                .send()
                .await
                .map_err(|e| format!("{url}: {e}"))?;
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            println!("{body}");
            match status.is_success() {
                true => Ok(()),
                false => Err(format!("{url}: {status}")),
            }
        }
        Command::Migrate(arg) => {
            let settings = arg.load()?;
            telemetry::init(&settings.log);
            let pool = store::pool(&settings.database).map_err(|e| e.to_string())?;
            store::migrate(&pool)
                .await
                .map_err(|e| format!("migration failed: {e}"))?;
            println!("migrations applied: {}", store::MIGRATOR.iter().count());
            Ok(())
        }
        Command::ConfigSchema { file } => {
            let schema = serde_json::to_string_pretty(&file.schema()).map_err(|e| e.to_string())?;
            print_to_pipe(&(schema + "\n"))
        }
        Command::ConfigReference => print_to_pipe(&alertrouter::config::reference::markdown()),
        Command::Export { config, output } => {
            let pool = database(&config)?;
            let summary = alertrouter::backup::export_command(&pool, &output).await?;
            eprintln!("exported {summary}");
            Ok(())
        }
        Command::Import { config, file } => {
            let pool = database(&config)?;
            let summary = alertrouter::backup::import_command(&pool, &file).await?;
            println!("imported {summary}");
            Ok(())
        }
        Command::Serve { config, role } => {
            let mut settings = config.load()?;
            settings.role = role;
            settings
                .require_integrations()
                .map_err(|e| format!("config error: {e}"))?;
            telemetry::init(&settings.log);
            let listener = tokio::net::TcpListener::bind(settings.listen)
                .await
                .map_err(|e| format!("cannot listen on {}: {e}", settings.listen))?;
            let app = alertrouter::App::new(settings, Arc::new(SystemClock))
                .map_err(|e| e.to_string())?;
            app.set_config_loader(Box::new(move || config.load()));
            tokio::spawn(reload_on_sighup(app.clone()));
            alertrouter::serve(app, listener, shutdown_signal())
                .await
                .map_err(|e| format!("{e:#}"))
        }
    }
}

/// Re-reads the config, routes, policies and credentials on SIGHUP. A config that does not
/// validate is refused and logged; the running one stays.
async fn reload_on_sighup(app: Arc<alertrouter::App>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            // Failures are logged and counted by `reload_config`.
            let _ = app.reload_config();
        }
    }
    #[cfg(not(unix))]
    let _ = app;
}

/// Writes `text` to standard output; a reader that stopped early (`| head`) is not an error.
fn print_to_pipe(text: &str) -> Result<(), String> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("stdout: {e}")),
        _ => Ok(()),
    }
}

/// The database of the config, for commands that need nothing else (no secrets are read).
fn database(config: &ConfigArg) -> Result<sqlx::PgPool, String> {
    let (settings, _) = config.load_without_secrets(&process_env)?;
    store::pool(&settings.database).map_err(|e| format!("database: {e}"))
}

/// The environment for commands that only read files: they need no database, so a missing URL
/// is stood in for.
fn offline_env(name: &str) -> Option<String> {
    process_env(name).or_else(|| (name == "DATABASE_URL").then(|| "postgres://(not-set)".into()))
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received: finishing requests in flight");
}
