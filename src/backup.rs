//! `alertrouter export` and `alertrouter import`: the state that matters — incidents with their
//! alerts, timelines and escalation chains, the outbox (so a restored system neither re-sends
//! what was sent nor forgets what was due), Slack threads, report drafts, the audit log, API
//! schedule overrides, maintenance windows, SMS opt-outs, action links and heartbeats — as JSON
//! lines: a header naming the format and schema, one line per row, and an end line with the
//! counts, so a truncated file is refused instead of half-restored.
//!
//! The export reads one snapshot while the service keeps running. The import migrates the
//! target, refuses a database that holds anything, and writes everything in one transaction.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufRead, Write};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::build_info;
use crate::store::backup::{self as sql, BackupError, TABLES};

/// The `format` every export's first line names.
pub const FORMAT: &str = "alertrouter-export";
/// This layout of lines; an import refuses another.
pub const FORMAT_VERSION: u32 = 1;
/// Rows written per statement on import.
const BATCH: usize = 500;

/// The first line of an export.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub format_version: u32,
    /// The schema (newest migration) of the database it was read from.
    pub schema: i64,
    pub version: String,
    pub commit: String,
    pub exported_at: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Line {
    Row {
        table: String,
        row: serde_json::Map<String, serde_json::Value>,
    },
    End {
        end: BTreeMap<String, u64>,
    },
}

/// Rows per table, in [`TABLES`] order, and what was left out on the way.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub rows: Vec<(String, u64)>,
    /// `table.column` the file has and this schema does not (dropped by a later release).
    pub skipped_columns: Vec<String>,
}

impl Summary {
    /// Rows in all tables.
    pub fn total(&self) -> u64 {
        self.rows.iter().map(|(_, n)| n).sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tables: Vec<String> = self
            .rows
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(t, n)| format!("{t} {n}"))
            .collect();
        write!(f, "{} rows ({})", self.total(), tables.join(", "))?;
        if !self.skipped_columns.is_empty() {
            write!(
                f,
                "; columns this schema no longer has, skipped: {}",
                self.skipped_columns.join(", ")
            )?;
        }
        Ok(())
    }
}

fn schema() -> i64 {
    build_info::SCHEMA.parse().unwrap_or(0)
}

/// Writes the export of `pool`'s database to `out`.
pub async fn export(
    pool: &PgPool,
    out: &mut impl Write,
    now: DateTime<Utc>,
) -> Result<Summary, BackupError> {
    let mut tx = sql::snapshot(pool).await?;
    let header = Header {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        schema: schema(),
        version: build_info::VERSION.into(),
        commit: build_info::COMMIT.into(),
        exported_at: now,
    };
    serde_json::to_writer(&mut *out, &header).map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    let mut summary = Summary::default();
    for (table, _) in TABLES {
        let n = sql::each_row(&mut tx, table, |row| {
            writeln!(out, "{{\"table\":\"{table}\",\"row\":{row}}}")
        })
        .await?;
        summary.rows.push((table.to_string(), n));
    }
    let end: BTreeMap<&str, u64> = summary.rows.iter().map(|(t, n)| (t.as_str(), *n)).collect();
    serde_json::to_writer(&mut *out, &serde_json::json!({ "end": end }))
        .map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    out.flush()?;
    tx.commit().await?;
    Ok(summary)
}

/// Rows of one table waiting to be written together.
struct Pending {
    table: String,
    columns: Vec<String>,
    rows: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// Restores an export from `input` into `pool`'s database, which must be empty; nothing is
/// written unless all of it is.
pub async fn import(pool: &PgPool, input: impl BufRead) -> Result<Summary, BackupError> {
    let bad = |n: usize, what: String| BackupError::Format(format!("line {n}: {what}"));
    let mut lines = input.lines();
    let first = lines
        .next()
        .ok_or_else(|| BackupError::Format("the file is empty".into()))??;
    let header: Header = serde_json::from_str(&first)
        .map_err(|e| bad(1, format!("not an alertrouter export header ({e})")))?;
    if header.format != FORMAT || header.format_version != FORMAT_VERSION {
        return Err(bad(
            1,
            format!(
                "format {:?} version {}, this binary reads {FORMAT:?} version {FORMAT_VERSION}",
                header.format, header.format_version
            ),
        ));
    }
    if header.schema > schema() {
        return Err(bad(
            1,
            format!(
                "exported from schema {} ({} {}), this binary knows schema {}: import it with \
                 a release at least as new as the one that wrote it",
                header.schema,
                header.version,
                header.commit,
                schema()
            ),
        ));
    }
    crate::store::migrate(pool)
        .await
        .map_err(|e| BackupError::Format(format!("migration failed: {e}")))?;
    let mut tx = pool.begin().await?;
    sql::unlimited(&mut tx).await?;
    if let Some(table) = sql::first_nonempty(&mut tx).await? {
        return Err(BackupError::Format(format!(
            "the database is not empty (table {table} has rows): import restores into an \
             empty database; nothing was imported"
        )));
    }

    let mut summary = Summary::default();
    // Rows written per table so far.
    let mut written: BTreeMap<String, u64> = BTreeMap::new();
    let mut pending: Option<Pending> = None;
    let mut position = 0; // index in TABLES of the table being read
    let mut ended = false;
    for (i, line) in lines.enumerate() {
        let n = i + 2;
        let line = line?;
        if ended {
            return Err(bad(n, "a line after the end line".into()));
        }
        match serde_json::from_str::<Line>(&line)
            .map_err(|e| bad(n, format!("neither a row nor the end line ({e})")))?
        {
            Line::Row { table, row } => {
                if pending.as_ref().is_none_or(|p| p.table != table) {
                    flush(&mut tx, pending.take(), &mut written).await?;
                    let at = TABLES
                        .iter()
                        .position(|(t, _)| *t == table)
                        .ok_or_else(|| bad(n, format!("unknown table {table:?}")))?;
                    if at < position || written.contains_key(&table) {
                        return Err(bad(n, format!("{table} out of order")));
                    }
                    position = at;
                    let known = sql::columns(&mut tx, &table).await?;
                    let (columns, skipped): (Vec<String>, Vec<String>) =
                        row.keys().cloned().partition(|k| known.contains(k));
                    summary
                        .skipped_columns
                        .extend(skipped.iter().map(|c| format!("{table}.{c}")));
                    pending = Some(Pending {
                        table,
                        columns,
                        rows: Vec::new(),
                    });
                }
                let batch = pending.as_mut().expect("set above");
                batch.rows.push(row);
                if batch.rows.len() >= BATCH {
                    write(&mut tx, batch, &mut written).await?;
                }
            }
            Line::End { end } => {
                flush(&mut tx, pending.take(), &mut written).await?;
                for (table, _) in TABLES {
                    let wrote = written.get(*table).copied().unwrap_or(0);
                    let said = end.get(*table).copied().unwrap_or(0);
                    if wrote != said {
                        return Err(bad(
                            n,
                            format!(
                                "the end line counts {said} {table} rows, the file has {wrote}"
                            ),
                        ));
                    }
                }
                ended = true;
            }
        }
    }
    if !ended {
        return Err(BackupError::Format(
            "the file ends before its end line (truncated?); nothing was imported".into(),
        ));
    }
    sql::reset_identities(&mut tx).await?;
    tx.commit().await?;
    summary.rows = TABLES
        .iter()
        .map(|(t, _)| (t.to_string(), written.get(*t).copied().unwrap_or(0)))
        .collect();
    Ok(summary)
}

async fn flush(
    conn: &mut sqlx::PgConnection,
    pending: Option<Pending>,
    written: &mut BTreeMap<String, u64>,
) -> Result<(), BackupError> {
    if let Some(mut batch) = pending {
        write(conn, &mut batch, written).await?;
    }
    Ok(())
}

async fn write(
    conn: &mut sqlx::PgConnection,
    batch: &mut Pending,
    written: &mut BTreeMap<String, u64>,
) -> Result<(), BackupError> {
    let rows = serde_json::Value::Array(
        batch
            .rows
            .drain(..)
            .map(serde_json::Value::Object)
            .collect(),
    );
    let n = if batch.columns.is_empty() {
        0
    } else {
        sql::insert(conn, &batch.table, &batch.columns, &rows.to_string())
            .await
            .map_err(|e| BackupError::Format(format!("writing {} rows: {e}", batch.table)))?
    };
    *written.entry(batch.table.clone()).or_default() += n;
    Ok(())
}

/// `alertrouter export`: to `output` (`-` is standard output); a file is written whole or not
/// at all (it is renamed into place once complete).
pub async fn export_command(pool: &PgPool, output: &str) -> Result<Summary, String> {
    let now = Utc::now();
    if output == "-" {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        return export(pool, &mut out, now).await.map_err(|e| e.to_string());
    }
    let partial = format!("{output}.partial");
    let file = std::fs::File::create(&partial).map_err(|e| format!("{partial}: {e}"))?;
    let mut out = std::io::BufWriter::new(file);
    match export(pool, &mut out, now).await {
        Ok(summary) => {
            drop(out);
            std::fs::rename(&partial, output).map_err(|e| format!("{output}: {e}"))?;
            Ok(summary)
        }
        Err(e) => {
            drop(out);
            let _ = std::fs::remove_file(&partial);
            Err(e.to_string())
        }
    }
}

/// `alertrouter import`: from `input` (`-` is standard input).
pub async fn import_command(pool: &PgPool, input: &str) -> Result<Summary, String> {
    let result = if input == "-" {
        import(pool, std::io::stdin().lock()).await
    } else {
        let file = std::fs::File::open(input).map_err(|e| format!("{input}: {e}"))?;
        import(pool, std::io::BufReader::new(file)).await
    };
    result.map_err(|e| format!("{input}: {e}"))
}
